package org.fwmerge;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.fwmerge.internal.Settings;
import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;

/**
 * Frank-Wolfe merging (Chen et al., ICCV 2025, Algorithm 1): minimise ℓ(θ) over the convex hull
 * of the pool {θ₀, θ₁…θₙ} by repeatedly asking a linear minimisation oracle for the checkpoint (or,
 * layer-wise, the per-block checkpoints) that best decreases the linearised loss, and merging
 * toward it.
 *
 * <pre>{@code
 * FrankWolfeMerger merger = FrankWolfeMerger.builder()
 *         .objective(objective)                 // ℓ and ∇ℓ on calibration data
 *         .lmo(Lmo.layerWise())                 // block-coordinate FW
 *         .stepSize(StepSizeRule.lineSearch())  // FW-hard; or .soft(SoftOptions.topK(3))
 *         .maxIterations(10)
 *         .parameters(ParameterSelection.exclude("head\\..*"))
 *         .build();
 * MergeResult result = merger.merge(pool);
 * }</pre>
 *
 * <p><b>FW-hard</b> (default): x_{t+1} = MergeFn(x_t, s_t, γ_t) with γ_t from a {@link StepSizeRule}.
 * <b>FW-soft</b> ({@link Builder#soft}): per-block coefficients over the top-k vertices optimised by
 * projected gradient descent. Every iteration computes the FW gap; the run stops when it is at most
 * the {@link Tolerance}, after the iteration budget, when the step rule finds no better point, or when
 * FW-soft on the probability simplex stagnates ({@link StopReason}). The result is the iterate with
 * the lowest loss seen, with its FW gap ({@link MergeResult#finalGap()}) and the iteration it came
 * from ({@link MergeResult#returnedIteration()}). Memory: x_t, the gradient, one scratch model and one
 * streamed candidate tensor — independent of the pool size — plus a copy of the best iterate while a
 * later one is worse.
 *
 * <p>A merger is immutable and thread-safe, and can merge many pools; all run state is in the
 * {@link MergeResult}.
 */
public final class FrankWolfeMerger implements Merger {

