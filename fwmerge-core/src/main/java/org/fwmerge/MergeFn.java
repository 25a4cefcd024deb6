package org.fwmerge;

import org.fwmerge.internal.ConvexCombination;
import org.fwmerge.io.Checkpoint;

/**
 * How FW-hard combines the current point x_t with the selected vertex s_t at step γ (the paper's
 * MergeFn, Algorithm 1 line 8). The default {@link #convexCombination()} (1−γ)·x + γ·s keeps every
 * iterate inside the convex hull of the pool, which the Frank-Wolfe guarantees rely on; other
 * functions (TIES or DARE applied to the direction s − x, as in the authors' code) are allowed as a
 * user's choice but may leave the hull.
 *
 * <p>Implementations are stateless and thread-safe. They read {@code s} tensor by tensor (it is
 * assembled lazily from the pool, block by block), must not modify {@code x} or {@code s}, and write
 * every element of {@code out}, which has the same names and shapes as {@code x} and never aliases it.
 * At γ = 0 the output is x (no step); at γ = 1 the function takes its full step, which for the convex
 * combination is s itself. A function that {@linkplain #staysInHull() stays in the hull} puts each
 * tensor of out on the segment from x to s. {@link org.fwmerge.testing.MergeFnCheck} verifies all of this.
 */
@FunctionalInterface
public interface MergeFn {

    /**
     * Writes MergeFn(x, s, γ) into {@code out}.
     *
     * @param x     current point x_t
     * @param s     the vertex s_t chosen by the LMO (read-only, streamed)
     * @param gamma step size in [0, 1]
     * @param out   destination, same names and shapes as {@code x}
     */
    void merge(Model x, Checkpoint s, double gamma, Model out);

    /** Whether this function keeps iterates in the convex hull (true only for convex combinations). */
    default boolean staysInHull() {
        return false;
    }

    /**
     * The slope d/dγ ℓ(merge(x, s, γ)) at γ = 0, given {@code directional} = ⟨∇ℓ(x), s − x⟩ (which the LMO
     * pass knows without extra work), for a function whose path leaves x along a known multiple of s − x:
     * {@code directional} for the convex combination, c·{@code directional} for x + γ·c·(s − x). NaN
     * (the default) when the path's direction depends on more than s − x (TIES or DARE on the direction):
     * a step rule then does without the slope. {@link org.fwmerge.testing.MergeFnCheck} checks a slope
     * a function claims.
     */
    default double slope(double directional) {
        return Double.NaN;
    }

    /** (1−γ)·x + γ·s: the paper's default, equivalent to task arithmetic between x and s. */
    static MergeFn convexCombination() {
        return ConvexCombination.INSTANCE;
    }
}
