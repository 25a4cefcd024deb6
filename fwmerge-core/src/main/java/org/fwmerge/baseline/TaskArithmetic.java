package org.fwmerge.baseline;

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
 * Task arithmetic (Ilharco et al., ICLR 2023): θ = θ₀ + λ Σ_i τ_i with τ_i = θ_i − θ₀ and
 * λ = {@value #DEFAULT_SCALING} by default (FusionBench {@code task_arithmetic}, {@code scaling_factor: 0.3}).
 * Each τ_i is formed exactly (θ_i − θ₀ per tensor, then summed), not as Σθ_i − nθ₀, which would lose
 * the small differences to float cancellation.
 *
 * <p>Memory: O(1) in the number of models — the output, the base tensor, one streamed candidate
 * tensor and one tensor-sized scratch.
 */
public final class TaskArithmetic extends BaselineMerger {

    /** Default scaling λ (FusionBench). */
    public static final double DEFAULT_SCALING = 0.3;

    private final double scaling;

    private TaskArithmetic(Builder b) {
        super(b);
        this.scaling = b.scaling == null ? DEFAULT_SCALING : b.scaling;
    }

    /** A builder with every setting at its default. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A builder that starts from this merger's settings, to vary it; the merger itself is unchanged.
     * As on any builder, each setter may be called once.
     */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.scaling = scaling;
        return b.copySelection(parameters, backend);
    }

    /**
     * Adds the scaled sum of task vectors to the base.
     *
     * @throws IllegalArgumentException     if the selection matches no tensor
     * @throws java.io.UncheckedIOException if a checkpoint cannot be read
     */
    @Override
    public MergeResult merge(ModelPool pool) {
        Objects.requireNonNull(pool, "pool");
        long start = System.nanoTime();
        List<String> names = pool.select(parameters);
        Model out = Support.zeros(pool, names, backend, "task-arithmetic");
        try {
            // base + λ·Σ_i (c_i − base) = (1 − nλ)·base + λ·Σ_i c_i, summed in double per element.
            int n = pool.size();
            double[] w = new double[n + 1];
            java.util.Arrays.fill(w, scaling);
            w[n] = 1 - n * scaling;
            List<Checkpoint> sources = new java.util.ArrayList<>(pool.candidates());
            sources.add(pool.base());
            for (String name : names) {
                try (Readers r = Readers.open(sources, name)) {
                    Combine.into(out.tensor(name), w, r.all());
                }
            }
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return Support.result(out, "task-arithmetic", configuration(), pool, start);
    }

    @Override
    Map<String, String> settings() {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("method", "task-arithmetic");
        c.put("scaling", Double.toString(scaling));
        return c;
    }

    /**
     * Configures a {@link TaskArithmetic}. Each setting is checked when set; each setter may be
     * called once ({@link IllegalStateException} on a second call); {@link #build()} leaves the builder unchanged. Not thread-safe.
     */
    public static final class Builder extends BaselineBuilder<Builder> {
        private Double scaling;

        private Builder() {
        }

        /**
         * The scaling λ (default {@value TaskArithmetic#DEFAULT_SCALING}).
         *
         * @throws IllegalArgumentException if not finite
         */
        public Builder scaling(double lambda) {
            once(this.scaling, "scaling");
            this.scaling = Support.finite(lambda, "scaling");
            return this;
        }

        /** The configured merger. */
        public TaskArithmetic build() {
            return new TaskArithmetic(this);
        }
    }
}
