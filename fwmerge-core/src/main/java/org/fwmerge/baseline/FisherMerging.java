package org.fwmerge.baseline;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.fwmerge.Evaluation;
import org.fwmerge.MergeResult;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.Objective;
import org.fwmerge.internal.Guard;
import org.fwmerge.tensor.Tensor;

/**
 * Fisher merging (Matena &amp; Raffel, NeurIPS 2022) with a diagonal Fisher estimated from squared
 * gradients, as FusionBench implements it ({@code fisher_merging.py}, after MergeLM):
 *
 * <pre>
 *   F_i = mean over terms t of (∇ℓ_{i,t}(θ_i))²     (element-wise; ℓ_i = the i-th candidate's own objective)
 *   c_i = 1 / (s(F_i) + ε)                          (s: L2 norm over all merged entries by default; c_i = 1 with NONE)
 *   θ   = Σ_i c_i (F_i + ε) θ_i / Σ_i c_i (F_i + ε)
 * </pre>
 *
 * Each candidate has its own calibration objective ({@link Builder#objectives}, pool order), evaluated
 * at that candidate. If an objective is a sum ({@link Objective#terms()} non-empty, e.g. one term per
 * batch or per example) the Fisher is the mean of the terms' squared gradients — the empirical Fisher
 * FusionBench computes over batches; otherwise it is the square of the one gradient of the whole loss,
 * a coarser approximation (squared mean gradient, not mean squared gradient) that tends to zero where
 * per-example gradients cancel. The floor ε = {@value #DEFAULT_FLOOR} (FusionBench
 * {@code minimal_fisher_weight: 1e-6}) keeps the denominator positive; the default normalisation
 * {@link Normalization#L2} is FusionBench's {@code normalize_fisher_weight: true} (each model's Fisher
 * divided by its L2 norm, so models weigh in equally overall; the uniform 1/n factor FusionBench also
 * applies cancels in the ratio).
 *
 * <p>Memory: O(1) in the number of models — one candidate loaded as a model (its objective needs it),
 * its gradient, its Fisher, and the numerator and denominator buffers.
 */
public final class FisherMerging extends BaselineMerger {

    /** Default floor ε added to every Fisher value (FusionBench {@code minimal_fisher_weight}). */
    public static final double DEFAULT_FLOOR = 1e-6;

    /** The per-model statistic s(F_i) each Fisher is divided by (as c_i = 1/(s + ε)). */
    public enum Normalization {
        /** No normalisation: c_i = 1. */
        NONE,
        /** The L2 norm √(Σ F²) over all merged entries (default, FusionBench). */
        L2,
        /** The mean of F_i over all merged entries. */
        MEAN,
        /** The largest entry of F_i. */
        MAX
    }

    private final List<Objective> objectives;
    private final double floor;
    private final Normalization normalization;

    private FisherMerging(Builder b) {
        super(b);
        this.objectives = b.objectives;
        this.floor = b.floor == null ? DEFAULT_FLOOR : b.floor;
        this.normalization = b.normalization == null ? Normalization.L2 : b.normalization;
    }

