package org.fwmerge.baseline;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.fwmerge.MergeFn;
import org.fwmerge.MergeResult;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.tensor.Tensor;

/**
 * DARE, "drop and rescale" (Yu et al., ICML 2024): every entry of each task vector τ_i = θ_i − θ₀ is
 * dropped (set to 0) with probability p and the kept entries are multiplied by 1/(1 − p), so
 * E[DARE(τ_i)] = τ_i; then the dropped task vectors are merged by
 * <ul>
 * <li><b>DARE-TA</b> (default): θ = θ₀ + λ Σ_i DARE(τ_i), λ = {@value #DEFAULT_SCALING}
 *     (FusionBench {@code dare/task_arithmetic}: {@code scaling_factor: 0.3, sparsity_ratio: 0.5, rescale: true});</li>
 * <li><b>DARE-TIES</b> ({@link Builder#ties(Ties)}): the given {@link Ties} merger (its λ, k, trim and
 *     combination) applied to the dropped task vectors. FusionBench's {@code dare/ties_merging} config
 *     uses λ = 0.5 with k = 20%, sum; build that with {@code Ties.builder().scaling(0.5).build()}.</li>
 * </ul>
 * p = {@value #DEFAULT_DROP_RATE} by default. An entry is kept when a uniform u ∈ [0, 1) has u ≥ p (the
 * reference: {@code rand > p}). Randomness is seeded ({@value #DEFAULT_SEED} by default) and
 * reproducible: candidate i's tensor {@code name} draws from its own stream, seeded from
 * (seed, i, name), consumed in element order, so the result depends neither on chunk sizes, nor on the
 * number of passes an algorithm makes, nor on other tensors or candidates.
 *
 * <p>Memory: O(1) in the number of models — as task arithmetic (DARE-TA) or TIES (DARE-TIES), plus
 * fixed chunk buffers.
 */
public final class Dare extends BaselineMerger {

    /** Default drop probability p (FusionBench {@code sparsity_ratio: 0.5}). */
    public static final double DEFAULT_DROP_RATE = 0.5;
    /** Default scaling λ of DARE-TA (FusionBench). */
    public static final double DEFAULT_SCALING = 0.3;
    /** Default seed. */
    public static final long DEFAULT_SEED = 0L;

    private final DropMask drop;
    private final double scaling;
    private final Ties ties; // null: DARE-TA

    private Dare(Builder b) {
        // DARE-TIES merges with its TIES merger's selection and backend
        super(b.ties == null ? b.selection() : b.ties.parameters, b.ties == null ? b.tensorBackend() : b.ties.backend);
        this.drop = new DropMask(b.dropRate == null ? DEFAULT_DROP_RATE : b.dropRate,
                b.rescale == null || b.rescale, b.seed == null ? DEFAULT_SEED : b.seed);
        this.scaling = b.scaling == null ? DEFAULT_SCALING : b.scaling;
        this.ties = b.ties;
    }