    /**
     * A builder holding this merger's settings, to vary it (say another objective or iteration budget):
     * each setting may be replaced once; the merger itself is unchanged. Switching a copy of an FW-hard
     * merger to {@link Builder#soft} drops its step rule, merge function and pairwise steps.
     */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.objective = objective;
        b.lmo = lmo;
        b.soft = soft;
        if (soft == null) {
            b.stepSize = stepSize;
            b.mergeFn = mergeFn;
            b.pairwise = pairwise;
            b.settings.inherit("stepSize", "mergeFn", "pairwiseSteps");
        }
        b.maxIterations = maxIterations;
        b.tolerance = tolerance;
        b.parameters = parameters;
        b.initialPoint = initialPoint;
        b.listener = listener;
        b.backend = backend;
        b.settings.inherit("objective", "lmo", "soft", "maxIterations", "tolerance", "parameters", "initialPoint",
                "listener", "backend");
        return b;
    }

    /** Default iteration budget T. */
    public static final int DEFAULT_MAX_ITERATIONS = 10;

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(FrankWolfeMerger.class);

    private final Objective objective;
    private final Lmo lmo;
    private final StepSizeRule stepSize;
    private final MergeFn mergeFn;
    private final SoftOptions soft;
    private final int maxIterations;
    private final Tolerance tolerance;
    private final ParameterSelection parameters;
    private final InitialPoint initialPoint;
    private final IterationListener listener;
    private final TensorBackend backend;
    private final boolean pairwise;

    private FrankWolfeMerger(Builder b) {
        this.pairwise = b.pairwise && b.soft == null;
        this.objective = b.objective;
        this.lmo = b.lmo == null ? Lmo.layerWise() : b.lmo;
        this.stepSize = b.stepSize == null ? StepSizeRule.lineSearch() : b.stepSize;
        this.mergeFn = b.mergeFn == null ? MergeFn.convexCombination() : b.mergeFn;
        this.soft = b.soft;
        this.maxIterations = b.maxIterations == 0 ? DEFAULT_MAX_ITERATIONS : b.maxIterations;
        this.tolerance = b.tolerance == null ? Tolerance.defaults() : b.tolerance;
        this.parameters = b.parameters == null ? ParameterSelection.all() : b.parameters;
        this.initialPoint = b.initialPoint == null ? InitialPoint.base() : b.initialPoint;
        this.listener = b.listener == null ? (r, max) -> { } : b.listener;
        this.backend = b.backend == null ? TensorBackends.get() : b.backend;
    }

    /** A builder with every setting at its default; only the objective is required. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Runs Frank-Wolfe on the pool.
     *
     * @throws NonFiniteValueException       if the objective returns NaN or infinity (names the iteration)
     * @throws IllegalStateException         if a plug-in breaks its contract (γ outside [0, 1], a missing
     *                                       gradient, an objective without terms for {@link SoftOptions#perTask()})
     * @throws IllegalArgumentException      if the parameter selection matches nothing or the initial
     *                                       point lacks a merged tensor
     * @throws java.io.UncheckedIOException  if a checkpoint cannot be read
     */
    @Override
    public MergeResult merge(ModelPool pool) {
        Objects.requireNonNull(pool, "pool");
        LOG.debug("FW merge of {} candidates: {}", pool.size(), this);
        MergeResult r = new FrankWolfeRun(this, pool).run();
        LOG.debug("FW merge stopped ({}) after {} iterations in {} ms, loss {}", r.stopReason(), r.iterations().size(),
                r.elapsed().toMillis(), r.finalLoss());
        if (r.stopReason() == StopReason.STAGNATED) {
            LOG.warn("FW-soft stagnated on the probability simplex after {} iterations (gap {}): with {} vertices per"
                    + " step it cannot reach the optimum; raise k or keep the default constraint λ ≥ 0, Σλ ≤ 1",
                    r.iterations().size(), r.finalGap(), soft.isPerTask() ? "one per task" : soft.k());
        }
        return r;
    }

    Objective objective() {
        return objective;
    }

    Lmo lmo() {
        return lmo;
    }

    StepSizeRule stepSize() {
        return stepSize;
    }

    MergeFn mergeFn() {
        return mergeFn;
    }

    SoftOptions soft() {
        return soft;
    }

    int maxIterations() {
        return maxIterations;
    }

    Tolerance tolerance() {
        return tolerance;
    }

    ParameterSelection parameters() {
        return parameters;
    }

    InitialPoint initialPoint() {
        return initialPoint;
    }

    IterationListener listener() {
        return listener;
    }

    TensorBackend backend() {
        return backend;
    }

    boolean pairwise() {
        return pairwise;
    }

    /** The settings as strings (recorded in every result as provenance). */
    Map<String, String> configuration() {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("method", soft == null ? "fw-hard" : "fw-soft");
        c.put("objective", String.valueOf(objective));
        c.put("lmo", lmo.toString());
        if (soft == null) {
            c.put("stepSize", stepSize.toString());
            c.put("mergeFn", mergeFn.toString());
            c.put("pairwise", Boolean.toString(pairwise));
        } else {
            c.put("soft", soft.toString());
        }
        c.put("maxIterations", Integer.toString(maxIterations));
        c.put("tolerance", tolerance.toString());
        c.put("parameters", parameters.toString());
        c.put("initialPoint", initialPoint.toString());
        c.put("backend", backend.name());
        return c;
    }

    @Override
    public String toString() {
        return "FrankWolfeMerger" + configuration();
    }

    /**
     * Configures a {@link FrankWolfeMerger}. Each setting is validated when set and may be set only
     * once ({@link IllegalStateException} otherwise); {@link #build()} checks the combination and
     * leaves the builder unchanged, so it can build several mergers. Not thread-safe.
     */
    public static final class Builder {
        private Objective objective;
        private Lmo lmo;
        private StepSizeRule stepSize;
        private MergeFn mergeFn;
        private SoftOptions soft;
        private int maxIterations;
        private Tolerance tolerance;
        private ParameterSelection parameters;
        private InitialPoint initialPoint;
        private IterationListener listener;
        private TensorBackend backend;
        private boolean pairwise;

        private final Settings settings = new Settings();

        private Builder() {
        }

        private void once(Object current, String name) {
            settings.once(current, name);
        }

        private boolean explicit(Object value, String name) {
            return settings.explicit(value, name);
        }

        /** The loss to minimise (required). */
        public Builder objective(Objective objective) {
            once(this.objective, "objective");
            this.objective = Objects.requireNonNull(objective, "objective");
            return this;
        }

        /** The linear minimisation oracle (default {@link Lmo#layerWise()}). */
        public Builder lmo(Lmo lmo) {
            once(this.lmo, "lmo");
            this.lmo = Objects.requireNonNull(lmo, "lmo");
            return this;
        }

        /** FW-hard's step-size rule (default {@link StepSizeRule#lineSearch()}); not with {@link #soft}. */
        public Builder stepSize(StepSizeRule rule) {
            once(this.stepSize, "stepSize");
            this.stepSize = Objects.requireNonNull(rule, "rule");
            return this;
        }

        /** FW-hard's merge function (default {@link MergeFn#convexCombination()}); not with {@link #soft}. */
        public Builder mergeFn(MergeFn fn) {
            once(this.mergeFn, "mergeFn");
            this.mergeFn = Objects.requireNonNull(fn, "fn");
            return this;
        }

        /**
         * FW-hard with pairwise steps (Lacoste-Julien &amp; Jaggi, NeurIPS 2015): each step moves weight
         * γ·γ_max from the active vertex with the worst score to the LMO vertex (per block), where
         * γ_max is that vertex's current weight, so x_{t+1} = x_t + γ·γ_max·(s_t − a_t). Vanilla FW
         * converges sublinearly ("zig-zags") when the optimum lies on a face of the hull; pairwise
         * steps converge linearly on such problems. Requires the convex-combination merge function.
         */
        public Builder pairwiseSteps() {
            once(pairwise ? Boolean.TRUE : null, "pairwiseSteps");
            this.pairwise = true;
            return this;
        }

        /** Switches to FW-soft with these options (the step-size rule and merge function then do not apply). */
        public Builder soft(SoftOptions options) {
            once(this.soft, "soft");
            this.soft = Objects.requireNonNull(options, "options");
            return this;
        }

        /**
         * The iteration budget T (default {@value FrankWolfeMerger#DEFAULT_MAX_ITERATIONS}).
         *
         * @throws IllegalArgumentException if {@code n < 1}
         */
        public Builder maxIterations(int n) {
            once(maxIterations == 0 ? null : maxIterations, "maxIterations");
            if (n < 1) {
                throw new IllegalArgumentException("maxIterations must be ≥ 1, got " + n);
            }
            this.maxIterations = n;
            return this;
        }

        /**
         * When to stop on the FW gap (default {@link Tolerance#defaults()}: relative,
         * gap ≤ {@value Tolerance#DEFAULT_RELATIVE}·max(1, |ℓ|)).
         */
        public Builder tolerance(Tolerance tolerance) {
            once(this.tolerance, "tolerance");
            this.tolerance = Objects.requireNonNull(tolerance, "tolerance");
            return this;
        }

        /**
         * Stop when the FW gap is at most {@code epsilon}: {@code tolerance(Tolerance.absolute(epsilon))}.
         *
         * @throws IllegalArgumentException if {@code epsilon} is negative or not finite
         */
        public Builder tolerance(double epsilon) {
            return tolerance(Tolerance.absolute(epsilon));
        }

        /** Which tensors are merged (default all). */
        public Builder parameters(ParameterSelection selection) {
            once(this.parameters, "parameters");
            this.parameters = Objects.requireNonNull(selection, "selection");
            return this;
        }

        /** Where the run starts (default {@link InitialPoint#base()}). */
        public Builder initialPoint(InitialPoint start) {
            once(this.initialPoint, "initialPoint");
            this.initialPoint = Objects.requireNonNull(start, "start");
            return this;
        }

        /** Receives every iteration as it completes (progress display). */
        public Builder listener(IterationListener listener) {
            once(this.listener, "listener");
            this.listener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /** The tensor backend (default {@link TensorBackends#get()}). */
        public Builder backend(TensorBackend backend) {
            once(this.backend, "backend");
            this.backend = Objects.requireNonNull(backend, "backend");
            return this;
        }

        /**
         * The configured merger.
         *
         * @throws IllegalStateException if no objective was set, or FW-soft was combined with a
         *                               step-size rule or merge function (which it does not use)
         */
        public FrankWolfeMerger build() {
            if (objective == null) {
                throw new IllegalStateException("objective is required: call objective(...) before build()");
            }
            // Settings only copied by toBuilder() give way when the copy switches to FW-soft.
            if (soft != null && (explicit(stepSize, "stepSize") || explicit(mergeFn, "mergeFn"))) {
                throw new IllegalStateException("FW-soft optimises coefficients instead of taking a step: "
                        + "stepSize and mergeFn apply only to FW-hard; remove them or remove soft(...)");
            }
            boolean pairwiseExplicit = explicit(pairwise ? Boolean.TRUE : null, "pairwiseSteps");
            if (pairwise && ((soft != null && pairwiseExplicit)
                    || (mergeFn != null && mergeFn != MergeFn.convexCombination()))) {
                throw new IllegalStateException("pairwiseSteps() moves weight between vertices of the hull: it needs "
                        + "FW-hard with MergeFn.convexCombination(), not " + (soft != null ? soft : mergeFn));
            }
            return new FrankWolfeMerger(this);
        }
    }
}
