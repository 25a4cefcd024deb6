package org.fwmerge.baseline;

import java.util.LinkedHashMap;
import java.util.Map;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;

/**
 * Model Stock (Jang et al., ECCV 2024) as mergekit's {@code model_stock} ({@code merge_methods/model_stock.py})
 * defines it, per tensor: with τ_i = θ_i − θ₀ over N ≥ 2 candidates, c the mean over pairs i &lt; j of
 * clamp(⟨τ_i, τ_j⟩ / max(‖τ_i‖‖τ_j‖, 10⁻⁶), −1, 1), and t = N·c / (1 + (N − 1)·c):
 * θ = t·(Σ_i θ_i / N) + (1 − t)·θ₀ (mergekit's default, not {@code filter_wise}).
 *
 * <p>Inner products are summed in double over fixed blocks added in order (results do not depend on the
 * core count); the output is formed in double and rounded once. Two streamed passes per tensor; memory:
 * the output, an N×N matrix and chunk buffers.
 */
public final class ModelStock extends GramMerger {

    private static final double EPS = 1e-6;
        private ModelStock(Builder b) {
        super(b);
    }

    /** A builder (the method has no setting of its own). */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    String method() {
        return "model-stock";
    }

    @Override
    boolean differences() {
        return true;
    }

    @Override
    void check(ModelPool pool) {
        int n = pool.size();
        if (n < 2) {
            throw new IllegalArgumentException("model_stock needs the base and at least two other models; the pool has "
                    + n + " candidate" + (n == 1 ? "" : "s"));
        }
    }

    @Override
    double[] combination(String name, double[][] gram) {
        int n = gram.length;
        double t = ratio(gram);
        double[] w = new double[n + 1];
        java.util.Arrays.fill(w, 0, n, t / n);
        w[n] = 1 - t;
        return w;
    }

    /** t = N·c / (1 + (N − 1)·c) from the Gram matrix of the task vectors. */
    static double ratio(double[][] g) {
        int n = g.length;
        double sum = 0;
        int pairs = 0;
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                double norms = Math.sqrt(g[i][i]) * Math.sqrt(g[j][j]);
                sum += Math.max(-1, Math.min(1, g[i][j] / Math.max(norms, EPS)));
                pairs++;
            }
        }
        double c = sum / pairs;
        return n * c / (1 + (n - 1) * c);
    }

    @Override
    Map<String, String> settings() {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("method", "model-stock");
        return c;
    }

    /**
     * Configures a {@link ModelStock} (tensor selection and backend only). Each setter may be called once
     * ({@link IllegalStateException} on a second call). Not thread-safe.
     */
    public static final class Builder extends BaselineBuilder<Builder> {
        private Builder() {
        }

        /** The configured merger. */
        public ModelStock build() {
            return new ModelStock(this);
        }
    }
}
