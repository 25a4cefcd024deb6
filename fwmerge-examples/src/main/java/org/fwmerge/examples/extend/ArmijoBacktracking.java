package org.fwmerge.examples.extend;

import org.fwmerge.StepSizeRule;

/**
 * A custom step rule: Armijo backtracking. Try γ = 1, then halve γ until the loss has fallen by at
 * least {@code c} times the decrease the slope predicts, ℓ(γ) ≤ ℓ(0) + c·γ·ℓ'(0); when the slope is
 * unknown (a merge function other than the convex combination), until the loss has fallen at all.
 * After {@code maxHalvings} halvings without success it returns 0: no step, and the loss never rises.
 * Fewer loss evaluations than the built-in line search when γ = 1 is good, more when the optimum
 * step is small.
 */
// tag::steprule[]
public record ArmijoBacktracking(double c, int maxHalvings) implements StepSizeRule {

    /** @throws IllegalArgumentException unless 0 &lt; c &lt; 1 and maxHalvings ≥ 0 */
    public ArmijoBacktracking {
        if (!(c > 0 && c < 1) || maxHalvings < 0) {
            throw new IllegalArgumentException("need 0 < c < 1 and maxHalvings ≥ 0, got c = " + c
                    + ", maxHalvings = " + maxHalvings);
        }
    }

    @Override
    public double stepSize(Context ctx) {
        double f0 = ctx.loss();
        double slope = ctx.slope(); // NaN when the merge function does not know it
        double gamma = 1;
        for (int i = 0; i <= maxHalvings; i++, gamma /= 2) {
            double f = ctx.lossAt(gamma);
            boolean enough = Double.isNaN(slope) ? f < f0 : f <= f0 + c * gamma * slope;
            if (enough) {
                return gamma;
            }
        }
        return 0;
    }
}
// end::steprule[]
