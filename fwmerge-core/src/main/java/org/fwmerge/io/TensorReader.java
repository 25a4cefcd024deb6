package org.fwmerge.io;

import java.util.Objects;
import org.fwmerge.internal.Kernels;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/**
 * Chunked access to one tensor's values converted to float32: what the merging kernels consume, so
 * that a candidate tensor is never held whole. Obtained from {@link Checkpoint#reader(String)};
 * thread-safe (several threads may read different ranges at once); {@link #close()} releases what
 * the reader holds.
 */
public interface TensorReader extends AutoCloseable {

    /** Number of elements of the tensor. */
    long size();

    /**
     * Copies elements {@code [offset, offset + length)} of the tensor, converted to float32, into
     * {@code dst[dstOffset …]}.
     *
     * @throws IndexOutOfBoundsException    if the range lies outside the tensor or {@code dst}
     * @throws java.io.UncheckedIOException if reading the file fails
     */
    void read(long offset, float[] dst, int dstOffset, int length);

    /**
     * The whole tensor as a new writable tensor of {@code backend} with {@code shape}, filled chunk by
     * chunk (freed again if reading fails). The caller owns it.
     *
     * @throws IllegalArgumentException if {@code shape} does not hold {@link #size()} elements
     */
    default Tensor toTensor(TensorBackend backend, long... shape) {
        if (Tensor.sizeOf(shape) != size()) {
            throw new IllegalArgumentException("tensor of " + size() + " elements read into shape "
                    + java.util.Arrays.toString(shape));
        }
        Tensor out = backend.zeros(shape);
        try {
            float[] chunk = new float[(int) Math.min(size(), Kernels.CHUNK)];
            for (long off = 0; off < size(); off += chunk.length) {
                int len = (int) Math.min(chunk.length, size() - off);
                read(off, chunk, 0, len);
                backend.set(out, off, chunk, 0, len);
            }
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return out;
    }

    /** Releases what the reader holds; reading afterwards is an error. Idempotent. */
    @Override
    default void close() {
    }

    /**
     * A reader over a tensor in memory, through its backend's bulk {@code get}.
     *
     * @param owned whether {@link #close()} closes the tensor
     */
    static TensorReader of(Tensor t, boolean owned) {
        Objects.requireNonNull(t, "t");
        return new TensorReader() {
            @Override
            public long size() {
                return t.size();
            }

            @Override
            public void read(long offset, float[] dst, int dstOffset, int length) {
                t.backend().get(t, offset, dst, dstOffset, length);
            }

            @Override
            public void close() {
                if (owned) {
                    t.close();
                }
            }
        };
    }
}
