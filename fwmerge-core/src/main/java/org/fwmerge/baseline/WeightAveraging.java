package org.fwmerge.baseline;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.fwmerge.MergeResult;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.internal.Combine;
import org.fwmerge.internal.Readers;

/**
 * Weight averaging ("model soup"): θ = Σ_i w_i θ_i / Σ_i w_i over the candidates θ₁…θₙ (the base is
 * not averaged in). Without {@linkplain Builder#weights weights}, w_i = 1 (the plain mean, FusionBench
 * {@code simple_average}); with weights they are normalised by their sum unless
 * {@link Builder#normalizeWeights normalizeWeights(false)} asks for Σ_i w_i θ_i as given (FusionBench
 * {@code weighted_average}, whose default is {@code normalize: true}).
 *
 * <p>Memory: O(1) in the number of models — the output plus one streamed candidate tensor.
 */
public final class WeightAveraging extends BaselineMerger {

    /** Whether given weights are normalised by their sum by default (FusionBench {@code normalize: true}). */
    public static final boolean DEFAULT_NORMALIZE_WEIGHTS = true;

    private final double[] weights; // null: uniform
    private final boolean normalize;

    private WeightAveraging(Builder b) {
        super(b);
        this.weights = b.weights == null ? null : b.weights.clone();
        this.normalize = b.normalize == null ? DEFAULT_NORMALIZE_WEIGHTS : b.normalize;
    }

    /**
     * A builder that starts from this merger's settings, to vary it; the merger itself is unchanged.
     * As on any builder, each setter may be called once.
     */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.weights = weights == null ? null : weights.clone();
        b.normalize = normalize;
        return b.copySelection(parameters, backend);
    }

    /** A builder with every setting at its default (uniform mean of all tensors). */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Averages the candidates.
     *
     * @throws IllegalArgumentException     if weights were given and their number differs from the pool size,
     *                                      or the selection matches no tensor
     * @throws java.io.UncheckedIOException if a checkpoint cannot be read
     */
    @Override
    public MergeResult merge(ModelPool pool) {
        Objects.requireNonNull(pool, "pool");
        long start = System.nanoTime();
        int n = pool.size();
        if (weights != null && weights.length != n) {
            throw new IllegalArgumentException(weights.length + " weights were given for a pool of " + n + " candidates");
        }
        double[] w = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            w[i] = weights == null ? 1 : weights[i];
            sum += w[i];
        }
        double norm = weights == null || normalize ? sum : 1;
        List<String> names = pool.select(parameters);
        Model out = Support.zeros(pool, names, backend, "weight-averaging");
        try {
            double[] scaled = new double[n];
            for (int i = 0; i < n; i++) {
                scaled[i] = w[i] / norm;
            }
            for (String name : names) {
                try (Readers c = Readers.open(pool.candidates(), name)) {
                    Combine.into(out.tensor(name), scaled, c.all());
                }
            }
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return Support.result(out, "weight-averaging", configuration(), pool, start);
    }

    @Override
    Map<String, String> settings() {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("method", "weight-averaging");
        c.put("weights", weights == null ? "uniform" : Arrays.toString(weights));
        c.put("normalizeWeights", Boolean.toString(weights == null || normalize));
        return c;
    }

    /**
     * Configures a {@link WeightAveraging}. Each setting is checked when set; each setter may be
     * called once ({@link IllegalStateException} on a second call); {@link #build()} leaves the builder unchanged. Not thread-safe.
     */
    public static final class Builder extends BaselineBuilder<Builder> {
        private double[] weights;
        private Boolean normalize;

        private Builder() {
        }

        /**
         * One weight per candidate, in pool order (default: uniform).
         *
         * @throws IllegalArgumentException if empty or a weight is not finite
         */
        public Builder weights(double... weights) {
            Objects.requireNonNull(weights, "weights");
            once(this.weights == null ? null : Arrays.toString(this.weights), "weights");
            if (weights.length == 0) {
                throw new IllegalArgumentException("weights must not be empty");
            }
            for (int i = 0; i < weights.length; i++) {
                if (!Double.isFinite(weights[i])) {
                    throw new IllegalArgumentException("weight " + i + " must be finite, got " + weights[i]);
                }
            }
            this.weights = weights.clone();
            return this;
        }

        /** Whether given weights are divided by their sum (default {@value WeightAveraging#DEFAULT_NORMALIZE_WEIGHTS}). */
        public Builder normalizeWeights(boolean normalize) {
            once(this.normalize, "normalizeWeights");
            this.normalize = normalize;
            return this;
        }

        /**
         * The configured merger.
         *
         * @throws IllegalStateException if normalised weights sum to zero
         */
        public WeightAveraging build() {
            if (weights != null && (normalize == null || normalize) && Arrays.stream(weights).sum() == 0) {
                throw new IllegalStateException("weights " + Arrays.toString(weights)
                        + " sum to 0 and cannot be normalised; use normalizeWeights(false) or other weights");
            }
            return new WeightAveraging(this);
        }
    }
}
