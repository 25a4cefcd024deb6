package org.fwmerge.baseline;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * mergekit's {@code karcher} ({@code merge_methods/karcher.py}): the Riemannian (Karcher) mean of the models'
 * tensors on the unit sphere, scaled by their mean norm, per tensor, every model weighted equally. With
 * u_i = θ_i / ‖θ_i‖ for the models with ‖θ_i‖ &gt; tol (the others are left out of the mean): u starts at
 * the normalised mean of the u_i (u_1 where that mean is under tol); each iteration moves u along
 * T = Σ_i (1/k)·(Ω_i / sin Ω_i)·(u_i − cos Ω_i·u), Ω_i = acos(clamp(⟨u, u_i⟩)) (terms with Ω_i &lt; tol
 * skipped, and those of u_i = −u, whose vector is zero), by the exponential map u ← cos‖T‖·u + sin‖T‖·T/‖T‖, renormalised; it stops after
 * {@link Builder#maxIterations} or when ‖T‖ &lt; tol. The result is (Σ_i ‖θ_i‖ / n)·u over all n models.
 * The models are the pool's candidates (the CLI adds a {@code base_model} to them, as mergekit gathers it);
 * the pool's base is not read.
 *
 * <p>u and T stay linear combinations of the θ_i, so the iteration runs on n coefficients and the models'
 * Gram matrix (one parallel pass per tensor, in double); one more pass forms the output, rounded once.
 * Memory: the output, an n × n matrix and chunk buffers.
 */
public final class Karcher extends GramMerger {

    /** mergekit's default iteration limit. */
    public static final int DEFAULT_MAX_ITERATIONS = 10;
    /** mergekit's default tolerance. */
    public static final double DEFAULT_TOLERANCE = 1e-5;

    /** 1 − cos²Ω below which u_i and u count as antipodal (their difference vector is rounding). */
    private static final double ANTIPODAL = 1e-12;

    private final int maxIterations;
    private final double tolerance;

    private Karcher(Builder b) {
        super(b);
        this.maxIterations = b.maxIterations == null ? DEFAULT_MAX_ITERATIONS : b.maxIterations;
        this.tolerance = b.tolerance == null ? DEFAULT_TOLERANCE : b.tolerance;
    }

    /** A builder with mergekit's defaults. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    String method() {
        return "karcher";
    }

    @Override
    boolean differences() {
        return false;
    }

    @Override
    double[] combination(String name, double[][] gram) {
        int n = gram.length;
        return n == 1 ? new double[] {1, 0} : Arrays.copyOf(coefficients(gram), n + 1);
    }

    /** The result as Σ c_i θ_i, from the models' Gram matrix. */
    double[] coefficients(double[][] g) {
        int n = g.length;
        double[] norm = new double[n];
        List<Integer> valid = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            norm[i] = Math.sqrt(Math.max(0, g[i][i]));
            if (norm[i] > tolerance) {
                valid.add(i);
            }
        }
        if (valid.isEmpty()) {
            return new double[n];
        }
        double alpha = 1.0 / valid.size(); // equal weights, normalised over the models kept
        double[] u = new double[n];
        for (int i : valid) {
            u[i] = alpha / norm[i];
        }
        double un = length(g, u);
        if (un < tolerance) {
            Arrays.fill(u, 0);
            u[valid.get(0)] = 1 / norm[valid.get(0)];
        } else {
            scale(u, 1 / un);
        }
        for (int it = 0; it < maxIterations; it++) {
            double[] t = new double[n];
            for (int i : valid) {
                double dot = 0;
                for (int j = 0; j < n; j++) {
                    dot += u[j] * g[j][i];
                }
                dot = Math.max(-1, Math.min(1, dot / norm[i]));
                double omega = Math.acos(dot);
                // u_i − cos Ω·u has length sin Ω: where that is below rounding (u_i = −u, as in a one-entry
                // tensor) the term is zero, as it comes out in mergekit, though Ω / sin Ω is not
                if (omega < tolerance || 1 - dot * dot < ANTIPODAL) {
                    continue;
                }
                double f = alpha * omega / Math.sin(omega);
                t[i] += f / norm[i];
                for (int j = 0; j < n; j++) {
                    t[j] -= f * dot * u[j];
                }
            }
            double tn = length(g, t);
            if (tn < tolerance) {
                break;
            }
            for (int j = 0; j < n; j++) {
                u[j] = Math.cos(tn) * u[j] + Math.sin(tn) * t[j] / tn;
            }
            double len = length(g, u);
            if (len > tolerance) {
                scale(u, 1 / len);
            }
        }
        double s = 0;
        for (int i = 0; i < n; i++) {
            s += norm[i] / n;
        }
        scale(u, s);
        return u;
    }

    private static void scale(double[] a, double f) {
        for (int i = 0; i < a.length; i++) {
            a[i] *= f;
        }
    }

    @Override
    Map<String, String> settings() {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("method", "karcher");
        c.put("maxIterations", Integer.toString(maxIterations));
        c.put("tolerance", Double.toString(tolerance));
        return c;
    }

    /**
     * Configures a {@link Karcher}. Each setter may be called once ({@link IllegalStateException} on a second
     * call). Not thread-safe.
     */
    public static final class Builder extends BaselineBuilder<Builder> {
        private Integer maxIterations;
        private Double tolerance;

        private Builder() {
        }

        /**
         * The iteration limit (mergekit {@code max_iter}, default {@value Karcher#DEFAULT_MAX_ITERATIONS}).
         *
         * @throws IllegalArgumentException if negative
         */
        public Builder maxIterations(int limit) {
            once(this.maxIterations, "maxIterations");
            if (limit < 0) {
                throw new IllegalArgumentException("maxIterations must be ≥ 0, got " + limit);
            }
            this.maxIterations = limit;
            return this;
        }

        /**
         * The tolerance on norms, angles and the step (mergekit {@code tol}, default
         * {@value Karcher#DEFAULT_TOLERANCE}).
         *
         * @throws IllegalArgumentException if not finite or negative
         */
        public Builder tolerance(double tol) {
            once(this.tolerance, "tolerance");
            if (!(Support.finite(tol, "tolerance") >= 0)) {
                throw new IllegalArgumentException("tolerance must be ≥ 0, got " + tol);
            }
            this.tolerance = tol;
            return this;
        }

        /** The configured merger. */
        public Karcher build() {
            return new Karcher(this);
        }
    }
}
