package org.fwmerge.internal;

import java.util.List;
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.RealMatrix;
import org.apache.commons.math3.linear.SingularValueDecomposition;
import org.fwmerge.tensor.Matrix;
import org.fwmerge.tensor.Svd;

/**
 * The reference backend's linear algebra in double: the thin SVD and the LU solve from Commons Math
 * (one thread), the product as a row-parallel loop. Correct at any size but meant for small layers; the ND4J
 * backend replaces them with LAPACK and BLAS.
 */
public final class DenseAlgebra {

    /** Rows of the left operand per task of a product. */
    private static final int ROWS_PER_TASK = 16;

    private DenseAlgebra() {
    }

    /** The thin SVD of {@code a}. */
    public static Svd svd(Matrix a) {
        SingularValueDecomposition d = new SingularValueDecomposition(real(a));
        return new Svd(of(d.getU()), d.getSingularValues(), of(d.getVT()));
    }

    /** The product a·b, each entry summed over k in order. */
    public static Matrix multiply(Matrix a, Matrix b) {
        checkProduct(a, b);
        int m = a.rows();
        int inner = a.cols();
        int n = b.cols();
        double[] c = new double[Math.multiplyExact(m, n)];
        double[] av = a.values();
        double[] bv = b.values();
        int tasks = (m + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
        List<Object> unused = Parallel.items(tasks, t -> {
            for (int i = t * ROWS_PER_TASK; i < Math.min(m, (t + 1) * ROWS_PER_TASK); i++) {
                int ci = i * n;
                for (int k = 0; k < inner; k++) {
                    double x = av[i * inner + k];
                    if (x != 0) {
                        int bk = k * n;
                        for (int j = 0; j < n; j++) {
                            c[ci + j] += x * bv[bk + j];
                        }
                    }
                }
            }
            return null;
        });
        return new Matrix(m, n, c);
    }

    /** X with a·X = b, by LU with partial pivoting. */
    public static Matrix solve(Matrix a, Matrix b) {
        checkSolve(a, b);
        try {
            RealMatrix x = new org.apache.commons.math3.linear.LUDecomposition(real(a)).getSolver().solve(real(b));
            return of(x);
        } catch (org.apache.commons.math3.linear.SingularMatrixException e) {
            throw new ArithmeticException("cannot solve: the " + a.rows() + " x " + a.cols() + " matrix is singular");
        }
    }

    /** @throws IllegalArgumentException unless a is square and b has as many rows */
    public static void checkSolve(Matrix a, Matrix b) {
        if (a.rows() != a.cols() || b.rows() != a.rows()) {
            throw new IllegalArgumentException("cannot solve a " + a.rows() + " x " + a.cols() + " system for a "
                    + b.rows() + " x " + b.cols() + " right-hand side (it needs a square matrix and as many rows)");
        }
    }

    private static RealMatrix real(Matrix a) {
        double[][] rows = new double[a.rows()][];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = java.util.Arrays.copyOfRange(a.values(), i * a.cols(), (i + 1) * a.cols());
        }
        return new Array2DRowRealMatrix(rows, false);
    }

    /** @throws IllegalArgumentException unless a's columns match b's rows */
    public static void checkProduct(Matrix a, Matrix b) {
        if (a.cols() != b.rows()) {
            throw new IllegalArgumentException("cannot multiply a " + a.rows() + " x " + a.cols() + " matrix by a "
                    + b.rows() + " x " + b.cols() + " one");
        }
    }

    private static Matrix of(RealMatrix m) {
        int r = m.getRowDimension();
        int c = m.getColumnDimension();
        double[] v = new double[r * c];
        for (int i = 0; i < r; i++) {
            System.arraycopy(m.getRow(i), 0, v, i * c, c);
        }
        return new Matrix(r, c, v);
    }
}
