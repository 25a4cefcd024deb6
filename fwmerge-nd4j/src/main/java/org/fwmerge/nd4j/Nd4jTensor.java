package org.fwmerge.nd4j;

import java.util.Arrays;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A tensor of the {@link Nd4jBackend}: a flat, contiguous FLOAT {@link INDArray} of {@code size}
 * elements (null when the size is 0) plus the logical shape. The array that owns the storage, if
 * this tensor owns it, is closed by {@link #close()}; views and zero-copy file tensors own nothing.
 */
final class Nd4jTensor implements Tensor {

    private final Nd4jBackend backend;
    private final INDArray flat;
    private final INDArray storage;
    private final long[] shape;
    private final long size;
    private final boolean readOnly;
    /** Bytes of the owned storage, counted in the backend's allocation statistics. */
    private final long ownedBytes;
    /** Keeps what the storage aliases reachable: a mapped buffer, or the tensor a view was made of. */
    @SuppressWarnings("unused")
    private final Object keepAlive;
    private volatile boolean closed;

    /**
     * @param flat      the data as a 1-D array (null for size 0)
     * @param storage   the array to close on {@link #close()}, or null if this tensor owns nothing
     * @param keepAlive an object the data depend on, held only to keep it reachable
     */
    Nd4jTensor(Nd4jBackend backend, INDArray flat, INDArray storage, long[] shape, boolean readOnly, Object keepAlive) {
        this.backend = backend;
        this.flat = flat;
        this.storage = storage;
        this.shape = shape.clone();
        this.size = Tensor.sizeOf(shape);
        this.readOnly = readOnly;
        this.keepAlive = keepAlive;
        this.ownedBytes = storage == null ? 0 : storage.length() * storage.dataType().width();
        backend.allocated(ownedBytes);
    }

    INDArray flat() {
        return flat;
    }

    long[] shapeRef() {
        return shape;
    }

    Nd4jTensor checkOpen() {
        if (closed) {
            throw new IllegalStateException("tensor " + this + " has been closed");
        }
        return this;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    @Override
    public TensorBackend backend() {
        return backend;
    }

    /**
     * Closes this tensor without freeing its storage and returns the storage (null if it owns none),
     * whose new owner must close it.
     */
    synchronized INDArray release() {
        checkOpen();
        closed = true;
        backend.allocated(-ownedBytes);
        return storage;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        backend.allocated(-ownedBytes);
        if (storage != null && storage.closeable()) {
            storage.close();
        }
    }

    @Override
    public String toString() {
        return "Nd4jTensor" + Arrays.toString(shape) + (readOnly ? " (read-only)" : "") + (closed ? " (closed)" : "");
    }
}
