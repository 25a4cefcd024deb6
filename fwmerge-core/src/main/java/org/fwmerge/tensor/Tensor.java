package org.fwmerge.tensor;

/**
 * A dense float32 tensor owned by a {@link TensorBackend}: row-major, no strides.
 *
 * <p>Tensors are handles; all arithmetic goes through the backend that made them, so that a
 * backend can keep its data off-heap or on a GPU. A tensor obtained from a checkpoint is
 * {@linkplain #isReadOnly() read-only} (a backend may alias the caller's buffer): backends
 * refuse to write into it. {@link #close()} releases native memory at once instead of at the
 * next garbage collection; closing a view never frees the storage it aliases.
 */
public interface Tensor extends AutoCloseable {

    /** Number of elements (the product of the shape; 1 for a scalar). */
    long size();

    /** A copy of the shape; an empty array for a scalar. */
    long[] shape();

    /** Whether writes into this tensor are refused (checkpoint data and views of it). */
    boolean isReadOnly();

    /** The backend that made this tensor and does its arithmetic. */
    TensorBackend backend();

    /** Releases the tensor's memory now; using the tensor afterwards is an error. Idempotent. */
    @Override
    void close();

    /** Product of a shape with overflow checks; 1 for a scalar. */
    static long sizeOf(long... shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension " + d + " in shape " + java.util.Arrays.toString(shape));
            }
            n = Math.multiplyExact(n, d);
        }
        return n;
    }
}
