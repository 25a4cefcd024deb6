package org.fwmerge;

import java.util.ArrayList;
import java.util.List;
import org.fwmerge.internal.CoefficientDescent;
import org.fwmerge.internal.LmoPass;
import org.fwmerge.internal.VertexCheckpoint;
import org.fwmerge.io.Checkpoint;

/**
 * FW-soft (the paper's eq. 9): the top-k vertices per block (or one per objective term), then
 * coefficients λ for x_{t+1} = x_t + Σ_j λ_j (s̃_j − x_t) by projected gradient descent.
 */
final class SoftStep implements FrankWolfeStep {
    private final FrankWolfeState state;
    private final SoftOptions soft;

    SoftStep(FrankWolfeState state, Variant.Soft variant) {
        this.state = state;
        this.soft = variant.options();
    }

    @Override
    public int[][] select(int t, LmoPass pass, Model x) {
        return soft.isPerTask() ? perTask(t, x) : pass.best(Math.min(soft.k(), state.vertices.size()), null);
    }

    @Override
    public Outcome take(int t, double loss, double gap, LmoPass pass, int[][] selection, Model x, Model next) {
        int k = selection[0].length;
        List<Checkpoint> picked = new ArrayList<>();
        for (int j = 0; j < k; j++) {
            int[] choice = new int[selection.length];
            for (int blk = 0; blk < choice.length; blk++) {
                choice[blk] = selection[blk][j];
            }
            picked.add(new VertexCheckpoint(state.vertices, state.layout, choice, state.tensorIndex));
        }
        double[][] lambda = CoefficientDescent.run(state.cfg.objective(), x, picked, state.layout, soft.coefficients(), next,
                state.guard.inner(t), null, t).lambda();
        double[][] hull = state.hull;
        List<List<Double>> coefficients = new ArrayList<>();
        for (int blk = 0; blk < hull.length; blk++) {
            List<Double> row = new ArrayList<>();
            double sum = 0;
            for (double[] l : lambda) {
                row.add(l[blk]);
                sum += l[blk];
            }
            coefficients.add(row);
            for (int i = 0; i < hull[blk].length; i++) {
                hull[blk][i] *= 1 - sum;
            }
            for (int j = 0; j < lambda.length; j++) {
                hull[blk][selection[blk][j]] += lambda[j][blk];
            }
        }
        return new Outcome(Double.NaN, coefficients, true);
    }

    /** One vertex per objective term: the best for that term's gradient, no vertex twice in a block. */
    private int[][] perTask(int t, Model x) {
        List<Objective> terms = state.cfg.objective().terms();
        if (terms.isEmpty()) {
            throw new IllegalStateException("SoftOptions.perTask() needs an objective that is a sum of per-task terms "
                    + "(Objective.sum(...)); " + state.cfg.objective() + " has none");
        }
        int k = Math.min(terms.size(), state.vertices.size());
        int nb = state.layout.blockCount();
        int[][] out = new int[nb][k];
        boolean[][] used = new boolean[nb][state.vertices.size()];
        for (int j = 0; j < k; j++) {
            try (Evaluation e = terms.get(j).evaluate(x)) {
                state.guard.evaluation(e, x, t);
                int[][] best = LmoPass.run(e, x, state.vertices, state.layout, state.cfg.lmo().score()).best(1, used);
                for (int blk = 0; blk < nb; blk++) {
                    out[blk][j] = best[blk][0];
                    used[blk][best[blk][0]] = true;
                }
            }
        }
        return out;
    }

    @Override
    public boolean staysInHull() {
        return soft.coefficients().constraint() != CoefficientOptions.Constraint.UNCONSTRAINED;
    }

    /** On the probability simplex x_t itself is out of reach: with fewer vertices than the optimum needs it circles. */
    @Override
    public boolean canStagnate() {
        return soft.coefficients().constraint() == CoefficientOptions.Constraint.SIMPLEX;
    }
}
