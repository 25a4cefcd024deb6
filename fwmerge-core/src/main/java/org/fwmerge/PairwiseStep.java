package org.fwmerge;

import java.util.List;
import org.fwmerge.internal.Combine;
import org.fwmerge.internal.LmoPass;
import org.fwmerge.internal.Readers;
import org.fwmerge.internal.VertexCheckpoint;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/**
 * Pairwise Frank-Wolfe: weight moves from the away vertex a_t (the active vertex with the largest
 * ⟨g, θ⟩) to s_t, x_{t+1} = x_t + γ·γ_max·(s_t − a_t) per block, γ_max the away vertex's weight —
 * linear convergence on polytopes where vanilla FW zig-zags towards a face.
 */
final class PairwiseStep implements FrankWolfeStep {
    private final FrankWolfeState state;
    private final StepSizeRule rule;

    PairwiseStep(FrankWolfeState state, Variant.Pairwise variant) {
        this.state = state;
        this.rule = variant.stepSize();
    }

    @Override
    public Outcome take(int t, double loss, double gap, LmoPass pass, int[][] selection, Model x, Model next) {
        double[][] hull = state.hull;
        int nb = hull.length;
        int[] to = new int[nb];
        int[] away = new int[nb];
        double maxStep = Double.POSITIVE_INFINITY;
        double slope = 0;
        for (int blk = 0; blk < nb; blk++) {
            to[blk] = selection[blk][0];
            away[blk] = awayVertex(pass, hull[blk], blk);
            if (to[blk] != away[blk]) {
                maxStep = Math.min(maxStep, hull[blk][away[blk]]);
                slope += pass.innerProduct(to[blk], blk) - pass.innerProduct(away[blk], blk);
            }
        }
        if (maxStep == Double.POSITIVE_INFINITY) {
            return new Outcome(0, List.of(), false);
        }
        Checkpoint s = new VertexCheckpoint(state.vertices, state.layout, to, state.tensorIndex);
        Checkpoint a = new VertexCheckpoint(state.vertices, state.layout, away, state.tensorIndex);
        TensorBackend b = x.backend();
        List<String> names = state.layout.tensors();
        double range = maxStep;
        double[] inNext = {Double.NaN};
        java.util.function.DoubleConsumer form = gamma -> {
            for (int p = 0; p < names.size(); p++) {
                String name = names.get(p);
                Tensor o = next.tensor(name);
                int blk = state.layout.blockOf(p);
                if (to[blk] == away[blk]) {
                    b.copy(x.tensor(name), o);
                } else {
                    try (Readers r = Readers.open(List.of(x, s, a), name)) {
                        Combine.into(o, new double[] {1, gamma * range, -gamma * range}, r.all());
                    }
                }
            }
            inNext[0] = gamma;
        };
        double gamma = FrankWolfeState.checkStep(rule, "FW-pairwise", rule.stepSize(state.context(t, loss, gap,
                slope * range, g -> {
                    form.accept(g);
                    return state.guard.loss(state.cfg.objective().loss(next), t);
                })), t);
        if (gamma == 0) {
            return new Outcome(0, List.of(), false);
        }
        if (gamma != inNext[0]) {
            form.accept(gamma);
        }
        for (int blk = 0; blk < nb; blk++) {
            if (to[blk] != away[blk]) {
                double moved = gamma * range;
                hull[blk][to[blk]] += moved;
                // A full step empties the away vertex exactly (a "drop step"), keeping the active set clean.
                hull[blk][away[blk]] = gamma == 1 && hull[blk][away[blk]] == range ? 0
                        : Math.max(0, hull[blk][away[blk]] - moved);
            }
        }
        return new Outcome(gamma * range, List.of(), true);
    }

    /** The active vertex (weight > 0) of the block with the largest ⟨g_b, θ_i,b⟩ (ties: lowest index). */
    private static int awayVertex(LmoPass pass, double[] weights, int blk) {
        int a = -1;
        for (int i = 0; i < weights.length; i++) {
            if (weights[i] > 0 && (a < 0 || pass.innerProduct(i, blk) > pass.innerProduct(a, blk))) {
                a = i;
            }
        }
        return a;
    }

    @Override
    public boolean staysInHull() {
        return true;
    }
}
