package org.fwmerge;

/** Why a merge ended. Reaching the iteration budget is an outcome, not an error. */
public enum StopReason {
    /** The FW gap fell to the tolerance or below (Algorithm 1 line 4). */
    CONVERGED,
    /** The iteration budget T was used up. */
    MAX_ITERATIONS,
    /** The step rule chose γ = 0 (no trial point improved the loss): further iterations would repeat. */
    STALLED,
    /** A one-shot (non-iterative) method finished. */
    COMPLETED
}
