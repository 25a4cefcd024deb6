package org.fwmerge.internal;

import org.fwmerge.io.TensorReader;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/**
 * Linear combinations streamed chunk by chunk: the merged tensor is formed in one pass over its
 * sources, each element summed in double and rounded to float32 once, one range per core. The
 * sources are readers, so a checkpoint's tensor is never held whole and an in-memory one
 * ({@link TensorReader#of}) is read in place.
 */
public final class Combine {

    /** A thread's chunk buffers (1 MiB): FW-soft forms its point hundreds of times per iteration. */
    private record Buffers(float[] in, double[] acc, float[] res) {
    }

    private static final Scratch<Buffers> BUFFERS = new Scratch<>(
            () -> new Buffers(new float[Kernels.CHUNK], new double[Kernels.CHUNK], new float[Kernels.CHUNK]));

    private Combine() {
    }

    /** {@code out ← Σ_j w[j]·src[j]} (sources of {@code out}'s size; {@code out} may be read by none). */
    public static void into(Tensor out, double[] w, TensorReader... src) {
        if (w.length != src.length) {
            throw new IllegalArgumentException(w.length + " weights for " + src.length + " sources");
        }
        for (TensorReader r : src) {
            if (r.size() != out.size()) {
                throw new IllegalArgumentException("source of " + r.size() + " elements for a tensor of " + out.size());
            }
        }
        Parallel.ranges(out.size(), (from, to) -> {
            Buffers buffers = BUFFERS.take();
            try {
                combine(out, w, src, from, to, buffers);
            } finally {
                BUFFERS.give(buffers);
            }
            return null;
        });
    }

    private static void combine(Tensor out, double[] w, TensorReader[] src, long from, long to, Buffers buffers) {
        TensorBackend b = out.backend();
        float[] in = buffers.in();
        double[] acc = buffers.acc();
        float[] res = buffers.res();
        for (long off = from; off < to; off += Kernels.CHUNK) {
            int len = (int) Math.min(Kernels.CHUNK, to - off);
            java.util.Arrays.fill(acc, 0, len, 0);
            for (int j = 0; j < src.length; j++) {
                src[j].read(off, in, 0, len);
                double wj = w[j];
                for (int k = 0; k < len; k++) {
                    acc[k] += wj * in[k];
                }
            }
            for (int k = 0; k < len; k++) {
                res[k] = (float) acc[k];
            }
            b.set(out, off, res, 0, len);
        }
    }
}