    /**
     * A builder that starts from this merger's settings, to vary it; the merger itself is unchanged.
     * As on any builder, each setter may be called once.
     */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.objectives = objectives;
        b.floor = floor;
        b.normalization = normalization;
        return b.copySelection(parameters, backend);
    }

    /** A builder; the per-candidate objectives are required. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Merges the pool weighted by the candidates' Fisher information.
     *
     * @throws IllegalArgumentException            if the number of objectives differs from the pool size,
     *                                             or the selection matches no tensor
     * @throws org.fwmerge.NonFiniteValueException if an objective returns NaN or infinity
     * @throws IllegalStateException               if an objective omits a gradient or returns a wrong shape
     * @throws java.io.UncheckedIOException        if a checkpoint cannot be read
     */
    @Override
    public MergeResult merge(ModelPool pool) {
        Objects.requireNonNull(pool, "pool");
        if (objectives.size() != pool.size()) {
            throw new IllegalArgumentException(objectives.size() + " Fisher objectives were given for a pool of "
                    + pool.size() + " candidates; give one per candidate, in pool order");
        }
        long start = System.nanoTime();
        List<String> names = pool.select(parameters);
        Model num = Support.zeros(pool, names, backend, "fisher");
        float[] f = new float[Support.CHUNK];
        float[] x = new float[Support.CHUNK];
        float[] nb = new float[Support.CHUNK];
        float[] db = new float[Support.CHUNK];
        try (Model den = Model.zerosLike(num)) {
            for (int i = 0; i < pool.size(); i++) {
                Guard guard = new Guard("Fisher merging, candidate " + (i + 1));
                try (Model theta = Model.load(pool.candidates().get(i), names, backend);
                        Model fisher = Model.zerosLike(theta)) {
                    fisherOf(objectives.get(i), theta, fisher, guard);
                    double c = normalization == Normalization.NONE ? 1.0 : 1.0 / (statistic(fisher) + floor);
                    for (String name : names) {
                        Tensor ft = fisher.tensor(name);
                        Tensor tt = theta.tensor(name);
                        Tensor nt = num.tensor(name);
                        Tensor dt = den.tensor(name);
                        for (long off = 0; off < ft.size(); off += Support.CHUNK) {
                            int len = (int) Math.min(Support.CHUNK, ft.size() - off);
                            backend.get(ft, off, f, 0, len);
                            backend.get(tt, off, x, 0, len);
                            backend.get(nt, off, nb, 0, len);
                            backend.get(dt, off, db, 0, len);
                            for (int k = 0; k < len; k++) {
                                double w = c * (f[k] + floor);
                                nb[k] = (float) (nb[k] + w * x[k]);
                                db[k] = (float) (db[k] + w);
                            }
                            backend.set(nt, off, nb, 0, len);
                            backend.set(dt, off, db, 0, len);
                        }
                    }
                }
            }
            for (String name : names) {
                Tensor nt = num.tensor(name);
                Tensor dt = den.tensor(name);
                for (long off = 0; off < nt.size(); off += Support.CHUNK) {
                    int len = (int) Math.min(Support.CHUNK, nt.size() - off);
                    backend.get(nt, off, nb, 0, len);
                    backend.get(dt, off, db, 0, len);
                    for (int k = 0; k < len; k++) {
                        nb[k] /= db[k];
                    }
                    backend.set(nt, off, nb, 0, len);
                }
            }
        } catch (RuntimeException e) {
            num.close();
            throw e;
        }
        return Support.result(num, "fisher", configuration(), pool, start);
    }

    /** fisher ← mean over terms of g_t² (or g² of the whole objective if it has no terms). */
    private void fisherOf(Objective objective, Model theta, Model fisher, Guard guard) {
        List<Objective> terms = objective.terms().isEmpty() ? List.of(objective) : objective.terms();
        float[] g = new float[Support.CHUNK];
        float[] acc = new float[Support.CHUNK];
        for (int t = 0; t < terms.size(); t++) {
            try (Evaluation e = terms.get(t).evaluate(theta)) {
                guard.evaluation(e, theta, t);
                for (String name : theta.names()) {
                    Tensor gt = e.gradient(name);
                    Tensor ft = fisher.tensor(name);
                    for (long off = 0; off < ft.size(); off += Support.CHUNK) {
                        int len = (int) Math.min(Support.CHUNK, ft.size() - off);
                        backend.get(gt, off, g, 0, len);
                        backend.get(ft, off, acc, 0, len);
                        for (int k = 0; k < len; k++) {
                            acc[k] += g[k] * g[k];
                        }
                        backend.set(ft, off, acc, 0, len);
                    }
                }
            }
        }
        if (terms.size() > 1) {
            for (Tensor ft : fisher.tensors().values()) {
                backend.scale(1.0 / terms.size(), ft);
            }
        }
    }

    private double statistic(Model fisher) {
        switch (normalization) {
            case L2: {
                double s = 0;
                for (Tensor t : fisher.tensors().values()) {
                    s += backend.dot(t, t);
                }
                return Math.sqrt(s);
            }
            default: {
                double sum = 0;
                double max = 0;
                long count = 0;
                float[] buf = new float[Support.CHUNK];
                for (Tensor t : fisher.tensors().values()) {
                    for (long off = 0; off < t.size(); off += Support.CHUNK) {
                        int len = (int) Math.min(Support.CHUNK, t.size() - off);
                        backend.get(t, off, buf, 0, len);
                        for (int k = 0; k < len; k++) {
                            sum += buf[k];
                            max = Math.max(max, buf[k]);
                        }
                    }
                    count += t.size();
                }
                return normalization == Normalization.MEAN ? sum / Math.max(count, 1) : max;
            }
        }
    }

    @Override
    Map<String, String> settings() {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("method", "fisher");
        c.put("objectives", objectives.toString());
        c.put("floor", Double.toString(floor));
        c.put("normalization", normalization.toString());
        return c;
    }

    /**
     * Configures a {@link FisherMerging}. Each setting is checked when set; each setter may be
     * called once ({@link IllegalStateException} on a second call); {@link #build()} checks that objectives were given and
     * leaves the builder unchanged. Not thread-safe.
     */
    public static final class Builder extends BaselineBuilder<Builder> {
        private List<Objective> objectives;
        private Double floor;
        private Normalization normalization;

        private Builder() {
        }

        /**
         * One calibration objective per candidate, in pool order; objective i is evaluated at candidate i
         * (required).
         *
         * @throws IllegalArgumentException if the list is empty
         */
        public Builder objectives(List<? extends Objective> objectives) {
            Objects.requireNonNull(objectives, "objectives");
            once(this.objectives, "objectives");
            if (objectives.isEmpty()) {
                throw new IllegalArgumentException("objectives must not be empty: give one per candidate");
            }
            this.objectives = List.copyOf(objectives);
            return this;
        }

        /**
         * The floor ε added to every Fisher value (default {@value FisherMerging#DEFAULT_FLOOR}).
         *
         * @throws IllegalArgumentException unless finite and &gt; 0
         */
        public Builder floor(double epsilon) {
            once(this.floor, "floor");
            if (!(epsilon > 0 && Double.isFinite(epsilon))) {
                throw new IllegalArgumentException("floor must be finite and > 0, got " + epsilon);
            }
            this.floor = epsilon;
            return this;
        }

        /** How each model's Fisher is normalised (default {@link Normalization#L2}). */
        public Builder normalization(Normalization normalization) {
            once(this.normalization, "normalization");
            this.normalization = Objects.requireNonNull(normalization, "normalization");
            return this;
        }

        /**
         * The configured merger.
         *
         * @throws IllegalStateException if no objectives were set
         */
        public FisherMerging build() {
            if (objectives == null) {
                throw new IllegalStateException("objectives are required: call objectives(...) with one per candidate");
            }
            return new FisherMerging(this);
        }
    }
}
