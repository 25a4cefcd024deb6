package org.fwmerge.baseline;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fwmerge.MergeResult;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.internal.Parallel;
import org.fwmerge.io.TensorReader;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/** Shared plumbing of the baselines: output allocation, the one-shot result, chunked loops. */
final class Support {

    /** Elements moved per bulk get/set: the streaming passes' chunk. */
    static final int CHUNK = org.fwmerge.internal.Kernels.CHUNK;

    private Support() {
    }

    /**
     * anchor + scaling·v rounded as the reference backend's {@code scale} then {@code axpy} round it
     * (the product to float32, then the sum), so the swept TIES and DARE give what the tensor-at-a-time
     * versions gave.
     */
    static float anchored(float anchor, double scaling, float v) {
        return (float) ((float) (scaling * v) + (double) anchor);
    }

    /** A writable model of zeros with the base's shapes for {@code names}; nothing is loaded. */
    static Model zeros(ModelPool pool, List<String> names, TensorBackend backend, String source) {
        Map<String, Tensor> t = new LinkedHashMap<>();
        try {
            for (String name : names) {
                t.put(name, backend.zeros(pool.base().info(name).shape()));
            }
        } catch (RuntimeException e) {
            t.values().forEach(Tensor::close);
            throw e;
        }
        return Model.of(source, backend, t);
    }

    /** The result of a one-shot merge (no iterations): the model, its method and settings, the pool it read. */
    static MergeResult result(Model out, String method, Map<String, String> settings, ModelPool pool, long startNanos) {
        return MergeResult.builder(out, method).settings(settings).pool(pool).elapsed(since(startNanos)).build();
    }

    static Duration since(long startNanos) {
        return Duration.ofNanos(System.nanoTime() - startNanos);
    }

    /** Writes zeros into every element of {@code t}, chunk by chunk (safe even if it held non-finite values). */
    static void fillZero(TensorBackend b, Tensor t) {
        float[] zero = new float[(int) Math.min(CHUNK, Math.max(1, t.size()))];
        for (long off = 0; off < t.size(); off += zero.length) {
            int len = (int) Math.min(zero.length, t.size() - off);
            b.set(t, off, zero, 0, len);
        }
    }

    /** @return {@code value} if finite, else IllegalArgumentException naming the setting */
    static double finite(double value, String name) {
        if (!Double.isFinite(value)) {
            throw new IllegalArgumentException(name + " must be finite, got " + value);
        }
        return value;
    }

    /** Elements per block of {@link #gram}: blocks run in parallel, their partial sums are added in block order. */
    private static final int GRAM_BLOCK = 1 << 20;

    /**
     * The Gram matrix ⟨τ_i, τ_j⟩ in double of src[0..n): with {@code differences}, τ_i = src[i] − src[n] (the
     * base last), else τ_i = src[i] (src[n] unread). Blocks run in parallel and are added in block order, so
     * the result does not depend on the core count.
     */
    static double[][] gram(TensorReader[] src, boolean differences) {
        int n = src.length - 1;
        long size = src[n].size();
        int blocks = (int) Math.max(1, (size + GRAM_BLOCK - 1) / GRAM_BLOCK);
        List<double[][]> parts = Parallel.items(blocks, q -> {
            float[][] tau = new float[n][CHUNK];
            float[] base = new float[CHUNK];
            double[][] g = new double[n][n];
            long end = Math.min(size, (long) (q + 1) * GRAM_BLOCK);
            for (long off = (long) q * GRAM_BLOCK; off < end; off += CHUNK) {
                int len = (int) Math.min(CHUNK, end - off);
                if (differences) {
                    src[n].read(off, base, 0, len);
                }
                for (int i = 0; i < n; i++) {
                    src[i].read(off, tau[i], 0, len);
                    if (differences) {
                        for (int k = 0; k < len; k++) {
                            tau[i][k] -= base[k];
                        }
                    }
                }
                for (int i = 0; i < n; i++) {
                    for (int j = i; j < n; j++) {
                        double s = 0;
                        for (int k = 0; k < len; k++) {
                            s += (double) tau[i][k] * tau[j][k];
                        }
                        g[i][j] += s;
                    }
                }
            }
            return g;
        });
        double[][] g = new double[n][n];
        for (double[][] p : parts) {
            for (int i = 0; i < n; i++) {
                for (int j = i; j < n; j++) {
                    g[i][j] += p[i][j];
                    g[j][i] = g[i][j];
                }
            }
        }
        return g;
    }
}
