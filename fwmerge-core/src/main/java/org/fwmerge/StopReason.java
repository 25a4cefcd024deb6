package org.fwmerge;

/** Why a merge ended. Reaching the iteration budget is an outcome, not an error. */
public enum StopReason {
    /**
     * The FW gap fell to the tolerance or below (Algorithm 1 line 4); for steps that may leave the
     * convex hull (unconstrained FW-soft coefficients, a merge function outside it), its absolute value.
     */
    CONVERGED,
    /** The iteration budget T was used up. */
    MAX_ITERATIONS,
    /** The step rule chose γ = 0 (no trial point improved the loss): further iterations would repeat. */
    STALLED,
    /**
     * FW-soft on the probability simplex ({@link CoefficientOptions.Constraint#SIMPLEX}) made no progress:
     * the best loss did not improve for 3 iterations (beyond rounding). On the
     * simplex x_{t+1} lies in the hull of the k selected vertices alone, so when the optimum needs more
     * than k of them the run circles instead of converging: raise k ({@link SoftOptions#topK(int)}) or
     * keep the default constraint {λ ≥ 0, Σλ ≤ 1}, which keeps x_t in reach. The best iterate is returned.
     */
    STAGNATED,
    /** A one-shot (non-iterative) method finished. */
    COMPLETED
}
