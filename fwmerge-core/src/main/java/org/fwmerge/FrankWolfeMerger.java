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
 *         .variant(Variant.hard(StepSizeRule.lineSearch()))  // or Variant.soft(SoftOptions.topK(3))
 *         .maxIterations(10)
 *         .parameters(ParameterSelection.exclude("head\\..*"))
 *         .build();
 * MergeResult result = merger.merge(pool);
 * }</pre>
 *
 * <p>The {@link Variant} says how each step moves: <b>FW-hard</b> (default), x_{t+1} = MergeFn(x_t, s_t, γ_t)
 * with γ_t from a {@link StepSizeRule}; <b>pairwise</b> steps between vertices; <b>FW-soft</b>, per-block
 * coefficients over the top-k vertices optimised by projected gradient descent. Every iteration computes
 * the FW gap; the run stops when it is at most
 * the {@link Tolerance}, after the iteration budget, when the step rule finds no better point, or when
 * FW-soft on the probability simplex stagnates ({@link StopReason}). The result is the iterate with
 * the lowest loss seen, with its FW gap ({@link MergeResult#returnedGap()}) and the iteration it came
 * from ({@link MergeResult#returnedIteration()}). Memory: x_t, the gradient, one scratch model and one
 * streamed candidate tensor — independent of the pool size — plus a copy of the best iterate while a
 * later one is worse.
 *
 * <p>A merger is immutable and thread-safe, and can merge many pools; all run state is in the
 * {@link MergeResult}.
 */
public final class FrankWolfeMerger implements Merger {

    /** Default iteration budget T. */
    public static final int DEFAULT_MAX_ITERATIONS = 10;

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(FrankWolfeMerger.class);

    private final Objective objective;
    private final Lmo lmo;
    private final Variant variant;
    private final int maxIterations;
    private final Tolerance tolerance;
    private final ParameterSelection parameters;
    private final InitialPoint initialPoint;
    private final IterationListener listener;
    private final TensorBackend backend;

    private FrankWolfeMerger(Builder b) {
        this.objective = b.objective;
        this.lmo = b.lmo;
        this.variant = b.variant;
        this.maxIterations = b.maxIterations;
        this.tolerance = b.tolerance;
        this.parameters = b.parameters;
        this.initialPoint = b.initialPoint;
        this.listener = b.listener;
        this.backend = b.backend == null ? TensorBackends.get() : b.backend;
    }

    /** A builder with every setting at its default; only the objective is required. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A builder that starts from this merger's settings, to vary it (another objective, iteration budget
     * or variant); the merger itself is unchanged. As on any builder, each setter may be called once.
     */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.objective = objective;
        b.lmo = lmo;
        b.variant = variant;
        b.maxIterations = maxIterations;
        b.tolerance = tolerance;
        b.parameters = parameters;
        b.initialPoint = initialPoint;
        b.listener = listener;
        b.backend = backend;
        return b;
    }

    /**
     * Runs Frank-Wolfe on the pool.
     *
     * @throws NonFiniteValueException       if the objective returns NaN or infinity (names the iteration)
     * @throws IllegalStateException         if a plug-in breaks its contract (γ outside [0, 1], a missing
     *                                       gradient, an objective without terms for {@link SoftOptions#perTask()}),
     *                                       or the backend cannot hold the tensors the run needs
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
                r.elapsed().toMillis(), r.returnedLoss());
        if (r.stopReason() == StopReason.STAGNATED && variant instanceof Variant.Soft soft) {
            LOG.warn("FW-soft stagnated on the probability simplex after {} iterations (gap {}): with {} vertices per"
                    + " step it cannot reach the optimum; raise k or keep the default constraint λ ≥ 0, Σλ ≤ 1",
                    r.iterations().size(), r.returnedGap(), soft.options().isPerTask() ? "one per task" : soft.options().k());
        }
        return r;
    }

    Objective objective() {
        return objective;
    }

    Lmo lmo() {
        return lmo;
    }

    Variant variant() {
        return variant;
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

    /** The settings as strings (recorded in every result as provenance). */
    Map<String, String> configuration() {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("method", variant.method());
        c.put("objective", String.valueOf(objective));
        c.put("lmo", lmo.toString());
        if (variant instanceof Variant.Hard h) {
            c.put("stepSize", h.stepSize().toString());
            c.put("mergeFn", h.mergeFn().toString());
        } else if (variant instanceof Variant.Pairwise p) {
            c.put("stepSize", p.stepSize().toString());
        } else if (variant instanceof Variant.Soft s) {
            c.put("soft", s.options().toString());
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
     * Configures a {@link FrankWolfeMerger}. Each setting is validated when set; each setter may be called
     * once per builder ({@link IllegalStateException} on a second call); {@link #build()} leaves the
     * builder unchanged, so it can build several mergers. Not thread-safe.
     */
    public static final class Builder {
        private Objective objective;
        private Lmo lmo = Lmo.layerWise();
        private Variant variant = Variant.hard();
        private int maxIterations = DEFAULT_MAX_ITERATIONS;
        private Tolerance tolerance = Tolerance.defaults();
        private ParameterSelection parameters = ParameterSelection.all();
        private InitialPoint initialPoint = InitialPoint.base();
        private IterationListener listener = (r, max) -> { };
        private TensorBackend backend; // null: TensorBackends.get() when built

        private final Settings settings = new Settings();

        private Builder() {
        }

        /** The loss to minimise (required). */
        public Builder objective(Objective objective) {
            settings.once("objective", this.objective);
            this.objective = Objects.requireNonNull(objective, "objective");
            return this;
        }

        /** The linear minimisation oracle (default {@link Lmo#layerWise()}). */
        public Builder lmo(Lmo lmo) {
            settings.once("lmo", this.lmo);
            this.lmo = Objects.requireNonNull(lmo, "lmo");
            return this;
        }

        /**
         * How each step moves (default {@link Variant#hard()}: FW-hard with line search and the convex
         * combination): {@link Variant#hard(StepSizeRule, MergeFn)}, {@link Variant#pairwise(StepSizeRule)}
         * or {@link Variant#soft(SoftOptions)}.
         */
        public Builder variant(Variant variant) {
            settings.once("variant", this.variant);
            this.variant = Objects.requireNonNull(variant, "variant");
            return this;
        }

        /**
         * The iteration budget T (default {@value FrankWolfeMerger#DEFAULT_MAX_ITERATIONS}).
         *
         * @throws IllegalArgumentException if {@code n < 1}
         */
        public Builder maxIterations(int n) {
            settings.once("maxIterations", this.maxIterations);
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
            settings.once("tolerance", this.tolerance);
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
            settings.once("parameters", this.parameters);
            this.parameters = Objects.requireNonNull(selection, "selection");
            return this;
        }

        /** Where the run starts (default {@link InitialPoint#base()}). */
        public Builder initialPoint(InitialPoint start) {
            settings.once("initialPoint", this.initialPoint);
            this.initialPoint = Objects.requireNonNull(start, "start");
            return this;
        }

        /** Receives every iteration as it completes (progress display); default none. */
        public Builder listener(IterationListener listener) {
            settings.once("listener", this.listener);
            this.listener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /** The tensor backend (default {@link TensorBackends#get()}, looked up when the merger is built). */
        public Builder backend(TensorBackend backend) {
            settings.once("backend", this.backend);
            this.backend = Objects.requireNonNull(backend, "backend");
            return this;
        }

        /**
         * The configured merger.
         *
         * @throws IllegalStateException if no objective was set
         */
        public FrankWolfeMerger build() {
            if (objective == null) {
                throw new IllegalStateException("objective is required: call objective(...) before build()");
            }
            return new FrankWolfeMerger(this);
        }
    }
}
