package org.fwmerge.baseline;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.fwmerge.MergeFn;
import org.fwmerge.MergeResult;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;

/**
 * TIES merging (Yadav et al., NeurIPS 2023: trim, elect sign, disjoint merge), exactly as the
 * reference code that FusionBench uses ({@code ties_merging_utils.py}), computed in streaming passes.
 *
 * <ol>
 * <li><b>Trim.</b> τ_i = θ_i − θ₀. Over d entries (all merged tensors together —
 *     {@link Trim#WHOLE_MODEL}, the default, as FusionBench flattens the model — or each tensor alone,
 *     {@link Trim#PER_TENSOR}), let keep = ⌊d·k⌋ and t_i the (d − keep)-th smallest |τ_i| (torch
 *     {@code kthvalue}); trim(τ_i) keeps the entries with |τ_i| ≥ t_i and zeroes the rest. As in the
 *     reference, this keeps keep + 1 entries when magnitudes are distinct (the threshold entry itself is
 *     kept) and every entry tied with t_i. With k = 1 every entry is kept. Default k = {@value #DEFAULT_TOP_K}
 *     (FusionBench {@code threshold: 20}, a percentage).</li>
 * <li><b>Elect.</b> e = sign(Σ_i trim(τ_i)) per entry. Where e = 0 it is replaced by the majority sign
 *     sign(Σ over all merged entries of e), or over the tensor's entries with {@link Trim#PER_TENSOR} (the
 *     reference's {@code resolve_zero_signs(…, "majority")}).
 *     If the majority is itself 0, such entries get no value: this is our one deviation — the reference's
 *     {@code torch.where(e > 0, τ > 0, τ < 0)} would keep the negative entries there, an artefact of the
 *     expression rather than a rule.</li>
 * <li><b>Disjoint merge.</b> An entry of trim(τ_i) is kept if it has the elected sign strictly
 *     (τ &gt; 0 where e &gt; 0, τ &lt; 0 where e &lt; 0; zeros never count). {@link Combine#SUM} (default,
 *     FusionBench {@code merge_func: sum}) adds the kept entries; {@link Combine#MEAN} divides the sum
 *     by the number of kept entries (at least 1).</li>
 * <li>θ = θ₀ + λ·merged, λ = {@value #DEFAULT_SCALING} by default (FusionBench {@code scaling_factor: 0.3}).</li>
 * </ol>
 *
 * <p>Streaming: each τ_i's threshold is found exactly by a two-pass radix selection over the float
 * bits of |τ_i| (a 2^16-bucket histogram, no copy of τ_i); then one pass accumulates
 * S = Σ_i trim(τ_i) in the output and counts the majority; a last pass per tensor combines. Memory:
 * O(1) in the number of models — the output, one tensor-sized copy of S (and a tensor-sized count for
 * the mean), the base tensor and one streamed candidate tensor. Each candidate is read 4 times
 * (whole-model trim) or 4 times per tensor (per-tensor trim).
 */
public final class Ties extends BaselineMerger {

    /** Default scaling λ (FusionBench). */
    public static final double DEFAULT_SCALING = 0.3;
    /** Default fraction of entries kept by the trim (FusionBench {@code threshold: 20}%). */
    public static final double DEFAULT_TOP_K = 0.2;

    /** Over which entries the top-k magnitude threshold of each task vector is taken. */
    public enum Trim {
        /**
         * One threshold per task vector over all merged tensors together, and one majority sign for tied
         * elections over them (default, as FusionBench, which flattens the model).
         */
        WHOLE_MODEL,
        /**
         * Everything per tensor: one threshold per task vector and tensor, and the majority sign that
         * settles tied elections taken over that tensor alone.
         */
        PER_TENSOR
    }

    /** How the entries that agree with the elected sign are combined. */
    public enum Combine {
        /** Their sum (default, FusionBench {@code merge_func: sum}). */
        SUM,
        /** Their mean over the agreeing entries (the TIES paper's disjoint mean). */
        MEAN
    }

    private final double scaling;
    private final double topK;
    private final Trim trim;
    private final Combine combine;

    private Ties(Builder b) {
        super(b);
        this.scaling = b.scaling == null ? DEFAULT_SCALING : b.scaling;
        this.topK = b.topK == null ? DEFAULT_TOP_K : b.topK;
        this.trim = b.trim == null ? Trim.WHOLE_MODEL : b.trim;
        this.combine = b.combine == null ? Combine.SUM : b.combine;
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
        b.topK = topK;
        b.trim = trim;
        b.combine = combine;
        return b.copySelection(parameters, backend);
    }

