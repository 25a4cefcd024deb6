package org.fwmerge;

import org.fwmerge.internal.LmoPass;
import org.fwmerge.internal.VertexCheckpoint;
import org.fwmerge.io.Checkpoint;

/**
 * FW-hard (Algorithm 1 lines 5–8): per block the best vertex s_t, a step γ from the step rule on the
 * path γ ↦ ℓ(MergeFn(x_t, s_t, γ)), then x_{t+1} = MergeFn(x_t, s_t, γ).
 */
final class HardStep implements FrankWolfeStep {
    private final FrankWolfeState state;
    private final StepSizeRule rule;
    private final MergeFn fn;

    HardStep(FrankWolfeState state, Variant.Hard variant) {
        this.state = state;
        this.rule = variant.stepSize();
        this.fn = variant.mergeFn();
    }

    @Override
    public Outcome take(int t, double loss, double gap, LmoPass pass, int[][] selection, Model x, Model next) {
        int[] choice = new int[selection.length];
        for (int blk = 0; blk < choice.length; blk++) {
            choice[blk] = selection[blk][0];
        }
        Checkpoint s = new VertexCheckpoint(state.vertices, state.layout, choice, state.tensorIndex);
        // ⟨g, s − x⟩ block by block from the LMO pass: exact for whatever score picked s.
        double directional = 0;
        for (int blk = 0; blk < choice.length; blk++) {
            directional += pass.innerProduct(choice[blk], blk) - pass.atPoint(blk);
        }
        double slope = fn.slope(directional);
        double[] inNext = {Double.NaN};
        double gamma = FrankWolfeState.checkStep(rule, "FW-hard", rule.stepSize(state.context(t, loss, gap, slope, g -> {
            fn.merge(x, s, g, next);
            inNext[0] = g;
            return state.guard.loss(state.cfg.objective().loss(next), t);
        })), t);
        if (gamma == 0) {
            return new Outcome(0, java.util.List.of(), false);
        }
        if (gamma != inNext[0]) {
            fn.merge(x, s, gamma, next);
        }
        for (int blk = 0; blk < state.hull.length; blk++) {
            for (int i = 0; i < state.hull[blk].length; i++) {
                state.hull[blk][i] *= 1 - gamma;
            }
            state.hull[blk][choice[blk]] += gamma;
        }
        return new Outcome(gamma, java.util.List.of(), true);
    }

    @Override
    public boolean staysInHull() {
        return fn.staysInHull();
    }
}
