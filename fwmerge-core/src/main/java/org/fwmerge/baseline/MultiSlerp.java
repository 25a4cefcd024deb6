package org.fwmerge.baseline;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.fwmerge.ModelPool;

/**
 * mergekit's {@code multislerp} ({@code merge_methods/multislerp.py}): barycentric interpolation of n
 * models on the hypersphere, per tensor. With v_i = θ_i − θ₀ ({@link Builder#fromBase}, the default) or
 * v_i = θ_i, weights w normalised to sum 1 (unless {@link Builder#normalizeWeights} is off) and ε = 10⁻⁸:
 * u_i = v_i / (‖v_i‖ + ε); m = Σ w_i u_i, m̂ = m / ‖m‖; the tangent vectors t_i = u_i − ⟨u_i, m̂⟩ m̂ are
 * averaged, T = Σ w_i t_i, and mapped back, r = m̂ cos(‖T‖ + ε) + T sin(‖T‖ + ε) / (‖T‖ + ε); the result is
 * (Σ w_i ‖v_i‖)·r, plus θ₀ when v_i = θ_i − θ₀. Where ‖m‖ &lt; ε two models are interpolated linearly
 * (w_0 v_0 + w_1 v_1) and more are refused, as in mergekit; one model is returned as it is.
 *
 * <p>Every vector above is a linear combination of the v_i, so the method needs only their Gram matrix:
 * one parallel pass per tensor for it (in double), then one pass forming the output as a weighted sum of
 * the inputs, rounded once. Memory: the output, an n × n matrix and chunk buffers.
 */
public final class MultiSlerp extends GramMerger {

    private static final double EPS = 1e-8;

    private final double[] weights;
    private final boolean normalizeWeights;
    private final boolean fromBase;

    private MultiSlerp(Builder b) {
        super(b);
        this.weights = b.weights.clone();
        this.normalizeWeights = b.normalizeWeights == null || b.normalizeWeights;
        this.fromBase = b.fromBase == null || b.fromBase;
    }

    /** A builder; {@link Builder#weights} is required. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    String method() {
        return "multislerp";
    }

    @Override
    boolean differences() {
        return fromBase;
    }

    @Override
    void check(ModelPool pool) {
        if (weights.length != pool.size()) {
            throw new IllegalArgumentException("multislerp has " + weights.length + " weights for a pool of " + pool.size()
                    + " candidates");
        }
    }

    @Override
    double[] combination(String name, double[][] gram) {
        int n = gram.length;
        if (n == 1) {
            return new double[] {1, 0}; // one model: itself
        }
        double[] w = Arrays.copyOf(coefficients(gram, name), n + 1);
        if (fromBase) {
            // θ₀ + Σ c_i (θ_i − θ₀)
            double sum = 0;
            for (int i = 0; i < n; i++) {
                sum += w[i];
            }
            w[n] = 1 - sum;
        }
        return w;
    }

    /** The result as Σ c_i v_i, from the Gram matrix of the v_i. */
    double[] coefficients(double[][] g, String name) {
        int n = g.length;
        double[] w = weights.clone();
        if (normalizeWeights) {
            double s = 0;
            for (double x : w) {
                s += x;
            }
            for (int i = 0; i < n; i++) {
                w[i] /= s;
            }
        }
        double[] norm = new double[n];
        double[] m = new double[n]; // m = Σ m_i v_i
        for (int i = 0; i < n; i++) {
            norm[i] = Math.sqrt(Math.max(0, g[i][i]));
            m[i] = w[i] / (norm[i] + EPS);
        }
        double mNorm = length(g, m);
        if (mNorm < EPS) {
            if (n == 2) {
                return w;
            }
            throw new IllegalArgumentException("multislerp cannot merge tensor '" + name + "': the weighted sum of its "
                    + n + " unit vectors is zero (antipodal vectors whose weights balance out); change the weights");
        }
        double[] mHat = new double[n];
        for (int i = 0; i < n; i++) {
            mHat[i] = m[i] / mNorm;
        }
        // T = Σ_i w_i (u_i − ⟨u_i, m̂⟩ m̂): u_i contributes w_i / (‖v_i‖ + ε) to v_i, and Σ w_i⟨u_i, m̂⟩ to m̂
        double along = 0;
        for (int i = 0; i < n; i++) {
            double dot = 0;
            for (int j = 0; j < n; j++) {
                dot += g[i][j] * mHat[j];
            }
            along += w[i] * dot / (norm[i] + EPS);
        }
        double[] t = new double[n];
        for (int i = 0; i < n; i++) {
            t[i] = w[i] / (norm[i] + EPS) - along * mHat[i];
        }
        double tNorm = length(g, t) + EPS;
        double scale = 0;
        for (int i = 0; i < n; i++) {
            scale += norm[i] * w[i];
        }
        double[] c = new double[n];
        for (int i = 0; i < n; i++) {
            c[i] = scale * (mHat[i] * Math.cos(tNorm) + t[i] * Math.sin(tNorm) / tNorm);
        }
        return c;
    }

    @Override
    Map<String, String> settings() {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("method", "multislerp");
        c.put("weights", Arrays.toString(weights));
        c.put("normalizeWeights", Boolean.toString(normalizeWeights));
        c.put("fromBase", Boolean.toString(fromBase));
        return c;
    }

    /**
     * Configures a {@link MultiSlerp}. Each setter may be called once ({@link IllegalStateException} on a
     * second call). Not thread-safe.
     */
    public static final class Builder extends BaselineBuilder<Builder> {
        private double[] weights;
        private Boolean normalizeWeights;
        private Boolean fromBase;

        private Builder() {
        }

        /**
         * The weight of each candidate, in pool order (mergekit {@code weight}; required).
         *
         * @throws IllegalArgumentException if empty or not finite
         */
        public Builder weights(double... w) {
            once(this.weights, "weights");
            if (w.length == 0) {
                throw new IllegalArgumentException("at least one weight is needed");
            }
            for (int i = 0; i < w.length; i++) {
                Support.finite(w[i], "weight of candidate " + (i + 1));
            }
            this.weights = w.clone();
            return this;
        }

        /** Whether the weights are divided by their sum (mergekit {@code normalize_weights}; default true). */
        public Builder normalizeWeights(boolean normalize) {
            once(this.normalizeWeights, "normalizeWeights");
            this.normalizeWeights = normalize;
            return this;
        }

        /**
         * Whether the models are interpolated as offsets from the pool's base (default, mergekit with a
         * {@code base_model}) or as they are (mergekit without one; the pool's base is then not read).
         */
        public Builder fromBase(boolean fromBase) {
            once(this.fromBase, "fromBase");
            this.fromBase = fromBase;
            return this;
        }

        /**
         * The configured merger.
         *
         * @throws IllegalStateException if no weights were given
         */
        public MultiSlerp build() {
            if (weights == null) {
                throw new IllegalStateException("weights are required: one per candidate (mergekit's 'weight' parameter)");
            }
            return new MultiSlerp(this);
        }
    }
}
