package org.fwmerge.tensor;

/**
 * A dense row-major matrix of doubles: the operand of the backends' linear algebra
 * ({@link TensorBackend#svd}, {@link TensorBackend#multiply}), which the spectral merging methods do in
 * double precision whatever the checkpoints' type.
 *
 * <p>The array is shared, not copied: element (i, j) is {@code values[i * cols + j]}, and whoever holds
 * the record may change it.
 *
 * @param rows   number of rows (≥ 1)
 * @param cols   number of columns (≥ 1)
 * @param values {@code rows × cols} entries, row-major
 */
public record Matrix(int rows, int cols, double[] values) {

    /**
     * @throws IllegalArgumentException if a dimension is below 1 or the array's length is not rows × cols
     */
    public Matrix {
        if (rows < 1 || cols < 1) {
            throw new IllegalArgumentException("matrix dimensions must be at least 1, got " + rows + " x " + cols);
        }
        if (values == null || values.length != (long) rows * cols) {
            throw new IllegalArgumentException("a " + rows + " x " + cols + " matrix needs " + (long) rows * cols
                    + " values, got " + (values == null ? "null" : values.length));
        }
    }

    /** A new matrix of zeros. */
    public static Matrix zeros(int rows, int cols) {
        return new Matrix(rows, cols, new double[Math.multiplyExact(rows, cols)]);
    }

    /** Entry (i, j). */
    public double get(int i, int j) {
        return values[i * cols + j];
    }

    /** A new matrix holding the transpose. */
    public Matrix transpose() {
        double[] t = new double[values.length];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                t[j * rows + i] = values[i * cols + j];
            }
        }
        return new Matrix(cols, rows, t);
    }
}
