package org.fwmerge;

import java.util.Objects;

/**
 * Settings of the coefficient optimisation shared by FW-soft and AdaMerging: the point
 * x(λ) = a + Σ_j λ_{j,b} (v_j − a) is optimised over per-block coefficients λ by projected
 * gradient descent, where ∂ℓ/∂λ_{j,b} = ⟨∇_b ℓ(x(λ)), v_{j,b} − a_b⟩ (the paper's eq. 9) — a block dot
 * product, so no autodiff through the merge is needed. Immutable; {@code withXxx} returns a copy and
 * checks its argument.
 */
public final class CoefficientOptions {

    /** Where λ is projected after every step (per block, over the vertices j). */
    public enum Constraint {
        /** {λ ≥ 0, Σ_j λ_j ≤ 1}: x(λ) stays in conv{a, v_1…v_k} (our default). */
        CAPPED_SIMPLEX,
        /** {λ ≥ 0, Σ_j λ_j = 1}: the probability simplex the paper writes. */
        SIMPLEX,
        /** No projection (AdaMerging, and the authors' FW-soft code). */
        UNCONSTRAINED
    }

    /** The update rule for λ. */
    public enum Optimizer {
        /** λ ← λ − lr·∇. */
        GRADIENT_DESCENT,
        /** Adam (β₁ = 0.9, β₂ = 0.999, ε = 1e-8), as AdaMerging uses. */
        ADAM
    }

    /** Default number of inner steps. */
    public static final int DEFAULT_STEPS = 100;
    /** Default minibatch size per objective term, as the paper's code (its {@code --batch_size}). */
    public static final int DEFAULT_BATCH_SIZE = 16;
    /** Default learning rate. */
    public static final double DEFAULT_LEARNING_RATE = 0.01;

    private final int steps;
    private final double learningRate;
    private final Optimizer optimizer;
    private final Constraint constraint;
    private final double initialCoefficient; // NaN: 1/(k+1)
    private final boolean residentDirections;
    private final int batchSize; // 0: every sample

    private CoefficientOptions(int steps, double learningRate, Optimizer optimizer, Constraint constraint,
            double initialCoefficient, boolean residentDirections, int batchSize) {
        this.batchSize = batchSize;
        this.steps = steps;
        this.learningRate = learningRate;
        this.optimizer = optimizer;
        this.constraint = constraint;
        this.initialCoefficient = initialCoefficient;
        this.residentDirections = residentDirections;
    }

    /**
     * {@value #DEFAULT_STEPS} Adam steps at learning rate {@value #DEFAULT_LEARNING_RATE}, λ projected
     * onto {@link Constraint#CAPPED_SIMPLEX}, λ starting at 1/(k+1), directions streamed (constant memory),
     * each step on a minibatch of {@value #DEFAULT_BATCH_SIZE} samples per objective term.
     */
    public static CoefficientOptions defaults() {
        return new CoefficientOptions(DEFAULT_STEPS, DEFAULT_LEARNING_RATE, Optimizer.ADAM, Constraint.CAPPED_SIMPLEX,
                Double.NaN, false, DEFAULT_BATCH_SIZE);
    }

    /** @throws IllegalArgumentException if {@code steps < 1} */
    public CoefficientOptions withSteps(int steps) {
        if (steps < 1) {
            throw new IllegalArgumentException("coefficient steps must be ≥ 1, got " + steps);
        }
        return new CoefficientOptions(steps, learningRate, optimizer, constraint, initialCoefficient, residentDirections, batchSize);
    }

    /** @throws IllegalArgumentException unless the rate is finite and positive */
    public CoefficientOptions withLearningRate(double learningRate) {
        if (!(learningRate > 0 && Double.isFinite(learningRate))) {
            throw new IllegalArgumentException("learning rate must be finite and > 0, got " + learningRate);
        }
        return new CoefficientOptions(steps, learningRate, optimizer, constraint, initialCoefficient, residentDirections, batchSize);
    }

    /** The update rule. */
    public CoefficientOptions withOptimizer(Optimizer optimizer) {
        return new CoefficientOptions(steps, learningRate, Objects.requireNonNull(optimizer, "optimizer"), constraint,
                initialCoefficient, residentDirections, batchSize);
    }

    /** The feasible set λ is projected onto. */
    public CoefficientOptions withConstraint(Constraint constraint) {
        return new CoefficientOptions(steps, learningRate, optimizer, Objects.requireNonNull(constraint, "constraint"),
                initialCoefficient, residentDirections, batchSize);
    }

    /**
     * The value every λ starts from (before projection).
     *
     * @throws IllegalArgumentException if not finite
     */
    public CoefficientOptions withInitialCoefficient(double value) {
        if (!Double.isFinite(value)) {
            throw new IllegalArgumentException("initial coefficient must be finite, got " + value);
        }
        return new CoefficientOptions(steps, learningRate, optimizer, constraint, value, residentDirections, batchSize);
    }

    /**
     * Whether the k directions v_j − a are kept in memory (faster: memory grows with k) or re-read
     * from the pool at every step (memory constant in k).
     */
    public CoefficientOptions withResidentDirections(boolean resident) {
        return new CoefficientOptions(steps, learningRate, optimizer, constraint, initialCoefficient, resident, batchSize);
    }

    /**
     * Samples per objective term in each inner step: every step evaluates
     * {@link org.fwmerge.Objective#minibatch} of this size, drawn afresh (seeded, so runs repeat), and
     * the last step's λ is kept; 0 evaluates every sample at every step and keeps the best λ. Objectives
     * without samples are unaffected.
     *
     * @throws IllegalArgumentException if {@code size < 0}
     */
    public CoefficientOptions withBatchSize(int size) {
        if (size < 0) {
            throw new IllegalArgumentException("batch size must be ≥ 0 (0: every sample), got " + size);
        }
        return new CoefficientOptions(steps, learningRate, optimizer, constraint, initialCoefficient, residentDirections,
                size);
    }

    /** Samples per objective term and inner step; 0 for every sample. */
    public int batchSize() {
        return batchSize;
    }

    /** Number of inner steps. */
    public int steps() {
        return steps;
    }

    /** The learning rate. */
    public double learningRate() {
        return learningRate;
    }

    /** The update rule. */
    public Optimizer optimizer() {
        return optimizer;
    }

    /** The projection. */
    public Constraint constraint() {
        return constraint;
    }

    /** The starting λ for k vertices: the configured value, or 1/(k+1) if none was set. */
    public double initialCoefficient(int k) {
        return Double.isNaN(initialCoefficient) ? 1.0 / (k + 1) : initialCoefficient;
    }

    /** Whether directions are kept in memory. */
    public boolean residentDirections() {
        return residentDirections;
    }

    @Override
    public String toString() {
        return "steps=" + steps + ", lr=" + learningRate + ", optimizer=" + optimizer + ", constraint=" + constraint
                + ", init=" + (Double.isNaN(initialCoefficient) ? "1/(k+1)" : initialCoefficient)
                + ", directions=" + (residentDirections ? "resident" : "streamed")
                + ", batch=" + (batchSize == 0 ? "all" : Integer.toString(batchSize));
    }
}
