package org.fwmerge.baseline;

import java.util.List;
import org.fwmerge.internal.Kernels;
import org.fwmerge.internal.Parallel;
import org.fwmerge.io.TensorReader;

/**
 * Inner products of streamed tensors in double, for methods that set their coefficients from them
 * ({@link Slerp}, {@link ModelStock}): fixed blocks in parallel, their partial sums added in block order,
 * so the result does not depend on the core count.
 */
final class Gram {

    /** Elements per block: partial sums are added in block order. */
    private static final int BLOCK = 1 << 20;

    private Gram() {
    }

    /**
     * g[i][j] = ⟨v_i, v_j⟩ with v_i = src[i] − anchor (anchor null: v_i = src[i]), all of one size.
     */
    static double[][] of(TensorReader[] src, TensorReader anchor) {
        int n = src.length;
        long size = src[0].size();
        int blocks = (int) Math.max(1, (size + BLOCK - 1) / BLOCK);
        List<double[][]> parts = Parallel.items(blocks, q -> {
            float[][] v = new float[n][Support.CHUNK];
            float[] a = anchor == null ? null : new float[Support.CHUNK];
            double[][] g = new double[n][n];
            long end = Math.min(size, (long) (q + 1) * BLOCK);
            for (long off = (long) q * BLOCK; off < end; off += Support.CHUNK) {
                int len = (int) Math.min(Support.CHUNK, end - off);
                if (a != null) {
                    anchor.read(off, a, 0, len);
                }
                for (int i = 0; i < n; i++) {
                    src[i].read(off, v[i], 0, len);
                    if (a != null) {
                        for (int k = 0; k < len; k++) {
                            v[i][k] -= a[k];
                        }
                    }
                }
                for (int i = 0; i < n; i++) {
                    for (int j = i; j < n; j++) {
                        g[i][j] += Kernels.dot(v[i], v[j], len);
                    }
                }
            }
            return g;
        });
        double[][] g = new double[n][n];
        for (double[][] p : parts) {
            for (int i = 0; i < n; i++) {
                for (int j = i; j < n; j++) {
                    g[i][j] += p[i][j];
                    g[j][i] = g[i][j];
                }
            }
        }
        return g;
    }
}
