package org.fwmerge.nd4j;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.indexer.FloatIndexer;
import org.fwmerge.internal.Kernels;
import org.fwmerge.internal.Scratch;
import org.bytedeco.openblas.global.openblas;
import org.fwmerge.tensor.Matrix;
import org.fwmerge.tensor.Svd;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The ND4J tensor backend: tensors are contiguous float32 {@link INDArray}s off the Java heap, and
 * {@link #dot}, {@link #axpy} and {@link #scale} run as BLAS level-1 calls (OpenBLAS with
 * {@code nd4j-native}; the CUDA backend with {@code -Pcuda}).
 *
 * <p>Found by {@link java.util.ServiceLoader} under the name {@value #NAME} with priority
 * {@value #PRIORITY}, so it is the default backend whenever {@code fwmerge-nd4j} is on the class
 * path. Native libraries load on first use, not on construction. All instances are equivalent and
 * stateless; each tensor reports the instance that made it, and every instance accepts the tensors
 * of every other. Thread-safe.
 *
 * <p>{@link #dot} is accurate to double precision, because FW decides on it (LMO scores, the FW gap
 * near the optimum is a difference of such sums): BLAS {@code sdot} accumulates in float (1.5e-7 to
 * 2.3e-7 relative on 10^6–10^8 elements, 1.5e-3 where terms cancel; OpenBLAS's {@code dsdot} here
 * too), so the products are formed and summed in double in Java, over blocks bulk-copied from the
 * native buffers. It agrees with the reference backend to ~1e-15 relative.
 *
 * <p>{@link #readOnlyFloats} over a direct little-endian buffer is zero-copy; the tensor keeps the
 * buffer reachable (a caller may hand it a read-only memory mapping). Writes into read-only tensors are refused
 * before any native call: an in-place ND4J op on a read-only mapping would crash the JVM.
 */
public final class Nd4jBackend implements TensorBackend {

    /** The backend's {@linkplain #name() name}, for {@code -Dfwmerge.backend=nd4j}. */
    public static final String NAME = "nd4j";

    /** The backend's {@linkplain #priority() priority}: above the reference backend's 0. */
    public static final int PRIORITY = 100;

    /**
     * Elements copied per block in {@link #dot}: two blocks (32 KiB) stay in the L1/L2 cache while the
     * double-accumulating loop runs over them.
     */
    static final int DOT_BLOCK = 1 << 12;

    /** Elements per core below which {@link #dot} runs on the calling thread alone. */
    private static final long DOT_PARALLEL_MIN = 1L << 20;

    private static final Scratch<float[][]> DOT_BUFFERS = new Scratch<>(() -> new float[2][DOT_BLOCK]);

    /** Elements per BLAS call in {@link #axpy}: BLAS takes an int length. */
    private static final long AXPY_CHUNK = 1L << 30;

    /** Elements per bounce buffer when a heap buffer is copied in {@link #readOnlyFloats}. */
    private static final int COPY_CHUNK = 1 << 16;

    /** JavaCPP's limit on the process's resident memory, which it checks before each native allocation. */
    static final String MAX_PHYSICAL_BYTES = "org.bytedeco.javacpp.maxphysicalbytes";

    static {
        // JavaCPP's default limit is a multiple of -Xmx, unrelated to the machine (FW-hard on 8 × 1B BF16
        // stopped with an out-of-memory error although the machine had room), and enforcing any limit
        // reads the resident size from /proc on every native allocation (9% of FW-soft's time on the
        // demo's zoo). Unless the user set one, JavaCPP enforces none; runs check the machine's memory
        // up front instead (availableBytes). Takes effect only if JavaCPP has not started yet.
        if (System.getProperty(MAX_PHYSICAL_BYTES) == null) {
            System.setProperty(MAX_PHYSICAL_BYTES, "0");
        }
    }

    private final AtomicLong allocated = new AtomicLong();
    private final AtomicLong peak = new AtomicLong();

    /**
     * Creates the backend. Cheap: ND4J starts on the first tensor operation. Prefer
     * {@link org.fwmerge.tensor.TensorBackends#get()}; this constructor exists for
     * {@link java.util.ServiceLoader}.
     */
    public Nd4jBackend() {
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int priority() {
        return PRIORITY;
    }

    @Override
    public Tensor zeros(long... shape) {
        long n = Tensor.sizeOf(shape);
        INDArray flat = n == 0 ? null : Nd4j.zeros(DataType.FLOAT, n);
        return new Nd4jTensor(this, flat, flat, shape, false, null);
    }

    @Override
    public Tensor fromFloats(float[] values, long... shape) {
        Objects.requireNonNull(values, "values");
        long n = Tensor.sizeOf(shape);
        if (values.length != n) {
            throw new IllegalArgumentException("values has " + values.length + " elements but shape "
                    + Arrays.toString(shape) + " needs " + n);
        }
        INDArray flat = n == 0 ? null : Nd4j.createFromArray(values.clone());
        return new Nd4jTensor(this, flat, flat, shape, false, null);
    }

    @Override
    public Tensor readOnlyFloats(ByteBuffer bytes, long... shape) {
        Objects.requireNonNull(bytes, "bytes");
        long n = Tensor.sizeOf(shape);
        if (bytes.remaining() != 4 * n) {
            throw new IllegalArgumentException("buffer has " + bytes.remaining() + " bytes but shape "
                    + Arrays.toString(shape) + " needs " + 4 * n);
        }
        if (n == 0) {
            return new Nd4jTensor(this, null, null, shape, true, null);
        }
        // slice(): position 0 of the view is the caller's position; the caller's buffer is untouched.
        FloatBuffer floats = bytes.slice().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        if (floats.isDirect() && ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN) {
            FloatPointer fp = new FloatPointer(floats);
            if (fp.address() % Float.BYTES == 0) {
                DataBuffer db = Nd4j.createBuffer(fp, DataType.FLOAT, n, FloatIndexer.create(fp));
                INDArray flat = Nd4j.create(db, new long[] {n});
                // Not the owner: the memory belongs to the buffer, which the tensor keeps reachable.
                return new Nd4jTensor(this, flat, null, shape, true, bytes);
            }
        }
        INDArray flat = Nd4j.createUninitialized(DataType.FLOAT, n);
        FloatPointer dst = new FloatPointer(flat.data().addressPointer());
        float[] bounce = new float[(int) Math.min(COPY_CHUNK, n)];
        for (long off = 0; off < n; off += bounce.length) {
            int len = (int) Math.min(bounce.length, n - off);
            floats.get(bounce, 0, len);
            dst.position(off).put(bounce, 0, len);
        }
        return new Nd4jTensor(this, flat, flat, shape, true, null);
    }

    @Override
    public Tensor readOnlyView(Tensor t) {
        Nd4jTensor a = own(t);
        // The view keeps the original reachable (its mapped buffer included) but never frees it.
        return new Nd4jTensor(this, a.flat(), null, a.shapeRef(), true, a);
    }

    /**
     * The process's resident memory now subtracted from JavaCPP's limit when one is set, otherwise from
     * the memory the JVM sees (the machine's, or a container's limit inside one).
     */
    @Override
    public long availableBytes() {
        long max = org.bytedeco.javacpp.Pointer.maxPhysicalBytes();
        if (max <= 0) {
            java.lang.management.OperatingSystemMXBean os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
            if (!(os instanceof com.sun.management.OperatingSystemMXBean sun) || sun.getTotalMemorySize() <= 0) {
                return Long.MAX_VALUE;
            }
            max = sun.getTotalMemorySize();
        }
        return Math.max(0, max - org.bytedeco.javacpp.Pointer.physicalBytes());
    }

    @Override
    public String memorySetting() {
        return "a machine with more memory (or a higher -D" + MAX_PHYSICAL_BYTES + " where it was set)";
    }

    @Override
    public Tensor seal(Tensor t) {
        Nd4jTensor a = own(t);
        INDArray storage = a.release();
        return new Nd4jTensor(this, a.flat(), storage, a.shapeRef(), true, storage == null ? a : null);
    }

    /**
     * The array's host memory, on the CPU backend (nd4j-native). On a GPU backend the host copy may be
     * stale, so nothing is offered there.
     */
    @Override
    public Optional<ByteBuffer> hostBuffer(Tensor t) {
        Nd4jTensor a = own(t).checkOpen();
        long bytes = a.size() * Float.BYTES;
        if (a.size() == 0 || bytes > Integer.MAX_VALUE || !Nd4j.getEnvironment().isCPU()) {
            return Optional.empty();
        }
        INDArray flat = a.flat();
        long start = flat.offset() * Float.BYTES;
        BytePointer p = new BytePointer(flat.data().addressPointer());
        ByteBuffer b = p.position(start).limit(start + bytes).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        return Optional.of(a.isReadOnly() ? b.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN) : b);
    }

    @Override
    public void get(Tensor t, long offset, float[] dst, int dstOffset, int length) {
        Nd4jTensor a = own(t);
        Objects.requireNonNull(dst, "dst");
        checkRange(a, offset, length);
        Objects.checkFromIndexSize(dstOffset, length, dst.length);
        if (length > 0) {
            pointer(a).position(offset).get(dst, dstOffset, length);
        }
    }

    @Override
    public void set(Tensor t, long offset, float[] src, int srcOffset, int length) {
        Nd4jTensor a = writable(t);
        Objects.requireNonNull(src, "src");
        checkRange(a, offset, length);
        Objects.checkFromIndexSize(srcOffset, length, src.length);
        if (length > 0) {
            pointer(a).position(offset).put(src, srcOffset, length);
        }
    }

    @Override
    public double dot(Tensor x, Tensor y) {
        Nd4jTensor a = own(x);
        Nd4jTensor b = own(y);
        sameSize(a, b);
        long n = a.size();
        if (n == 0) {
            return 0;
        }
        FloatPointer px = pointer(a);
        FloatPointer py = pointer(b);
        int parts = (int) Math.max(1, Math.min(Runtime.getRuntime().availableProcessors(), n / DOT_PARALLEL_MIN));
        if (parts == 1) {
            return dot(px, py, 0, n);
        }
        // Large vectors: one fixed range per core (the caller and the common pool's workers), partial
        // sums added in range order, so the result does not depend on scheduling.
        long step = (n + parts - 1) / parts;
        List<java.util.concurrent.ForkJoinTask<Double>> tasks = new ArrayList<>();
        for (int p = 1; p < parts; p++) {
            long from = p * step;
            long to = Math.min(n, from + step);
            tasks.add(java.util.concurrent.ForkJoinPool.commonPool().submit(
                    () -> dot(new FloatPointer(px), new FloatPointer(py), from, to)));
        }
        double sum = dot(px, py, 0, step);
        for (java.util.concurrent.ForkJoinTask<Double> t : tasks) {
            sum += t.join();
        }
        return sum;
    }

    /** Σ x_i·y_i over [from, to): each product exact in double, summed in double (core's shared kernel). */
    private static double dot(FloatPointer px, FloatPointer py, long from, long to) {
        float[][] buf = DOT_BUFFERS.take();
        try {
            double sum = 0;
            for (long off = from; off < to; off += DOT_BLOCK) {
                int len = (int) Math.min(DOT_BLOCK, to - off);
                px.position(off).get(buf[0], 0, len);
                py.position(off).get(buf[1], 0, len);
                sum += Kernels.dot(buf[0], buf[1], len);
            }
            return sum;
        } finally {
            DOT_BUFFERS.give(buf);
        }
    }

    /**
     * LAPACK's divide-and-conquer {@code dgesdd} (OpenBLAS, thin factors, row-major host arrays): the same
     * library with either ND4J backend, since the operands are Java arrays of doubles.
     *
     * @throws ArithmeticException if LAPACK reports that the decomposition did not converge
     */
    @Override
    public Svd svd(Matrix a) {
        Nd4jThreads.apply();
        int m = a.rows();
        int n = a.cols();
        int p = Math.min(m, n);
        double[] work = a.values().clone(); // dgesdd overwrites its input
        double[] s = new double[p];
        double[] u = new double[Math.multiplyExact(m, p)];
        double[] vt = new double[Math.multiplyExact(p, n)];
        int info = openblas.LAPACKE_dgesdd(openblas.LAPACK_ROW_MAJOR, (byte) 'S', m, n, work, n, s, u, p, vt, n);
        if (info != 0) {
            throw new ArithmeticException("LAPACK dgesdd " + (info > 0 ? "did not converge" : "refused argument " + -info)
                    + " on a " + m + " x " + n + " matrix (info " + info + ")");
        }
        return new Svd(new Matrix(m, p, u), s, new Matrix(p, n, vt));
    }

    /** LAPACK {@code dgesv} (LU with partial pivoting, OpenBLAS) on the row-major host arrays. */
    @Override
    public Matrix solve(Matrix a, Matrix b) {
        // OpenBLAS 0.3.19's threaded dgesv crashed the JVM here (2 cores, its default 2 threads; 200 random
        // 32-96 wide solves, with and without ONNX Runtime loaded); under the library's thread policy (one
        // native thread on 2 cores) it ran clean. The policy is otherwise applied only by SameDiff objectives.
        Nd4jThreads.apply();
        org.fwmerge.internal.DenseAlgebra.checkSolve(a, b);
        double[] lu = a.values().clone();
        double[] x = b.values().clone();
        int info = openblas.LAPACKE_dgesv(openblas.LAPACK_ROW_MAJOR, a.rows(), b.cols(), lu, a.rows(), new int[a.rows()], x,
                b.cols());
        if (info != 0) {
            throw new ArithmeticException(info > 0 ? "cannot solve: the " + a.rows() + " x " + a.cols() + " matrix is singular"
                    : "LAPACK dgesv refused argument " + -info);
        }
        return new Matrix(b.rows(), b.cols(), x);
    }

    /** BLAS {@code dgemm} (OpenBLAS) on the row-major host arrays. */
    @Override
    public Matrix multiply(Matrix a, Matrix b) {
        Nd4jThreads.apply();
        org.fwmerge.internal.DenseAlgebra.checkProduct(a, b);
        double[] c = new double[Math.multiplyExact(a.rows(), b.cols())];
        openblas.cblas_dgemm(openblas.CblasRowMajor, openblas.CblasNoTrans, openblas.CblasNoTrans, a.rows(), b.cols(),
                a.cols(), 1.0, a.values(), a.cols(), b.values(), b.cols(), 0.0, c, b.cols());
        return new Matrix(a.rows(), b.cols(), c);
    }

    @Override
    public void axpy(double alpha, Tensor x, Tensor y) {
        Nd4jTensor a = own(x);
        Nd4jTensor b = writable(y);
        sameSize(a, b);
        long n = a.size();
        if (n == 0) {
            return;
        }
        INDArray ax = a.flat();
        INDArray ay = b.flat();
        if (n <= AXPY_CHUNK) {
            Nd4j.getBlasWrapper().level1().axpy(n, alpha, ax, ay);
            return;
        }
        for (long off = 0; off < n; off += AXPY_CHUNK) {
            long end = Math.min(n, off + AXPY_CHUNK);
            Nd4j.getBlasWrapper().level1().axpy(end - off, alpha,
                    ax.get(NDArrayIndex.interval(off, end)), ay.get(NDArrayIndex.interval(off, end)));
        }
    }

    @Override
    public void scale(double alpha, Tensor y) {
        Nd4jTensor b = writable(y);
        if (b.size() > 0) {
            b.flat().muli(alpha);
        }
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        Nd4jTensor a = own(src);
        Nd4jTensor b = writable(dst);
        sameSize(a, b);
        if (a.size() > 0) {
            b.flat().assign(a.flat());
        }
    }

    /**
     * The ND4J array behind a tensor of this backend, as a view with the tensor's shape (rank 0 for
     * a scalar). No data is copied. The caller must not write into the array of a
     * {@linkplain Tensor#isReadOnly() read-only} tensor (it may alias a read-only file mapping, and a
     * write would crash the JVM), nor use it after the tensor is closed.
     *
     * @param t a tensor made by an {@code Nd4jBackend}
     * @return a FLOAT, c-ordered array sharing the tensor's storage
     * @throws IllegalArgumentException if {@code t} belongs to another backend
     * @throws IllegalStateException    if {@code t} has been closed
     */
    public static INDArray array(Tensor t) {
        Objects.requireNonNull(t, "t");
        if (!(t instanceof Nd4jTensor)) {
            throw new IllegalArgumentException("tensor " + t + " belongs to backend " + t.backend().name()
                    + ", not to " + NAME);
        }
        Nd4jTensor a = ((Nd4jTensor) t).checkOpen();
        long[] shape = a.shapeRef();
        if (a.size() == 0) {
            return Nd4j.create(DataType.FLOAT, shape);
        }
        if (shape.length == 0) {
            return Nd4j.create(a.flat().data(), new long[0], new long[0], 0, 'c');
        }
        return shape.length == 1 ? a.flat() : a.flat().reshape(shape);
    }

    /**
     * A writable tensor of this backend holding {@code array}'s values, with its shape. The tensor
     * takes ownership of the array when it is already a FLOAT, c-ordered array that owns its storage
     * (then no data is copied and closing the tensor closes the array; the caller must not use the
     * array afterwards); otherwise the values are copied (cast to FLOAT) and the array is left alone.
     *
     * @param array any ND4J array
     * @return a tensor of this backend
     */
    public Tensor wrap(INDArray array) {
        Objects.requireNonNull(array, "array");
        long[] shape = array.shape();
        long n = array.length();
        if (n == 0) {
            return zeros(shape);
        }
        INDArray owned;
        if (adoptable(array)) {
            owned = array;
        } else {
            owned = Nd4j.createUninitialized(DataType.FLOAT, shape);
            owned.assign(array.dataType() == DataType.FLOAT ? array : array.castTo(DataType.FLOAT));
        }
        INDArray flat = owned.rank() == 1 ? owned : owned.reshape(new long[] {n});
        return new Nd4jTensor(this, flat, owned, shape, false, null);
    }

    /** Whether {@link #wrap} takes {@code array} over instead of copying it: FLOAT, c order, its whole own buffer. */
    static boolean adoptable(INDArray array) {
        return array.dataType() == DataType.FLOAT && array.ordering() == 'c' && !array.isView()
                && array.offset() == 0 && array.data().length() == array.length();
    }

    /**
     * Bytes of storage held by open tensors of this backend: what {@link #zeros}, {@link #fromFloats},
     * {@link #wrap} and converting reads allocated and no {@link Tensor#close()} has freed yet.
     * Zero-copy tensors over mapped files and views count nothing. A tensor dropped without close
     * stays counted (its memory is freed only by a later GC), so the figure also shows such leaks.
     */
    public long allocatedBytes() {
        return allocated.get();
    }

    /** The highest {@link #allocatedBytes()} since the backend was created or {@link #resetPeakAllocatedBytes()}. */
    public long peakAllocatedBytes() {
        return peak.get();
    }

    /** Sets the peak to the current {@link #allocatedBytes()}, to measure the peak of one piece of work. */
    public void resetPeakAllocatedBytes() {
        peak.set(allocated.get());
    }

    /** Counts {@code bytes} more (or, negative, fewer) allocated bytes. */
    void allocated(long bytes) {
        if (bytes != 0) {
            long now = allocated.addAndGet(bytes);
            peak.accumulateAndGet(now, Math::max);
        }
    }

    @Override
    public String toString() {
        return "Nd4jBackend";
    }

    private static FloatPointer pointer(Nd4jTensor a) {
        return new FloatPointer(a.flat().data().addressPointer());
    }

    private Nd4jTensor own(Tensor t) {
        Objects.requireNonNull(t, "tensor");
        if (!(t instanceof Nd4jTensor)) {
            throw new IllegalArgumentException("tensor " + t + " belongs to backend " + t.backend().name()
                    + ", not to " + NAME);
        }
        return ((Nd4jTensor) t).checkOpen();
    }

    private Nd4jTensor writable(Tensor t) {
        Nd4jTensor a = own(t);
        if (a.isReadOnly()) {
            // Checked before any ND4J call: an in-place op on a read-only mapping kills the JVM.
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

    private static void checkRange(Nd4jTensor a, long offset, int length) {
        if (offset < 0 || length < 0 || offset > a.size() - length) {
            throw new IndexOutOfBoundsException("range [" + offset + ", " + (offset + length)
                    + ") outside tensor of " + a.size() + " elements");
        }
    }
}
