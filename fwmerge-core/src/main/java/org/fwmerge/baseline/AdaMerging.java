package org.fwmerge.baseline;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.StringJoiner;
import org.fwmerge.BlockPartition;
import org.fwmerge.CoefficientOptions;
import org.fwmerge.IterationRecord;
import org.fwmerge.MergeResult;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.Objective;
import org.fwmerge.StopReason;
import org.fwmerge.internal.BlockLayout;
import org.fwmerge.internal.CoefficientDescent;
import org.fwmerge.internal.Guard;
import org.fwmerge.io.Checkpoint;

/**
 * Layer-wise AdaMerging (Yang et al., ICLR 2024): θ(λ) = θ₀ + Σ_i λ_{i,b} τ_i with one coefficient per
 * task vector i and block b ({@link BlockPartition}, default one block per tensor), λ unconstrained and
 * started at {@value #DEFAULT_INITIAL_COEFFICIENT}, chosen to minimise an {@link Objective} — in the
 * paper the prediction entropy on unlabelled test inputs — by Adam (β = 0.9, 0.999) with learning rate
 * {@value #DEFAULT_LEARNING_RATE} for {@value #DEFAULT_STEPS} steps. Defaults follow FusionBench's
 * {@code adamerging/clip.yaml} ({@code lr: 1e-3, init_values: 0.3, clamp_weights: false, max_steps: 1000}).
 *
 * <p>It runs the coefficient descent FW-soft uses: ∂ℓ/∂λ_{i,b} = ⟨∇_b ℓ(θ(λ)), τ_{i,b}⟩, a block dot
 * product, so the objective needs only ∇ℓ with respect to the merged weights. The result is the best
 * point seen (lowest loss over all evaluated λ, the start included); its coefficients are recorded in
 * {@link MergeResult#configuration()} under {@code "coefficient.<i>"} (i = 1…n, pool order) as
 * comma-separated values in {@link MergeResult#blocks()} order, and each step's loss is an
 * {@link IterationRecord} (gap and step size NaN). {@link MergeResult#hullCoefficients()} is empty since
 * λ is unconstrained.
 *
 * <p>Memory: with {@linkplain Builder#residentDirections resident directions} the n task vectors are
 * held — O(n) in the number of models, fewer reads; streamed (default) they are re-read from the pool
 * at every step — O(1): the base, the point, the gradient and one candidate tensor.
 */
public final class AdaMerging extends BaselineMerger {

    /** Default number of Adam steps (FusionBench {@code max_steps: 1000}). */
    public static final int DEFAULT_STEPS = 1000;
    /** Default Adam learning rate (FusionBench, AdaMerging paper). */
    public static final double DEFAULT_LEARNING_RATE = 1e-3;
    /** Default starting coefficient (FusionBench {@code init_values: 0.3}). */
    public static final double DEFAULT_INITIAL_COEFFICIENT = 0.3;

    private final Objective objective;
    private final CoefficientOptions options;
    private final BlockPartition blocks;

    private AdaMerging(Builder b) {
        super(b);
        this.objective = b.objective;
        this.options = CoefficientOptions.defaults()
                .withConstraint(CoefficientOptions.Constraint.UNCONSTRAINED)
                .withOptimizer(CoefficientOptions.Optimizer.ADAM)
                .withSteps(b.steps == null ? DEFAULT_STEPS : b.steps)
                .withLearningRate(b.learningRate == null ? DEFAULT_LEARNING_RATE : b.learningRate)
                .withInitialCoefficient(b.initial == null ? DEFAULT_INITIAL_COEFFICIENT : b.initial)
                .withResidentDirections(b.resident != null && b.resident)
                .withBatchSize(0); // every calibration sample at every step, keeping the best λ
        this.blocks = b.blocks == null ? BlockPartition.perTensor() : b.blocks;
    }

