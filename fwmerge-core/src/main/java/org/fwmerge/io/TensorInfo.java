package org.fwmerge.io;

import java.util.Arrays;
import java.util.Objects;

/**
 * Name, element type and shape of one tensor in a checkpoint.
 *
 * @param name  tensor name as stored
 * @param dtype stored element type
 * @param shape dimensions (empty for a scalar); copied on the way in and out
 */
public record TensorInfo(String name, DType dtype, long[] shape) {

    public TensorInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of elements. */
    public long size() {
        return org.fwmerge.tensor.Tensor.sizeOf(shape);
    }

    /** Stored size in bytes (elements × dtype bits / 8). */
    public long byteSize() {
        return Math.multiplyExact(size(), (long) dtype.bits()) / 8;
    }

    /** Whether the shapes are equal. */
    public boolean sameShape(TensorInfo other) {
        return Arrays.equals(shape, other.shape);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape));
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}
