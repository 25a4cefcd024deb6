package org.fwmerge;

import org.fwmerge.internal.LmoPass;
import org.fwmerge.internal.VertexCheckpoint;
import org.fwmerge.io.Checkpoint;

/**
 * FW-hard (Algorithm 1 lines 5–8): per block the best vertex s_t, a step γ from the step rule on the
 * path γ ↦ ℓ(MergeFn(x_t, s_t, γ)), then x_{t+1} = MergeFn(x_t, s_t, γ).
 */
final class HardStep implements FrankWolfeStep {
    private final FrankWolfeRun run;

    HardStep(FrankWolfeRun run) {
        this.run = run;
    }

    @Override
    public FrankWolfeRun.Outcome take(int t, double loss, double gap, LmoPass pass, int[][] selection, Model x, Model next) {
        int[] choice = new int[selection.length];
        for (int blk = 0; blk < choice.length; blk++) {
            choice[blk] = selection[blk][0];
        }
        Checkpoint s = new VertexCheckpoint(run.vertices, run.layout, choice, run.tensorIndex);
        MergeFn fn = run.cfg.mergeFn();
        // ⟨g, s − x⟩ block by block from the LMO pass: exact for whatever score picked s.
        double exactSlope = 0;
        for (int blk = 0; blk < choice.length; blk++) {
            exactSlope += pass.innerProducts[choice[blk]][blk] - pass.atPoint[blk];
        }
        double slope = fn == MergeFn.convexCombination() ? exactSlope : Double.NaN;
        double[] inNext = {Double.NaN};
        double gamma = run.checkStep(run.cfg.stepSize().stepSize(run.context(t, loss, gap, slope, g -> {
            fn.merge(x, s, g, next);
            inNext[0] = g;
            return run.guard.loss(run.cfg.objective().loss(next), t);
        })), t);
        if (gamma == 0) {
            return new FrankWolfeRun.Outcome(0, java.util.List.of(), false);
        }
        if (gamma != inNext[0]) {
            fn.merge(x, s, gamma, next);
        }
        for (int blk = 0; blk < run.hull.length; blk++) {
            for (int i = 0; i < run.hull[blk].length; i++) {
                run.hull[blk][i] *= 1 - gamma;
            }
            run.hull[blk][choice[blk]] += gamma;
        }
        return new FrankWolfeRun.Outcome(gamma, java.util.List.of(), true);
    }

    @Override
    public boolean staysInHull() {
        return run.cfg.mergeFn().staysInHull();
    }
}
