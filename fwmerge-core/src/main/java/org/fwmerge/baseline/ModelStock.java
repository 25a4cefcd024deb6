package org.fwmerge.baseline;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.fwmerge.MergeResult;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.internal.Combine;
import org.fwmerge.internal.Readers;
import org.fwmerge.io.Checkpoint;

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
public final class ModelStock extends BaselineMerger {

    private static final double EPS = 1e-6;
        private ModelStock(Builder b) {
        super(b);
    }

    /** A builder (the method has no setting of its own). */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Merges the pool.
     *
     * @throws IllegalArgumentException     if the pool has fewer than two candidates, or the selection matches no tensor
     * @throws java.io.UncheckedIOException if a checkpoint cannot be read
     */
    @Override
    public MergeResult merge(ModelPool pool) {
        Objects.requireNonNull(pool, "pool");
        int n = pool.size();
        if (n < 2) {
            throw new IllegalArgumentException("model_stock needs the base and at least two other models; the pool has "
                    + n + " candidate" + (n == 1 ? "" : "s"));
        }
        long start = System.nanoTime();
        List<String> names = pool.select(parameters);
        Model out = Support.zeros(pool, names, backend, "model-stock");
        try {
            List<Checkpoint> sources = new ArrayList<>(pool.candidates());
            sources.add(pool.base());
            for (String name : names) {
                try (Readers r = Readers.open(sources, name)) {
                    double t = ratio(Support.gram(r.all(), true));
                    double[] w = new double[n + 1];
                    java.util.Arrays.fill(w, 0, n, t / n);
                    w[n] = 1 - t;
                    Combine.into(out.tensor(name), w, r.all());
                }
            }
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return Support.result(out, "model-stock", configuration(), pool, start);
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
