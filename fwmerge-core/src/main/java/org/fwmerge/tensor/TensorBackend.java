package org.fwmerge.tensor;

import java.nio.ByteBuffer;
import java.util.Optional;

/**
 * The service-provider interface a tensor backend implements: allocation, bulk transfer and the
 * few BLAS-level operations Frank-Wolfe merging spends its time in, and the dense linear algebra in
 * double (SVD, products, solves) that the spectral and regression merging methods need.
 *
 * <p>Implementations are found with {@link java.util.ServiceLoader} (see {@link TensorBackends});
 * the pure-Java {@linkplain TensorBackends#reference() reference backend} is always available.
 * Every operation accepts only tensors made by the same backend and checks sizes, throwing
 * {@link IllegalArgumentException} on a mismatch, and refuses to write into a
 * {@linkplain Tensor#isReadOnly() read-only} tensor with {@link IllegalStateException}.
 * Reductions ({@link #dot}) must be accurate to double precision: they decide which checkpoint the
 * linear minimisation oracle picks. Implementations must be thread-safe.
 */
public interface TensorBackend {

    /** Short name used to select this backend with the {@code fwmerge.backend} system property. */
    String name();

    /** Selection priority when no backend is named: the highest available wins. */
    int priority();

    /** A new writable tensor of the given shape filled with zeros. */
    Tensor zeros(long... shape);

    /** A new writable tensor holding a copy of {@code values} (length must equal the shape's size). */
    Tensor fromFloats(float[] values, long... shape);

    /**
     * A read-only tensor over little-endian float32 bytes from {@code bytes.position()} to
     * {@code bytes.limit()} (exactly {@code 4 * size} bytes). A backend may alias the buffer
     * (zero-copy over a memory-mapped file) or copy it; either way it never writes to it.
     */
    Tensor readOnlyFloats(ByteBuffer bytes, long... shape);

    /** A read-only alias of {@code t}: same data, writes refused, {@code close()} frees nothing. */
    Tensor readOnlyView(Tensor t);

    /**
     * A read-only tensor that takes over {@code t}'s storage: {@code t} is closed without freeing
     * anything, and closing the result frees the storage. Used to hand out data the caller owns but
     * must not change (a tensor loaded from a checkpoint).
     */
    Tensor seal(Tensor t);

    /**
     * Bytes of tensor storage this backend can still allocate, as far as it knows (its allocator's
     * limit minus what is in use); {@link Long#MAX_VALUE} when it sets no limit. Long runs check it
     * before any work, so that a merge that cannot fit fails at once with the memory it needs.
     */
    default long availableBytes() {
        return Long.MAX_VALUE;
    }

    /**
     * The setting a user changes to give this backend more memory (a JVM flag), named in the error
     * when a merge does not fit.
     */
    default String memorySetting() {
        return "-Xmx";
    }

    /**
     * The tensor's own storage as little-endian float32 bytes in host memory ({@code 4 * size} of them,
     * position 0), for native code that reads or writes tensors in place — the ONNX Runtime objective
     * feeds the point's weights from it and has gradients written straight into it. Writes through the
     * buffer change the tensor; the buffer of a {@linkplain Tensor#isReadOnly() read-only} tensor is
     * read-only. It is valid only while the tensor is open. Empty (the default) when the storage is not
     * one direct host buffer: a GPU backend, Java arrays, a tensor of 2 GiB or more.
     */
    default Optional<ByteBuffer> hostBuffer(Tensor t) {
        return Optional.empty();
    }

    /** Copies {@code length} elements starting at element {@code offset} of {@code t} into {@code dst}. */
    void get(Tensor t, long offset, float[] dst, int dstOffset, int length);

    /** Copies {@code length} elements of {@code src} into {@code t} starting at element {@code offset}. */
    void set(Tensor t, long offset, float[] src, int srcOffset, int length);

    /** Inner product ⟨x, y⟩, accumulated to double precision. */
    double dot(Tensor x, Tensor y);

    /** {@code y ← y + a·x}. */
    void axpy(double a, Tensor x, Tensor y);

    /** {@code y ← a·y}. */
    void scale(double a, Tensor y);

    /** {@code dst ← src}. */
    void copy(Tensor src, Tensor dst);

    /**
     * The thin singular value decomposition of {@code a}, in double. The default is the reference
     * implementation (Commons Math, one thread); a backend with LAPACK overrides it.
     */
    default Svd svd(Matrix a) {
        return org.fwmerge.internal.DenseAlgebra.svd(a);
    }

    /**
     * The product {@code a·b}, in double. The default is the reference implementation (a row-parallel
     * loop); a backend with BLAS overrides it.
     *
     * @throws IllegalArgumentException if a's columns do not match b's rows
     */
    default Matrix multiply(Matrix a, Matrix b) {
        return org.fwmerge.internal.DenseAlgebra.multiply(a, b);
    }

    /**
     * The solution X of a·X = b for a square, non-singular {@code a}, in double. The default is the reference
     * implementation (Commons Math's LU with partial pivoting); a backend with LAPACK overrides it.
     *
     * @throws IllegalArgumentException if a is not square or b's rows do not match it
     * @throws ArithmeticException      if a is singular
     */
    default Matrix solve(Matrix a, Matrix b) {
        return org.fwmerge.internal.DenseAlgebra.solve(a, b);
    }

    /** A new writable copy of {@code t}. */
    default Tensor copyOf(Tensor t) {
        Tensor out = zeros(t.shape());
        copy(t, out);
        return out;
    }

    /** All elements of {@code t} as a new array (the tensor must have fewer than 2^31 elements). */
    default float[] toFloats(Tensor t) {
        if (t.size() > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("tensor of " + t.size() + " elements does not fit in a Java array");
        }
        float[] out = new float[(int) t.size()];
        get(t, 0, out, 0, out.length);
        return out;
    }
}
