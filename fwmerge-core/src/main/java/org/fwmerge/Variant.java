package org.fwmerge;

import java.util.Objects;

/**
 * How a Frank-Wolfe step moves from x_t toward the vertices the LMO picked: one of three variants,
 * each carrying exactly the settings it uses, so no setting can be given that a variant would ignore.
 *
 * <ul>
 * <li>{@link Hard} (the default, Algorithm 1 lines 5–8): x_{t+1} = MergeFn(x_t, s_t, γ_t) with γ_t from a
 *     {@link StepSizeRule};</li>
 * <li>{@link Pairwise} (Lacoste-Julien &amp; Jaggi, NeurIPS 2015): weight moves from the active vertex with
 *     the worst score to s_t, x_{t+1} = x_t + γ·γ_max·(s_t − a_t) per block, γ_max being that vertex's
 *     current weight; linear convergence on polytopes, where vanilla FW zig-zags when the optimum lies on
 *     a face. It moves weight between vertices of the hull, so it has no merge function;</li>
 * <li>{@link Soft} (the paper's eq. 9): per-block coefficients over several vertices, optimised by
 *     projected gradient descent ({@link SoftOptions}).</li>
 * </ul>
 *
 * <pre>{@code
 * Variant.hard()                                    // line search, convex combination
 * Variant.hard(StepSizeRule.harmonic(0.03), Ties.mergeFn())
 * Variant.pairwise()
 * Variant.soft(SoftOptions.perTask())
 * }</pre>
 */
public sealed interface Variant permits Variant.Hard, Variant.Pairwise, Variant.Soft {

    /** FW-hard with {@link StepSizeRule#lineSearch()} and {@link MergeFn#convexCombination()}. */
    static Hard hard() {
        return hard(StepSizeRule.lineSearch());
    }

    /** FW-hard with this step rule and {@link MergeFn#convexCombination()}. */
    static Hard hard(StepSizeRule stepSize) {
        return new Hard(stepSize, MergeFn.convexCombination());
    }

    /** FW-hard with this step rule and merge function. */
    static Hard hard(StepSizeRule stepSize, MergeFn mergeFn) {
        return new Hard(stepSize, mergeFn);
    }

    /** Pairwise FW with {@link StepSizeRule#lineSearch()}. */
    static Pairwise pairwise() {
        return pairwise(StepSizeRule.lineSearch());
    }

    /** Pairwise FW with this step rule (γ scales the largest pairwise step γ_max). */
    static Pairwise pairwise(StepSizeRule stepSize) {
        return new Pairwise(stepSize);
    }

    /** FW-soft with these options. */
    static Soft soft(SoftOptions options) {
        return new Soft(options);
    }

    /** The method's name as results record it: {@code "fw-hard"}, {@code "fw-pairwise"} or {@code "fw-soft"}. */
    String method();

    /**
     * FW-hard: a step γ from {@code stepSize} on the path γ ↦ ℓ(MergeFn(x_t, s_t, γ)).
     *
     * @param stepSize the step rule
     * @param mergeFn  how x_t and s_t are combined
     */
    record Hard(StepSizeRule stepSize, MergeFn mergeFn) implements Variant {
        /** @throws NullPointerException if either is null */
        public Hard {
            Objects.requireNonNull(stepSize, "stepSize");
            Objects.requireNonNull(mergeFn, "mergeFn");
        }

        @Override
        public String method() {
            return "fw-hard";
        }

        @Override
        public String toString() {
            return "hard(stepSize=" + stepSize + ", mergeFn=" + mergeFn + ")";
        }
    }

    /**
     * Pairwise FW: a step γ from {@code stepSize} on the path γ ↦ ℓ(x_t + γ·γ_max·(s_t − a_t)).
     *
     * @param stepSize the step rule
     */
    record Pairwise(StepSizeRule stepSize) implements Variant {
        /** @throws NullPointerException if {@code stepSize} is null */
        public Pairwise {
            Objects.requireNonNull(stepSize, "stepSize");
        }

        @Override
        public String method() {
            return "fw-pairwise";
        }

        @Override
        public String toString() {
            return "pairwise(stepSize=" + stepSize + ")";
        }
    }

    /**
     * FW-soft: the top-k vertices (or one per objective term) and coefficients for them.
     *
     * @param options which vertices, and how the coefficients are optimised
     */
    record Soft(SoftOptions options) implements Variant {
        /** @throws NullPointerException if {@code options} is null */
        public Soft {
            Objects.requireNonNull(options, "options");
        }

        @Override
        public String method() {
            return "fw-soft";
        }

        @Override
        public String toString() {
            return options.toString();
        }
    }
}
