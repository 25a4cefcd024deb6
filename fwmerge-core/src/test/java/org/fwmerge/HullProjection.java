package org.fwmerge;

/**
 * Exact Euclidean projection of a point onto the convex hull of a few vertices, in double, by
 * enumerating every face: for each subset of vertices, project onto its affine hull (normal
 * equations), keep it if the barycentric weights are all ≥ 0, and return the closest. Independent
 * of the Frank-Wolfe code; exponential in the vertex count, fine for ≤ 8.
 */
final class HullProjection {
    private HullProjection() {
    }

    /** @return the projection of {@code c} onto conv(vertices) */
    static double[] project(double[][] vertices, double[] c) {
        int n = vertices.length;
        double bestDist = Double.POSITIVE_INFINITY;
        double[] best = null;
        for (int subset = 1; subset < (1 << n); subset++) {
            final int mask = subset;
            int[] idx = java.util.stream.IntStream.range(0, n).filter(i -> (mask & (1 << i)) != 0).toArray();
            double[] w = affineWeights(vertices, idx, c);
            if (w == null) {
                continue;
            }
            boolean inside = true;
            for (double v : w) {
                inside &= v >= -1e-12;
            }
            if (!inside) {
                continue;
            }
            double[] p = new double[c.length];
            for (int a = 0; a < idx.length; a++) {
                for (int d = 0; d < c.length; d++) {
                    p[d] += w[a] * vertices[idx[a]][d];
                }
            }
            double dist = 0;
            for (int d = 0; d < c.length; d++) {
                dist += (p[d] - c[d]) * (p[d] - c[d]);
            }
            if (dist < bestDist - 1e-15) {
                bestDist = dist;
                best = p;
            }
        }
        return best;
    }

    /** Weights w (Σw = 1) of the projection of c onto the affine hull of vertices[idx], or null if degenerate. */
    private static double[] affineWeights(double[][] v, int[] idx, double[] c) {
        int m = idx.length;
        if (m == 1) {
            return new double[] {1};
        }
        // p = v0 + Σ_a μ_a (v_a − v0), a = 1..m-1; normal equations E^T E μ = E^T (c − v0).
        double[][] e = new double[m - 1][];
        for (int a = 1; a < m; a++) {
            e[a - 1] = new double[c.length];
            for (int d = 0; d < c.length; d++) {
                e[a - 1][d] = v[idx[a]][d] - v[idx[0]][d];
            }
        }
        double[][] gram = new double[m - 1][m];
        for (int a = 0; a < m - 1; a++) {
            for (int b2 = 0; b2 < m - 1; b2++) {
                gram[a][b2] = dot(e[a], e[b2]);
            }
            double[] r = new double[c.length];
            for (int d = 0; d < c.length; d++) {
                r[d] = c[d] - v[idx[0]][d];
            }
            gram[a][m - 1] = dot(e[a], r);
        }
        double[] mu = solve(gram);
        if (mu == null) {
            return null;
        }
        double[] w = new double[m];
        double sum = 0;
        for (int a = 1; a < m; a++) {
            w[a] = mu[a - 1];
            sum += mu[a - 1];
        }
        w[0] = 1 - sum;
        return w;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    /** Gaussian elimination with partial pivoting on an augmented matrix; null if singular. */
    private static double[] solve(double[][] aug) {
        int n = aug.length;
        for (int col = 0; col < n; col++) {
            int piv = col;
            for (int r = col + 1; r < n; r++) {
                if (Math.abs(aug[r][col]) > Math.abs(aug[piv][col])) {
                    piv = r;
                }
            }
            if (Math.abs(aug[piv][col]) < 1e-12) {
                return null;
            }
            double[] tmp = aug[col];
            aug[col] = aug[piv];
            aug[piv] = tmp;
            for (int r = 0; r < n; r++) {
                if (r != col) {
                    double f = aug[r][col] / aug[col][col];
                    for (int k = col; k <= n; k++) {
                        aug[r][k] -= f * aug[col][k];
                    }
                }
            }
        }
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = aug[i][n] / aug[i][i];
        }
        return x;
    }
}
