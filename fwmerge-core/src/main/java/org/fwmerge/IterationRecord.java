package org.fwmerge;

import java.util.List;

/**
 * What one Frank-Wolfe iteration did.
 *
 * @param iteration    t, from 0
 * @param loss         ℓ(x_t) at the start of the iteration
 * @param gap          FW gap ⟨g, x_t − s_t⟩ at x_t (summed over blocks): ≥ 0 while x_t lies in the hull,
 *                     negative when a step has left it (unconstrained FW-soft, a merge function outside M)
 * @param selection    per block (in {@link MergeResult#blocks()} order), the vertex indices chosen
 *                     (into {@link MergeResult#vertices()}), best first: one for FW-hard, k for FW-soft
 * @param stepSize     γ_t for FW-hard; NaN for FW-soft and for an iteration that stopped on the gap
 * @param coefficients per block, λ_j for each selected vertex (FW-soft); empty for FW-hard
 * @param nanos        wall time of the iteration in nanoseconds
 */
public record IterationRecord(int iteration, double loss, double gap, List<List<Integer>> selection, double stepSize,
        List<List<Double>> coefficients, long nanos) {

    public IterationRecord {
        selection = selection.stream().map(List::copyOf).toList();
        coefficients = coefficients.stream().map(List::copyOf).toList();
    }
}