    /** {@link #mergeFn(double, Trim)} with k = {@value #DEFAULT_TOP_K} over the whole model. */
    public static MergeFn mergeFn() {
        return mergeFn(DEFAULT_TOP_K, Trim.WHOLE_MODEL);
    }

    /**
     * TIES as an FW-hard merge function, as in the authors' code: out = x + γ·TIES({s − x}). With a
     * single task vector, sign election keeps every trimmed entry, so this is out = x + γ·trim_k(s − x)
     * (trim as in step 1 above). It may leave the convex hull of the pool ({@code staysInHull()} is
     * false), so Frank-Wolfe's guarantees no longer hold; memory: x, out and one tensor of s.
     *
     * @param topK fraction of entries of s − x kept, in (0, 1]
     * @throws IllegalArgumentException if {@code topK} is outside (0, 1]
     */
    public static MergeFn mergeFn(double topK, Trim trim) {
        checkTopK(topK);
        return new DirectionMergeFn(topK, Objects.requireNonNull(trim, "trim"), null);
    }

    static double checkTopK(double k) {
        if (!(k > 0 && k <= 1)) {
            throw new IllegalArgumentException("topK must be a fraction in (0, 1], got " + k);
        }
        return k;
    }

    /**
     * Merges the pool by TIES.
     *
     * @throws IllegalArgumentException     if the selection matches no tensor
     * @throws java.io.UncheckedIOException if a checkpoint cannot be read
     */
    @Override
    public MergeResult merge(ModelPool pool) {
        Objects.requireNonNull(pool, "pool");
        return run(pool, null, "ties", configuration());
    }

    /** TIES over the task vectors, optionally dropped by DARE first (DARE-TIES). */
    MergeResult run(ModelPool pool, DropMask drop, String method, Map<String, String> settings) {
        long start = System.nanoTime();
        List<String> names = pool.select(parameters);
        Model out = Support.zeros(pool, names, backend, method);
        try {
            Deltas d = new Deltas(pool.base(), pool.candidates(), drop, null);
            TaskVectorKernel.merge(d, d.plain(), names, spec(pool.size(), topK, trim, combine, scaling), out);
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return Support.result(out, method, settings, pool, start);
    }

    /** FusionBench's TIES as the task-vector kernel runs it: one k for all, every tie kept, majority sign. */
    static TaskVectorKernel.Spec spec(int candidates, double topK, Trim trim, Combine combine, double scaling) {
        double[] density = new double[candidates];
        java.util.Arrays.fill(density, topK);
        return new TaskVectorKernel.Spec(density, null, trim == Trim.WHOLE_MODEL, false, null, false,
                TaskVectorKernel.Election.MAJORITY,
                combine == Combine.MEAN ? TaskVectorKernel.Mix.MEAN : TaskVectorKernel.Mix.SUM, scaling);
    }

    /** The TIES settings (without the method name), for this and DARE-TIES provenance. */
    Map<String, String> tiesSettings() {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("scaling", Double.toString(scaling));
        c.put("topK", Double.toString(topK));
        c.put("trim", trim.toString());
        c.put("combine", combine.toString());
        return c;
    }

    @Override
    Map<String, String> settings() {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("method", "ties");
        c.putAll(tiesSettings());
        return c;
    }

    /**
     * Configures a {@link Ties}. Each setting is checked when set; each setter may be
     * called once ({@link IllegalStateException} on a second call); {@link #build()} leaves the builder unchanged. Not thread-safe.
     */
    public static final class Builder extends BaselineBuilder<Builder> {
        private Double scaling;
        private Double topK;
        private Trim trim;
        private Combine combine;

        private Builder() {
        }

        /**
         * The scaling λ of the merged task vector (default {@value Ties#DEFAULT_SCALING}).
         *
         * @throws IllegalArgumentException if not finite
         */
        public Builder scaling(double lambda) {
            once(this.scaling, "scaling");
            this.scaling = Support.finite(lambda, "scaling");
            return this;
        }

        /**
         * The fraction k of entries of each task vector kept by the trim (default {@value Ties#DEFAULT_TOP_K}).
         *
         * @throws IllegalArgumentException if outside (0, 1]
         */
        public Builder topK(double k) {
            once(this.topK, "topK");
            this.topK = checkTopK(k);
            return this;
        }

        /** Whole-model (default) or per-tensor trim threshold. */
        public Builder trim(Trim trim) {
            once(this.trim, "trim");
            this.trim = Objects.requireNonNull(trim, "trim");
            return this;
        }

        /** Sum (default) or mean of the agreeing entries. */
        public Builder combine(Combine combine) {
            once(this.combine, "combine");
            this.combine = Objects.requireNonNull(combine, "combine");
            return this;
        }

        /** The configured merger. */
        public Ties build() {
            return new Ties(this);
        }
    }
}
