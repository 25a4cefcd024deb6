package org.fwmerge;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.fwmerge.internal.BlockLayout;
import org.fwmerge.internal.Guard;
import org.fwmerge.io.Checkpoint;

/**
 * What the steps of one run share with the loop ({@link FrankWolfeRun}): the configuration, the
 * vertices and their blocks, the hull weights of x_t, and the step rule's context.
 */
final class FrankWolfeState {
    final FrankWolfeMerger cfg;
    final Guard guard;
    final List<Checkpoint> vertices;
    final BlockLayout layout;
    final Map<String, Integer> tensorIndex = new HashMap<>();
    /** Per block, the convex weight of each vertex in x_t (kept while every step stays in the hull). */
    final double[][] hull;

    /** @param start the vertex x₀ is (weight 1 in every block) */
    FrankWolfeState(FrankWolfeMerger cfg, Guard guard, List<Checkpoint> vertices, BlockLayout layout, int start) {
        this.cfg = cfg;
        this.guard = guard;
        this.vertices = vertices;
        this.layout = layout;
        List<String> names = layout.tensors();
        for (int p = 0; p < names.size(); p++) {
            tensorIndex.put(names.get(p), p);
        }
        this.hull = new double[layout.blockCount()][vertices.size()];
        for (double[] row : hull) {
            row[start] = 1;
        }
    }

    /** The step-rule context of one iteration. */
    StepSizeRule.Context context(int t, double loss, double gap, double slope, java.util.function.DoubleUnaryOperator lossAt) {
        return new StepSizeRule.Context() {
            @Override
            public int iteration() {
                return t;
            }

            @Override
            public double loss() {
                return loss;
            }

            @Override
            public double gap() {
                return gap;
            }

            @Override
            public double slope() {
                return slope;
            }

            @Override
            public double lossAt(double gamma) {
                return lossAt.applyAsDouble(gamma);
            }
        };
    }

    /** γ from the user's {@code rule} at iteration t of {@code variant}, checked. */
    static double checkStep(StepSizeRule rule, String variant, double gamma, int t) {
        if (!(gamma >= 0 && gamma <= 1)) {
            throw new IllegalStateException("step-size rule " + rule + " returned γ = " + gamma
                    + " at " + variant + " iteration " + t + "; a step size must be finite and in [0, 1]");
        }
        return gamma;
    }

}
