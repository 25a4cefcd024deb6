package org.fwmerge.tensor;

/**
 * A thin singular value decomposition A = U·diag(s)·Vᵀ of an m × n matrix, with p = min(m, n):
 * U is m × p with orthonormal columns, s holds the p singular values in non-increasing order (all ≥ 0),
 * and {@code vt} = Vᵀ is p × n with orthonormal rows. Each pair (uⱼ, vⱼ) is determined up to a common
 * sign, and only up to a rotation within a group of equal singular values.
 *
 * @param u  the left singular vectors, m × p
 * @param s  the singular values, length p, non-increasing
 * @param vt the right singular vectors as rows, p × n
 */
public record Svd(Matrix u, double[] s, Matrix vt) {

    /** @throws IllegalArgumentException if the three parts' sizes do not fit together */
    public Svd {
        int p = s.length;
        if (u.cols() != p || vt.rows() != p) {
            throw new IllegalArgumentException("SVD parts do not fit: U " + u.rows() + " x " + u.cols() + ", " + p
                    + " singular values, Vt " + vt.rows() + " x " + vt.cols());
        }
    }
}