    /**
     * A builder that starts from this merger's settings, to vary it; the merger itself is unchanged.
     * As on any builder, each setter may be called once.
     */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.objective = objective;
        b.steps = options.steps();
        b.learningRate = options.learningRate();
        b.initial = options.initialCoefficient(0);
        b.resident = options.residentDirections();
        b.blocks = blocks;
        return b.copySelection(parameters, backend);
    }

    /** A builder; only the objective is required. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Optimises the coefficients on the pool.
     *
     * @throws org.fwmerge.NonFiniteValueException if the objective returns NaN or infinity
     * @throws IllegalStateException               if the objective omits a gradient or returns a wrong shape
     * @throws IllegalArgumentException            if the selection matches no tensor
     * @throws java.io.UncheckedIOException        if a checkpoint cannot be read
     */
    @Override
    public MergeResult merge(ModelPool pool) {
        Objects.requireNonNull(pool, "pool");
        long start = System.nanoTime();
        List<String> names = pool.select(parameters);
        BlockLayout layout = new BlockLayout(names, blocks);
        List<IterationRecord> trace = new ArrayList<>();
        long[] last = {System.nanoTime()};
        CoefficientDescent.Outcome outcome;
        Model out;
        try (Model anchor = Model.load(pool.base(), names, backend)) {
            out = Model.zerosLike(anchor);
            try {
                outcome = CoefficientDescent.run(objective, anchor, pool.candidates(), layout, options, out,
                        new Guard("AdaMerging"), (step, loss) -> {
                            long now = System.nanoTime();
                            trace.add(new IterationRecord(step, loss, Double.NaN, List.of(), Double.NaN, List.of(),
                                    now - last[0]));
                            last[0] = now;
                        }, 0);
            } catch (RuntimeException e) {
                out.close();
                throw e;
            }
        }
        Map<String, String> c = configuration();
        for (int i = 0; i < pool.size(); i++) {
            StringJoiner j = new StringJoiner(",");
            for (double v : outcome.lambda()[i]) {
                j.add(Double.toString(v));
            }
            c.put("coefficient." + (i + 1), j.toString());
        }
        List<String> vertices = new ArrayList<>();
        vertices.add(pool.base().source());
        pool.candidates().stream().map(Checkpoint::source).forEach(vertices::add);
        return MergeResult.builder(out, "adamerging").stopReason(StopReason.MAX_ITERATIONS).iterations(trace)
                .returned(trace.size(), outcome.loss(), Double.NaN).vertices(vertices).blocks(layout.blocks()).settings(c)
                .pool(pool).elapsed(Support.since(start)).build();
    }

    @Override
    Map<String, String> settings() {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("method", "adamerging");
        c.put("objective", String.valueOf(objective));
        c.put("coefficients", options.toString());
        c.put("blocks", blocks.toString());
        return c;
    }

    /**
     * Configures an {@link AdaMerging}. Each setting is checked when set; each setter may be
     * called once ({@link IllegalStateException} on a second call); {@link #build()} checks that an objective was given and
     * leaves the builder unchanged. Not thread-safe.
     */
    public static final class Builder extends BaselineBuilder<Builder> {
        private Objective objective;
        private Integer steps;
        private Double learningRate;
        private Double initial;
        private Boolean resident;
        private BlockPartition blocks;

        private Builder() {
        }

        /** The loss whose minimum the coefficients seek, e.g. prediction entropy on unlabelled inputs (required). */
        public Builder objective(Objective objective) {
            once(this.objective, "objective");
            this.objective = Objects.requireNonNull(objective, "objective");
            return this;
        }

        /**
         * The number of Adam steps (default {@value AdaMerging#DEFAULT_STEPS}).
         *
         * @throws IllegalArgumentException if {@code steps < 1}
         */
        public Builder steps(int steps) {
            once(this.steps, "steps");
            if (steps < 1) {
                throw new IllegalArgumentException("steps must be ≥ 1, got " + steps);
            }
            this.steps = steps;
            return this;
        }

        /**
         * Adam's learning rate (default {@value AdaMerging#DEFAULT_LEARNING_RATE}).
         *
         * @throws IllegalArgumentException unless finite and &gt; 0
         */
        public Builder learningRate(double rate) {
            once(this.learningRate, "learningRate");
            if (!(rate > 0 && Double.isFinite(rate))) {
                throw new IllegalArgumentException("learningRate must be finite and > 0, got " + rate);
            }
            this.learningRate = rate;
            return this;
        }

        /**
         * The coefficient every λ_{i,b} starts from (default {@value AdaMerging#DEFAULT_INITIAL_COEFFICIENT}).
         *
         * @throws IllegalArgumentException if not finite
         */
        public Builder initialCoefficient(double value) {
            once(this.initial, "initialCoefficient");
            this.initial = Support.finite(value, "initialCoefficient");
            return this;
        }

        /** How tensors group into blocks sharing a coefficient (default {@link BlockPartition#perTensor()}). */
        public Builder blocks(BlockPartition partition) {
            once(this.blocks, "blocks");
            this.blocks = Objects.requireNonNull(partition, "partition");
            return this;
        }

        /** Keep the n task vectors in memory (faster, O(n) memory) instead of streaming them (default). */
        public Builder residentDirections(boolean resident) {
            once(this.resident, "residentDirections");
            this.resident = resident;
            return this;
        }

        /**
         * The configured merger.
         *
         * @throws IllegalStateException if no objective was set
         */
        public AdaMerging build() {
            if (objective == null) {
                throw new IllegalStateException("objective is required: call objective(...) before build()");
            }
            return new AdaMerging(this);
        }
    }
}
