package org.fwmerge.testing;

import java.util.Locale;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.function.DoubleUnaryOperator;
import org.fwmerge.StepSizeRule;

/**
 * Verifies a {@link StepSizeRule}. Throws {@link AssertionError} on the first violation:
 * <ul>
 * <li>on sampled contexts — iterations 0…1000, one-dimensional convex quadratics
 *     ℓ(γ) = a(γ − c)² + b whose minimiser c lies at 0, inside (0, 1), at 1 or beyond, with the slope at
 *     0 known or not (NaN, as for merge functions other than the convex combination) — every step is
 *     finite and in [0, 1];</li>
 * <li>a rule that evaluates the loss through {@link StepSizeRule.Context#lossAt(double)} is a line
 *     search, and a line search never increases the loss: ℓ(γ) ≤ ℓ(0) on every sampled context, and
 *     along a whole Frank-Wolfe run (40 iterations of FW-hard on ½‖θ − c‖² over the convex hull of 6
 *     points in R⁸) the loss never rises from one iterate to the next.</li>
 * </ul>
 * A loss may rise by at most 10⁻¹² relative (double rounding of the test objective itself).
 */
public final class StepSizeRuleCheck {

    private static final double ROUNDING = 1e-12;

    private StepSizeRuleCheck() {
    }

    /**
     * Verifies {@code rule}.
     *
     * @throws AssertionError naming the rule, iteration, context and step
     */
    public static void verify(StepSizeRule rule) {
        Objects.requireNonNull(rule, "rule");
        for (int t : new int[] {0, 1, 7, 100, 1000}) {
            for (double a : new double[] {0.5, 2, 1e3}) {
                for (double c : new double[] {0, 0.3, 0.7, 1, 1.5}) {
                    for (boolean slopeKnown : new boolean[] {true, false}) {
                        double b = 10 * c;
                        sampled(rule, t, g -> a * (g - c) * (g - c) + b, -2 * a * c, slopeKnown,
                                String.format(Locale.ROOT, "ℓ(γ) = %s·(γ − %s)² + %s", a, c, b));
                    }
                }
            }
        }
        frankWolfe(rule);
    }

    /** A context on a one-dimensional loss; counts loss evaluations. */
    private static final class Ctx implements StepSizeRule.Context {
        private final int iteration;
        private final DoubleUnaryOperator loss;
        private final double slope;
        private final boolean slopeKnown;
        int evaluations;

        Ctx(int iteration, DoubleUnaryOperator loss, double slope, boolean slopeKnown) {
            this.iteration = iteration;
            this.loss = loss;
            this.slope = slope;
            this.slopeKnown = slopeKnown;
        }

        @Override
        public int iteration() {
            return iteration;
        }

        @Override
        public double loss() {
            return loss.applyAsDouble(0);
        }

        @Override
        public double gap() {
            return Math.max(0, -slope);
        }

        @Override
        public double slope() {
            return slopeKnown ? slope : Double.NaN;
        }

        @Override
        public double lossAt(double gamma) {
            evaluations++;
            return loss.applyAsDouble(gamma);
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "iteration %d, loss %.6g, gap %.6g, slope %s", iteration, loss(), gap(),
                    slopeKnown ? String.format(Locale.ROOT, "%.6g", slope) : "unknown");
        }
    }

    private static double step(StepSizeRule rule, Ctx ctx, String what) {
        double gamma = rule.stepSize(ctx);
        if (!(gamma >= 0 && gamma <= 1)) {
            throw new AssertionError("step size rule " + rule + " returned γ = " + gamma + " (" + ctx + ", " + what
                    + "): a step must be finite and in [0, 1]");
        }
        return gamma;
    }

    private static void sampled(StepSizeRule rule, int t, DoubleUnaryOperator loss, double slope, boolean slopeKnown,
            String what) {
        Ctx ctx = new Ctx(t, loss, slope, slopeKnown);
        double gamma = step(rule, ctx, what);
        if (ctx.evaluations > 0) {
            double f0 = loss.applyAsDouble(0);
            double f = loss.applyAsDouble(gamma);
            if (f > f0 + ROUNDING * Math.abs(f0)) {
                throw new AssertionError("line search " + rule + " returned γ = " + gamma + " (" + ctx + ", " + what
                        + ") where the loss is " + f + ", above ℓ(0) = " + f0 + ": a line search must never increase the loss");
            }
        }
    }

    /** FW-hard with the rule on ½‖θ − c‖² over conv{v_1..v_6} ⊂ R⁸ (c outside the hull). */
    private static void frankWolfe(StepSizeRule rule) {
        SplittableRandom rnd = new SplittableRandom(11);
        int dim = 8;
        double[][] v = new double[6][dim];
        for (double[] row : v) {
            for (int j = 0; j < dim; j++) {
                row[j] = rnd.nextDouble(-1, 1);
            }
        }
        double[] c = new double[dim];
        for (int j = 0; j < dim; j++) {
            c[j] = rnd.nextDouble(-2, 2);
        }
        double[] x = v[0].clone();
        for (int t = 0; t < 40; t++) {
            double[] g = new double[dim];
            for (int j = 0; j < dim; j++) {
                g[j] = x[j] - c[j];
            }
            int best = 0;
            for (int i = 1; i < v.length; i++) {
                if (dot(g, v[i]) < dot(g, v[best])) {
                    best = i;
                }
            }
            double[] xt = x;
            double[] s = v[best];
            DoubleUnaryOperator loss = gamma -> {
                double sum = 0;
                for (int j = 0; j < dim; j++) {
                    double d = xt[j] + gamma * (s[j] - xt[j]) - c[j];
                    sum += d * d;
                }
                return 0.5 * sum;
            };
            double slope = 0;
            for (int j = 0; j < dim; j++) {
                slope += g[j] * (s[j] - x[j]);
            }
            Ctx ctx = new Ctx(t, loss, slope, true);
            double gamma = step(rule, ctx, "Frank-Wolfe on ½‖θ − c‖² over a hull in R⁸");
            double before = loss.applyAsDouble(0);
            double after = loss.applyAsDouble(gamma);
            if (ctx.evaluations > 0 && after > before + ROUNDING * Math.abs(before)) {
                throw new AssertionError("line search " + rule + " increased the loss of a convex Frank-Wolfe run at"
                        + " iteration " + t + " from " + before + " to " + after + " (γ = " + gamma + ")");
            }
            double[] next = new double[dim];
            for (int j = 0; j < dim; j++) {
                next[j] = x[j] + gamma * (s[j] - x[j]);
            }
            x = next;
        }
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }
}