    /** A builder with every setting at its default (DARE-TA, p = 0.5, λ = 0.3, seed 0). */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A builder that starts from this merger's settings, to vary it; the merger itself is unchanged.
     * As on any builder, each setter may be called once.
     */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.dropRate = drop.p;
        b.rescale = drop.rescale;
        b.seed = drop.seed;
        if (ties != null) {
            b.ties = ties; // DARE-TIES: scaling, selection and backend belong to the TIES merger
            return b;
        }
        b.scaling = scaling;
        return b.copySelection(parameters, backend);
    }

    /**
     * DARE as an FW-hard merge function, as in the authors' code: out = x + γ·DARE(s − x), with
     * rescaling. It may leave the convex hull of the pool ({@code staysInHull()} is false). The mask of
     * tensor {@code name} is seeded from (seed, name, ‖x_name‖²): fixed for a given x — so every
     * line-search trial of one iteration sees the same mask and γ ↦ ℓ is a smooth path — and different
     * once x has moved, so later iterations drop other entries. Memory: x, out and one tensor of s.
     *
     * @throws IllegalArgumentException if {@code dropRate} is outside [0, 1)
     */
    public static MergeFn mergeFn(double dropRate, long seed) {
        return new DirectionMergeFn(Double.NaN, null, new DropMask(checkDropRate(dropRate), true, seed));
    }

    private static double checkDropRate(double p) {
        if (!(p >= 0 && p < 1)) {
            throw new IllegalArgumentException("dropRate must be in [0, 1), got " + p);
        }
        return p;
    }

    /**
     * Merges the pool by DARE-TA or DARE-TIES.
     *
     * @throws IllegalArgumentException     if the selection matches no tensor
     * @throws java.io.UncheckedIOException if a checkpoint cannot be read
     */
    @Override
    public MergeResult merge(ModelPool pool) {
        Objects.requireNonNull(pool, "pool");
        if (ties != null) {
            return ties.run(pool, drop, "dare-ties", configuration());
        }
        long start = System.nanoTime();
        List<String> names = pool.select(parameters);
        Model out = Support.zeros(pool, names, backend, "dare-task-arithmetic");
        try {
            // One sweep per tensor (its drop streams run from its start), tensors in parallel.
            Deltas d = new Deltas(pool.base(), pool.candidates(), drop, null);
            TaskVectorKernel.merge(d, d.plain(), names, new TaskVectorKernel.Spec(null, null, false, false, null, false,
                    TaskVectorKernel.Election.NONE, TaskVectorKernel.Mix.SUM, scaling), out);
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return Support.result(out, "dare-task-arithmetic", configuration(), pool, start);
    }

    @Override
    Map<String, String> settings() {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("method", ties == null ? "dare-task-arithmetic" : "dare-ties");
        c.put("dropRate", Double.toString(drop.p));
        c.put("rescale", Boolean.toString(drop.rescale));
        c.put("seed", Long.toString(drop.seed));
        if (ties == null) {
            c.put("scaling", Double.toString(scaling));
        } else {
            c.putAll(ties.tiesSettings());
        }
        return c;
    }

    /**
     * Configures a {@link Dare}. Each setting is checked when set; each setter may be
     * called once ({@link IllegalStateException} on a second call); {@link #build()} checks the combination and leaves the
     * builder unchanged. Not thread-safe.
     */
    public static final class Builder extends BaselineBuilder<Builder> {
        private Double dropRate;
        private Long seed;
        private Boolean rescale;
        private Double scaling;
        private Ties ties;

        private Builder() {
        }

        /**
         * The drop probability p (default {@value Dare#DEFAULT_DROP_RATE}).
         *
         * @throws IllegalArgumentException if outside [0, 1)
         */
        public Builder dropRate(double p) {
            once(this.dropRate, "dropRate");
            this.dropRate = checkDropRate(p);
            return this;
        }

        /** The seed of the drop masks (default {@value Dare#DEFAULT_SEED}). */
        public Builder seed(long seed) {
            once(this.seed, "seed");
            this.seed = seed;
            return this;
        }

        /** Whether kept entries are multiplied by 1/(1 − p) (default true, as DARE and FusionBench). */
        public Builder rescale(boolean rescale) {
            once(this.rescale, "rescale");
            this.rescale = rescale;
            return this;
        }

        /**
         * DARE-TA's scaling λ (default {@value Dare#DEFAULT_SCALING}); not with {@link #ties}.
         *
         * @throws IllegalArgumentException if not finite
         */
        public Builder scaling(double lambda) {
            once(this.scaling, "scaling");
            this.scaling = Support.finite(lambda, "scaling");
            return this;
        }

        /**
         * Switches to DARE-TIES: the dropped task vectors are merged by this TIES merger, whose scaling,
         * trim, combination, parameter selection and backend apply.
         */
        public Builder ties(Ties ties) {
            once(this.ties, "ties");
            this.ties = Objects.requireNonNull(ties, "ties");
            return this;
        }

        /**
         * The configured merger.
         *
         * @throws IllegalStateException if {@link #ties} was combined with {@link #scaling},
         *                               {@link #parameters} or {@link #backend}, which the TIES merger defines
         */
        public Dare build() {
            if (ties != null && (called("scaling") || setsSelectionOrBackend())) {
                throw new IllegalStateException("DARE-TIES takes scaling, parameters and backend from its TIES merger "
                        + ties + "; set them there, not on the DARE builder");
            }
            return new Dare(this);
        }
    }
}
