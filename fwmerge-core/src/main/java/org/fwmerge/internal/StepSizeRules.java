package org.fwmerge.internal;

import org.apache.commons.math3.analysis.UnivariateFunction;
import org.apache.commons.math3.exception.TooManyEvaluationsException;
import org.apache.commons.math3.optim.MaxEval;
import org.apache.commons.math3.optim.nonlinear.scalar.GoalType;
import org.apache.commons.math3.optim.univariate.BrentOptimizer;
import org.apache.commons.math3.optim.univariate.SearchInterval;
import org.apache.commons.math3.optim.univariate.UnivariateObjectiveFunction;
import org.fwmerge.StepSizeRule;

/** The built-in step-size rules. */
public final class StepSizeRules {
    private StepSizeRules() {
    }

    public static StepSizeRule lineSearch(int maxEvaluations) {
        if (maxEvaluations < 3) {
            throw new IllegalArgumentException("line search needs at least 3 loss evaluations, got " + maxEvaluations);
        }
        return new LineSearch(maxEvaluations);
    }

    public static StepSizeRule harmonic(double scale) {
        if (!(scale > 0 && scale <= 1)) {
            throw new IllegalArgumentException("harmonic step scale must be in (0, 1], got " + scale);
        }
        return new Harmonic(scale);
    }

    public static StepSizeRule constant(double gamma) {
        if (!(gamma >= 0 && gamma <= 1)) {
            throw new IllegalArgumentException("constant step size must be in [0, 1], got " + gamma);
        }
        return new Constant(gamma);
    }

    /** Relative resolution of a loss computed from float32 weights (a few ulps of accumulated rounding). */
    static final double LOSS_RESOLUTION = 1e-6;

    /** Brent on [0, 1] plus the end point γ = 1; never accepts a trial worse than ℓ(x_t). */
    record LineSearch(int maxEvaluations) implements StepSizeRule {
        @Override
        public double stepSize(Context c) {
            // Every trial is remembered, so the budget running out still returns the best point seen.
            double[] best = {0, c.loss()};
            UnivariateFunction tracked = gamma -> {
                double v = c.lossAt(gamma);
                if (v < best[1]) {
                    best[0] = gamma;
                    best[1] = v;
                }
                return v;
            };
            double f0 = c.loss();
            double f1 = tracked.value(1.0);
            double slope = c.slope();
            if (slope < 0) {
                double curvature = f1 - f0 - slope; // ℓ ≈ f0 + slope·γ + curvature·γ²
                double gq = curvature > 0 ? Math.min(1.0, -slope / (2 * curvature)) : 1.0;
                double fq = gq == 1.0 ? f1 : tracked.value(gq);
                // Sufficient decrease (a quarter of the linear prediction; a quadratic gives a half).
                // Near the optimum the predicted decrease falls below what a float32 model's loss can
                // resolve; there the model's step is trusted as long as the loss does not rise, instead
                // of stalling on rounding noise. A step that raises the loss is never accepted.
                double resolution = LOSS_RESOLUTION * Math.abs(f0);
                boolean belowResolution = -0.5 * slope * gq <= resolution && fq <= f0;
                if (fq <= f0 + 0.25 * slope * gq || belowResolution) {
                    return gq;
                }
            }
            try {
                new BrentOptimizer(1e-4, 1e-6).optimize(new MaxEval(maxEvaluations - 2),
                        new UnivariateObjectiveFunction(tracked), GoalType.MINIMIZE, new SearchInterval(0, 1, 0.5));
            } catch (TooManyEvaluationsException e) {
                // the budget is a cap, not an error
            }
            return best[0];
        }

        @Override
        public String toString() {
            return "lineSearch(maxEvaluations=" + maxEvaluations + ")";
        }
    }

    record Harmonic(double scale) implements StepSizeRule {
        @Override
        public double stepSize(Context c) {
            return scale * 2.0 / (c.iteration() + 2.0);
        }

        @Override
        public String toString() {
            return "harmonic(scale=" + scale + ")";
        }
    }

    record Constant(double gamma) implements StepSizeRule {
        @Override
        public double stepSize(Context c) {
            return gamma;
        }

        @Override
        public String toString() {
            return "constant(" + gamma + ")";
        }
    }
}
