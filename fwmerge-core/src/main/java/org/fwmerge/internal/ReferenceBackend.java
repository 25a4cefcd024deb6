package org.fwmerge.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/**
 * The pure-Java reference backend: each tensor is a {@code float[]}, every reduction accumulates
 * in double. Simple enough to be the oracle the fast backends are checked against, and fast enough
 * (plain loops) for unit tests and small models.
 */
public final class ReferenceBackend implements TensorBackend {

    /** The single instance; the backend is stateless. */
    public static final ReferenceBackend INSTANCE = new ReferenceBackend();

    private ReferenceBackend() {
    }

    @Override
    public String name() {
        return "reference";
    }

    @Override
    public int priority() {
        return 0;
    }

    @Override
    public Tensor zeros(long... shape) {
        return new ArrayTensor(new float[checkedSize(shape)], shape, false);
    }

    @Override
    public Tensor fromFloats(float[] values, long... shape) {
        Objects.requireNonNull(values, "values");
        int n = checkedSize(shape);
        if (values.length != n) {
            throw new IllegalArgumentException("values has " + values.length + " elements but shape "
                    + Arrays.toString(shape) + " needs " + n);
        }
        return new ArrayTensor(values.clone(), shape, false);
    }

    @Override
    public Tensor readOnlyFloats(ByteBuffer bytes, long... shape) {
        int n = checkedSize(shape);
        if (bytes.remaining() != 4L * n) {
            throw new IllegalArgumentException("buffer has " + bytes.remaining() + " bytes but shape "
                    + Arrays.toString(shape) + " needs " + 4L * n);
        }
        float[] data = new float[n];
        bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(data);
        return new ArrayTensor(data, shape, true);
    }

    @Override
    public Tensor readOnlyView(Tensor t) {
        ArrayTensor a = own(t);
        return new ArrayTensor(a.data, a.shape, true);
    }

    @Override
    public Tensor seal(Tensor t) {
        ArrayTensor a = own(t);
        ArrayTensor out = new ArrayTensor(a.data, a.shape, true);
        a.close();
        return out;
    }

    @Override
    public void get(Tensor t, long offset, float[] dst, int dstOffset, int length) {
        ArrayTensor a = own(t);
        checkRange(a, offset, length);
        System.arraycopy(a.data, (int) offset, dst, dstOffset, length);
    }

    @Override
    public void set(Tensor t, long offset, float[] src, int srcOffset, int length) {
        ArrayTensor a = writable(t);
        checkRange(a, offset, length);
        System.arraycopy(src, srcOffset, a.data, (int) offset, length);
    }

    @Override
    public double dot(Tensor x, Tensor y) {
        float[] a = own(x).data;
        float[] b = own(y).data;
        sameSize(x, y);
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += (double) a[i] * b[i];
        }
        return s;
    }

    @Override
    public void axpy(double a, Tensor x, Tensor y) {
        float[] src = own(x).data;
        float[] dst = writable(y).data;
        sameSize(x, y);
        for (int i = 0; i < dst.length; i++) {
            dst[i] = (float) (dst[i] + a * src[i]);
        }
    }

    @Override
    public void scale(double a, Tensor y) {
        float[] dst = writable(y).data;
        for (int i = 0; i < dst.length; i++) {
            dst[i] = (float) (a * dst[i]);
        }
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        float[] s = own(src).data;
        float[] d = writable(dst).data;
        sameSize(src, dst);
        System.arraycopy(s, 0, d, 0, s.length);
    }

    @Override
    public String toString() {
        return "ReferenceBackend";
    }

    private static int checkedSize(long[] shape) {
        long n = Tensor.sizeOf(shape);
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("the reference backend holds at most 2^31-9 elements per tensor, shape "
                    + Arrays.toString(shape) + " has " + n);
        }
        return (int) n;
    }

    private ArrayTensor own(Tensor t) {
        Objects.requireNonNull(t, "tensor");
        if (!(t instanceof ArrayTensor)) {
            throw new IllegalArgumentException("tensor " + t + " belongs to backend " + t.backend().name()
                    + ", not to " + name());
        }
        ArrayTensor a = (ArrayTensor) t;
        if (a.data == null) {
            throw new IllegalStateException("tensor has been closed");
        }
        return a;
    }

    private ArrayTensor writable(Tensor t) {
        ArrayTensor a = own(t);
        if (a.readOnly) {
            throw new IllegalStateException("tensor " + a + " is read-only (checkpoint data is never written)");
        }
        return a;
    }

    private static void sameSize(Tensor x, Tensor y) {
        if (x.size() != y.size()) {
            throw new IllegalArgumentException("size mismatch: " + Arrays.toString(x.shape()) + " vs "
                    + Arrays.toString(y.shape()));
        }
    }

    private static void checkRange(ArrayTensor a, long offset, int length) {
        if (offset < 0 || length < 0 || offset + length > a.data.length) {
            throw new IndexOutOfBoundsException("range [" + offset + ", " + (offset + length)
                    + ") outside tensor of " + a.data.length + " elements");
        }
    }

    /** A tensor backed by a Java array. Views share the array. */
    static final class ArrayTensor implements Tensor {
        private float[] data;
        private final long[] shape;
        private final boolean readOnly;

        ArrayTensor(float[] data, long[] shape, boolean readOnly) {
            this.data = data;
            this.shape = shape.clone();
            this.readOnly = readOnly;
        }

        @Override
        public long size() {
            return data == null ? Tensor.sizeOf(shape) : data.length;
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
            return INSTANCE;
        }

        @Override
        public void close() {
            // Arrays are garbage-collected; dropping the reference lets a closed tensor fail loudly.
            data = null;
        }

        @Override
        public String toString() {
            return "ArrayTensor" + Arrays.toString(shape) + (readOnly ? " (read-only)" : "");
        }
    }
}
