package org.fwmerge;

import org.fwmerge.internal.StepSizeRules;

/**
 * The FW-hard step size γ_t ∈ [0, 1] (Algorithm 1 line 7). A rule may evaluate the loss along the
 * merge path through {@link Context#lossAt(double)}. Rules are stateless; the merger rejects a γ that
 * is non-finite or outside [0, 1] with an {@link IllegalStateException} naming the rule and the
 * iteration. {@link org.fwmerge.testing.StepSizeRuleCheck} verifies a rule.
 */
@FunctionalInterface
public interface StepSizeRule {

    /** Default evaluation budget of {@link #lineSearch()}. */
    int DEFAULT_LINE_SEARCH_EVALUATIONS = 20;

    /** What a rule may know about the current iteration. */
    interface Context {
        /** The iteration t, from 0. */
        int iteration();

        /** ℓ(x_t). */
        double loss();

        /** The FW gap at x_t: ≥ 0 while x_t lies in the hull, negative when earlier steps have left it. */
        double gap();

        /**
         * d/dγ ℓ(MergeFn(x_t, s_t, γ)) at γ = 0 when it is known without extra work — ⟨∇ℓ(x_t), s_t − x_t⟩
         * for the convex combination — or NaN (other merge functions).
         */
        double slope();

        /** ℓ(MergeFn(x_t, s_t, γ)); each call costs one loss evaluation. */
        double lossAt(double gamma);
    }

    /** The step for this iteration, in [0, 1]. */
    double stepSize(Context context);

    /**
     * Bounded line search on γ ↦ ℓ(MergeFn(x_t, s_t, γ)) over [0, 1] (the paper's choice) with at most
     * {@value #DEFAULT_LINE_SEARCH_EVALUATIONS} loss evaluations. When the slope at 0 is known, the
     * minimiser of the quadratic through ℓ(0), ℓ'(0) and ℓ(1) is tried first and accepted if it gives
     * a sufficient decrease (exact for quadratic losses), or — where the predicted decrease is below
     * float32 resolution, 10⁻⁶ relative — if it does not raise the loss; otherwise Brent's method
     * searches [0, 1]. It never accepts a step that raises the loss: γ = 0 when no trial beats ℓ(x_t).
     */
    static StepSizeRule lineSearch() {
        return lineSearch(DEFAULT_LINE_SEARCH_EVALUATIONS);
    }

    /**
     * Line search with a budget of loss evaluations per iteration.
     *
     * @throws IllegalArgumentException if {@code maxEvaluations < 3}
     */
    static StepSizeRule lineSearch(int maxEvaluations) {
        return StepSizeRules.lineSearch(maxEvaluations);
    }

    /** The classic schedule γ_t = 2 / (t + 2). */
    static StepSizeRule harmonic() {
        return harmonic(1.0);
    }

    /**
     * γ_t = scale · 2 / (t + 2); the authors' code uses scale 0.1 × 0.3 = 0.03.
     *
     * @throws IllegalArgumentException unless 0 &lt; scale ≤ 1
     */
    static StepSizeRule harmonic(double scale) {
        return StepSizeRules.harmonic(scale);
    }

    /**
     * The same γ every iteration.
     *
     * @throws IllegalArgumentException unless 0 ≤ gamma ≤ 1
     */
    static StepSizeRule constant(double gamma) {
        return StepSizeRules.constant(gamma);
    }
}
