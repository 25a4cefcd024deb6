package org.fwmerge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;
import org.junit.jupiter.api.Test;

/**
 * How a Frank-Wolfe run ends and what it returns: relative and absolute tolerances, the best iterate
 * with its own gap, and FW-soft's stagnation on the probability simplex — on quadratics whose iterates
 * and gaps are computed here by hand.
 */
class StoppingTest {

    private static final TensorBackend B = TensorBackends.reference();

    private static Objective quadratic(double[] c) {
        return new QuadraticObjective(ConvexGoldenTest.model("c", c));
    }

    /** The FW gap of ½‖x − c‖² at x over the vertices, in double: ⟨x − c, x⟩ − min_i ⟨x − c, v_i⟩. */
    private static double gap(double[] x, double[] c, double[][] v) {
        double atX = 0;
        double min = Double.POSITIVE_INFINITY;
        for (double[] vi : v) {
            double d = 0;
            for (int j = 0; j < x.length; j++) {
                d += (x[j] - c[j]) * vi[j];
            }
            min = Math.min(min, d);
        }
        for (int j = 0; j < x.length; j++) {
            atX += (x[j] - c[j]) * x[j];
        }
        return atX - min;
    }

    @Test
    void constantFullSteps_jumpPastTheOptimum_theBestIterateIsReturnedWithItsGap() throws Exception {
        // x0 = base (loss .74), x1 = v1 (.34), x2 = v2 (2.34): full steps overshoot, the best is x1.
        double[][] v = {{0, 0, 0, 0}, {2, 0, 0, 0}, {0, 2, 0, 0}};
        double[] c = {1.2, 0.2, 0, 0};
        MergeResult r = FrankWolfeMerger.builder().objective(quadratic(c)).lmo(Lmo.taskWise())
                .variant(Variant.hard(StepSizeRule.constant(1))).maxIterations(2).tolerance(0).backend(B).build()
                .merge(ConvexGoldenTest.pool(v));
        assertEquals(StopReason.MAX_ITERATIONS, r.stopReason());
        assertEquals(1, r.returnedIteration());
        assertArrayEquals(new double[] {2, 0, 0, 0}, ConvexGoldenTest.flat(r.model()), 0);
        assertEquals(ConvexGoldenTest.halfSq(v[1], c), r.returnedLoss(), 1e-6);
        assertEquals(gap(v[1], c, v), r.returnedGap(), 1e-6, "the gap at the returned model, not at the last one (c is float32)");
        assertEquals(2.0, r.returnedGap(), 1e-6);
        assertArrayEquals(new double[] {0, 1, 0}, ConvexGoldenTest.hull(r)[0], 1e-12,
                "the hull weights of the returned model");
    }

    @Test
    void unconstrainedSoftStep_negativeGapOutsideTheHull_isNotConvergence() throws Exception {
        // ½(x − 5)² over base 0 and one vertex 1: unconstrained FW-soft leaves [0, 1] towards 5. At any x in
        // (1, 5) the gradient x − 5 < 0 makes the best vertex 1 and the gap (x − 5)(x − 1) negative, yet
        // x is far from the optimum; the run must go on to it.
        double[][] v = {{0, 0, 0, 0}, {1, 0, 0, 0}};
        double[] c = {5, 0, 0, 0};
        CoefficientOptions co = CoefficientOptions.defaults().withConstraint(CoefficientOptions.Constraint.UNCONSTRAINED)
                .withLearningRate(0.05).withSteps(50);
        MergeResult r = FrankWolfeMerger.builder().objective(quadratic(c)).lmo(Lmo.taskWise())
                .variant(Variant.soft(SoftOptions.topK(1).withCoefficients(co))).maxIterations(20).backend(B).build()
                .merge(ConvexGoldenTest.pool(v));
        IterationRecord first = r.iterations().get(1);
        assertTrue(first.gap() < -1e-3, "x_1 lies outside the hull with a negative gap: " + first);
        assertTrue(r.iterations().size() > 2, "the run did not stop at the negative gap: " + r.iterations());
        double x = ConvexGoldenTest.flat(r.model())[0];
        assertEquals(5.0, x, 0.05, "reaches the optimum outside the hull");
        assertTrue(Math.abs(r.returnedGap()) <= 1e-6 * Math.max(1, r.returnedLoss()) || r.stopReason() != StopReason.CONVERGED,
                r.stopReason() + " at gap " + r.returnedGap());
    }

