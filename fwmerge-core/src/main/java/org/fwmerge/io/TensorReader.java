package org.fwmerge.io;

import java.util.Objects;
import org.fwmerge.internal.Kernels;
import org.fwmerge.tensor.Tensor;

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
     * Copies the whole tensor into {@code out} (a writable tensor of the same size), chunk by chunk
     * through {@code out}'s backend.
     */
    default void copyTo(Tensor out) {
        if (out.size() != size()) {
            throw new IllegalArgumentException("tensor of " + size() + " elements copied into one of " + out.size());
        }
        float[] chunk = new float[(int) Math.min(size(), Kernels.CHUNK)];
        for (long off = 0; off < size(); off += chunk.length) {
            int len = (int) Math.min(chunk.length, size() - off);
            read(off, chunk, 0, len);
            out.backend().set(out, off, chunk, 0, len);
        }
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
