package org.fwmerge;

import java.util.Objects;

/**
 * FW-soft (paper §3.3, eq. 9): instead of stepping toward the single LMO vertex, take several
 * vertices s̃_1…s̃_k and optimise per-block coefficients λ for
 * x_{t+1} = x_t + Σ_j λ_j (s̃_j − x_t) by projected gradient descent ({@link CoefficientOptions}).
 * Immutable.
 */
public final class SoftOptions {

    private final int k; // 0: one vertex per objective term
    private final CoefficientOptions coefficients;

    private SoftOptions(int k, CoefficientOptions coefficients) {
        this.k = k;
        this.coefficients = coefficients;
    }

    /**
     * The k best-scoring vertices (per block, for a layer-wise LMO).
     *
     * @throws IllegalArgumentException if {@code k < 1}
     */
    public static SoftOptions topK(int k) {
        if (k < 1) {
            throw new IllegalArgumentException("soft LMO top-k needs k ≥ 1, got " + k);
        }
        return new SoftOptions(k, CoefficientOptions.defaults());
    }

    /**
     * One vertex per task: for an objective that is a sum of per-task losses
     * ({@link Objective#terms()}), the best checkpoint for each task's own gradient, skipping
     * checkpoints already picked (per block). The merger refuses an objective without terms.
     */
    public static SoftOptions perTask() {
        return new SoftOptions(0, CoefficientOptions.defaults());
    }

    /** These options with other coefficient settings. */
    public SoftOptions withCoefficients(CoefficientOptions coefficients) {
        return new SoftOptions(k, Objects.requireNonNull(coefficients, "coefficients"));
    }

    /** Whether vertices are picked per task rather than top-k. */
    public boolean isPerTask() {
        return k == 0;
    }

    /** k for top-k selection (0 when {@link #isPerTask()}). */
    public int k() {
        return k;
    }

    /** The coefficient optimisation settings. */
    public CoefficientOptions coefficients() {
        return coefficients;
    }

    @Override
    public String toString() {
        return "soft(" + (isPerTask() ? "perTask" : "topK=" + k) + ", " + coefficients + ")";
    }
}