    @Test
    void budgetUsedUp_theFinalPointIsEvaluated_andItsGapReported() throws Exception {
        double[][] v = {{0, 0, 0, 0}, {3, 0, 0, 0}, {0, 3, 0, 0}, {0, 0, 3, 0}};
        double[] c = {1, 1, 1, 0.5};
        MergeResult r = FrankWolfeMerger.builder().objective(quadratic(c)).lmo(Lmo.taskWise()).maxIterations(4)
                .tolerance(0).backend(B).build().merge(ConvexGoldenTest.pool(v));
        assertEquals(StopReason.MAX_ITERATIONS, r.stopReason());
        assertEquals(4, r.iterations().size());
        assertEquals(4, r.returnedIteration(), "the line search lowers the loss at every step: the last point is best");
        double[] x = ConvexGoldenTest.flat(r.model());
        assertEquals(gap(x, c, v), r.returnedGap(), 1e-6);
        assertEquals(ConvexGoldenTest.halfSq(x, c), r.returnedLoss(), 1e-9);
        assertTrue(r.returnedLoss() < r.iterations().get(3).loss());
    }

    @Test
    void relativeTolerance_isTheDefault_andScalesWithTheLoss() throws Exception {
        // the optimum is the vertex (1e3, 0, 0, 0)-ish: loss ≈ 5·10⁵ there, far from any absolute 1e-6
        double[][] v = {{0, 0, 0, 0}, {1000, 0, 0, 0}, {0, 1000, 0, 0}};
        double[] c = {700, 300, 1000, 0};
        FrankWolfeMerger.Builder b = FrankWolfeMerger.builder().objective(quadratic(c)).lmo(Lmo.taskWise())
                .maxIterations(200).variant(Variant.pairwise()).backend(B);
        MergeResult relative = b.build().merge(ConvexGoldenTest.pool(v));
        assertEquals(StopReason.CONVERGED, relative.stopReason(), relative.toString());
        assertEquals("relative(1.0E-6)", relative.configuration().get("tolerance"));
        double last = relative.iterations().get(relative.iterations().size() - 1).gap();
        assertTrue(last <= 1e-6 * Math.abs(relative.returnedLoss()), "gap " + last + " loss " + relative.returnedLoss());
        assertEquals(5e5 * 1e-6, Tolerance.relative(1e-6).threshold(5e5), 1e-12);
        assertEquals(1e-6, Tolerance.relative(1e-6).threshold(0.25), 0, "max(1, |ℓ|)");
        assertEquals(1e-3, Tolerance.absolute(1e-3).threshold(5e5), 0);
    }

    @Test
    void softOnTheSimplexWithTooFewVertices_stopsAsStagnated_cappedSimplexDoesNot() throws Exception {
        // the optimum (1, 1, 1) is the centroid of three vertices; top-2 on the simplex can only reach edges
        double[][] v = {{0, 0, 0, 0}, {3, 0, 0, 0}, {0, 3, 0, 0}, {0, 0, 3, 0}};
        double[] c = {1, 1, 1, 0};
        CoefficientOptions simplex = CoefficientOptions.defaults().withConstraint(CoefficientOptions.Constraint.SIMPLEX);
        MergeResult r = FrankWolfeMerger.builder().objective(quadratic(c)).lmo(Lmo.taskWise())
                .variant(Variant.soft(SoftOptions.topK(2).withCoefficients(simplex))).maxIterations(50).backend(B).build()
                .merge(ConvexGoldenTest.pool(v));
        assertEquals(StopReason.STAGNATED, r.stopReason(), r.toString());
        // it circles between two edges, (1.5, 1.5, 0) at loss ¾ and an edge of the base at 9/8, without progress
        assertTrue(r.iterations().size() < 50);
        assertTrue(r.returnedLoss() >= 0.5 - 1e-6, "no point of an edge gets closer than ½ to the centroid: " + r.returnedLoss());
        MergeResult capped = FrankWolfeMerger.builder().objective(quadratic(c)).lmo(Lmo.taskWise())
                .variant(Variant.soft(SoftOptions.topK(2))).maxIterations(50).backend(B).build().merge(ConvexGoldenTest.pool(v));
        assertTrue(capped.stopReason() != StopReason.STAGNATED, capped.toString());
        assertTrue(capped.returnedLoss() < r.returnedLoss(), capped + " vs " + r);
    }
}
