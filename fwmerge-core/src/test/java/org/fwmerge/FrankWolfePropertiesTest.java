package org.fwmerge;

import static org.fwmerge.ConvexGoldenTest.B;
import static org.fwmerge.ConvexGoldenTest.flat;
import static org.fwmerge.ConvexGoldenTest.model;
import static org.fwmerge.ConvexGoldenTest.pool;
import static org.fwmerge.ConvexGoldenTest.randomVertices;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.fwmerge.CoefficientOptions.Constraint;
import org.fwmerge.internal.Projections;
import org.junit.jupiter.api.Test;

/** Invariants of the engine over random problems. */
class FrankWolfePropertiesTest {

    static double[] randomTarget(Random r, int d) {
        double[] c = new double[d];
        for (int i = 0; i < d; i++) {
            c[i] = 2 * r.nextGaussian();
        }
        return c;
    }

    @Test
    void projections_landOnFeasibleSet_andSatisfyOptimality() {
        Random r = new Random(7);
        for (int trial = 0; trial < 2000; trial++) {
            int k = 1 + r.nextInt(6);
            double[] v = new double[k];
            for (int i = 0; i < k; i++) {
                v[i] = 3 * r.nextGaussian();
            }
            for (Constraint c : Constraint.values()) {
                double[] p = v.clone();
                Projections.project(p, c);
                double sum = 0;
                for (double x : p) {
                    sum += x;
                    if (c != Constraint.UNCONSTRAINED) {
                        assertTrue(x >= 0, c + " " + x);
                    }
                }
                switch (c) {
                    case SIMPLEX -> assertEquals(1.0, sum, 1e-12);
                    case CAPPED_SIMPLEX -> assertTrue(sum <= 1 + 1e-12);
                    case UNCONSTRAINED -> assertTrue(java.util.Arrays.equals(p, v));
                }
                // Variational inequality ⟨v − p, q − p⟩ ≤ 0 for every vertex q of the (polytope) set:
                // the unit vectors, and the origin for the capped simplex.
                if (c != Constraint.UNCONSTRAINED) {
                    List<double[]> corners = new ArrayList<>();
                    for (int i = 0; i < k; i++) {
                        double[] e = new double[k];
                        e[i] = 1;
                        corners.add(e);
                    }
                    if (c == Constraint.CAPPED_SIMPLEX) {
                        corners.add(new double[k]);
                    }
                    for (double[] q : corners) {
                        double ip = 0;
                        for (int i = 0; i < k; i++) {
                            ip += (v[i] - p[i]) * (q[i] - p[i]);
                        }
                        assertTrue(ip <= 1e-9, c + " not optimal: " + ip);
                    }
                }
            }
        }
    }

    @Test
    void soft_topK_lowersLoss_andIsFeasible() throws Exception {
        Random r = new Random(5);
        double[][] v = randomVertices(r, 6, 6);
        double[] c = randomTarget(r, 6);
        MergeResult res = FrankWolfeMerger.builder().objective(new QuadraticObjective(model("c", c)))
                .variant(Variant.soft(SoftOptions.topK(3))).maxIterations(5).backend(B).build().merge(pool(v));
        assertEquals("fw-soft", res.method());
        assertTrue(res.returnedLoss() < res.iterations().get(0).loss());
        for (IterationRecord rec : res.iterations()) {
            for (List<Double> block : rec.coefficients()) {
                assertEquals(3, block.size());
                assertTrue(block.stream().allMatch(l -> l >= 0));
                assertTrue(block.stream().mapToDouble(Double::doubleValue).sum() <= 1 + 1e-12);
            }
            for (List<Integer> sel : rec.selection()) {
                assertEquals(3, sel.stream().distinct().count(), "three different vertices per block");
            }
        }
        // Soft steps with 3 vertices never do worse than hard FW with the same iteration count here.
        MergeResult hard = FrankWolfeMerger.builder().objective(new QuadraticObjective(model("c", c)))
                .maxIterations(5).backend(B).build().merge(pool(v));
        assertTrue(res.returnedLoss() <= hard.returnedLoss() + 1e-6, res.returnedLoss() + " vs hard " + hard.returnedLoss());
    }

    @Test
    void soft_residentAndStreamedDirections_agree() throws Exception {
        Random r = new Random(9);
        double[][] v = randomVertices(r, 5, 6);
        double[] c = randomTarget(r, 6);
        double[] out = null;
        double loss = Double.NaN;
        for (boolean resident : new boolean[] {false, true}) {
            MergeResult res = FrankWolfeMerger.builder().objective(new QuadraticObjective(model("c", c)))
                    .variant(Variant.soft(SoftOptions.topK(2).withCoefficients(CoefficientOptions.defaults().withResidentDirections(resident))))
                    .maxIterations(3).backend(B).build().merge(pool(v));
            if (out == null) {
                out = flat(res.model());
                loss = res.returnedLoss();
            } else {
                // Streamed: a + Σλ(v − a) with ⟨g, v⟩ − ⟨g, a⟩; resident: a + Σλ·fl(v − a). The losses agree to
                // rounding; the point only to 1e-3, because the last step's coefficient lies in a flat valley
                // (0.0406 vs 0.0403 here, the loss differing by 3e-7) where Adam's normalised steps drift apart.
                assertEquals(loss, res.returnedLoss(), 1e-6 * Math.abs(loss));
                assertTrue(ConvexGoldenTest.maxDiff(out, flat(res.model())) < 1e-3);
            }
        }
    }

    @Test
    void soft_perTask_picksBestCheckpointPerTerm() throws Exception {
        // Two tasks whose optima are vertices v2 and v4: per-task selection must pick exactly those.
        Random r = new Random(3);
        double[][] v = randomVertices(r, 5, 6);
        Objective sum = Objective.sum(List.of(new QuadraticObjective(model("t1", v[2])),
                new QuadraticObjective(model("t2", v[4]))));
        MergeResult res = FrankWolfeMerger.builder().objective(sum).lmo(Lmo.taskWise())
                .variant(Variant.soft(SoftOptions.perTask())).maxIterations(1).tolerance(0).backend(B).build().merge(pool(v));
        List<Integer> sel = res.iterations().get(0).selection().get(0);
        assertEquals(2, sel.size());
        // ⟨θ − v2, θ_i⟩ is minimised at i = 2 among well-spread random vertices only if v2 is extreme;
        // check against the same argmin computed by hand in double.
        double[] x0 = v[0];
        for (int term = 0; term < 2; term++) {
            double[] t = term == 0 ? v[2] : v[4];
            int best = -1;
            double bestScore = Double.POSITIVE_INFINITY;
            for (int i = 0; i < v.length; i++) {
                if (term == 1 && i == sel.get(0)) {
                    continue;
                }
                double s = 0;
                for (int d = 0; d < 6; d++) {
                    s += (x0[d] - t[d]) * v[i][d];
                }
                if (s < bestScore) {
                    bestScore = s;
                    best = i;
                }
            }
            assertEquals(best, sel.get(term), "term " + term);
        }
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> FrankWolfeMerger.builder()
                .objective(new QuadraticObjective(model("c", v[1]))).variant(Variant.soft(SoftOptions.perTask())).backend(B).build()
                .merge(pool(v)));
        assertTrue(e.getMessage().contains("sum of per-task terms"), e.getMessage());
    }

    @Test
    void cosineScore_isRecordedAndGapStaysTrue() throws Exception {
        Random r = new Random(21);
        double[][] v = randomVertices(r, 4, 6);
        double[] c = randomTarget(r, 6);
        MergeResult res = FrankWolfeMerger.builder().objective(new QuadraticObjective(model("c", c)))
                .lmo(Lmo.layerWise().withScore(Lmo.Score.COSINE_SUM)).maxIterations(5).backend(B).build().merge(pool(v));
        assertTrue(res.configuration().get("lmo").contains("COSINE_SUM"));
        for (IterationRecord rec : res.iterations()) {
            assertTrue(rec.gap() >= -1e-6);
        }
        assertFalse(res.iterations().isEmpty());
    }

    /** ℓ(x) = mean over samples s of ½‖x − c_s‖²; a minibatch is a subset of the targets. Counts the draws. */
    static final class SampledQuadratic implements Objective {
        final List<double[]> targets;
        final java.util.concurrent.atomic.AtomicInteger draws;

        SampledQuadratic(List<double[]> targets, java.util.concurrent.atomic.AtomicInteger draws) {
            this.targets = targets;
            this.draws = draws;
        }

        @Override
        public double loss(Model x) {
            double[] v = flat(x);
            double total = 0;
            for (double[] c : targets) {
                for (int k = 0; k < v.length; k++) {
                    total += 0.5 * (v[k] - c[k]) * (v[k] - c[k]);
                }
            }
            return total / targets.size();
        }

        @Override
        public Evaluation evaluate(Model x) {
            double[] v = flat(x);
            double[] mean = new double[v.length];
            for (double[] c : targets) {
                for (int k = 0; k < v.length; k++) {
                    mean[k] += c[k] / targets.size();
                }
            }
            java.util.Map<String, org.fwmerge.tensor.Tensor> gradient = new java.util.LinkedHashMap<>();
            int at = 0;
            for (String name : List.of("a", "b")) { // flat() order
                float[] g = new float[(int) x.tensor(name).size()];
                for (int k = 0; k < g.length; k++, at++) {
                    g[k] = (float) (v[at] - mean[at]);
                }
                gradient.put(name, x.backend().fromFloats(g, x.tensor(name).shape()));
            }
            return new Evaluation(loss(x), gradient);
        }

        @Override
        public Objective minibatch(int size, java.util.random.RandomGenerator random) {
            draws.incrementAndGet();
            List<double[]> pick = new ArrayList<>(targets);
            java.util.Collections.shuffle(pick, new Random(random.nextLong()));
            return new SampledQuadratic(pick.subList(0, Math.min(size, pick.size())), draws);
        }
    }

    @Test
    void soft_minibatches_reproducible_lastPointJudgedOnEverySample() throws Exception {
        Random r = new Random(21);
        double[][] v = randomVertices(r, 5, 6);
        List<double[]> targets = new ArrayList<>();
        for (int s = 0; s < 12; s++) {
            targets.add(randomTarget(r, 6));
        }
        java.util.concurrent.atomic.AtomicInteger draws = new java.util.concurrent.atomic.AtomicInteger();
        SampledQuadratic obj = new SampledQuadratic(targets, draws);
        double[] first = null;
        for (int run = 0; run < 2; run++) {
            draws.set(0);
            MergeResult res = FrankWolfeMerger.builder().objective(obj)
                    .variant(Variant.soft(SoftOptions.topK(2).withCoefficients(CoefficientOptions.defaults().withBatchSize(3).withSteps(20))))
                    .maxIterations(3).backend(B).build().merge(pool(v));
            assertEquals(3 * 20, draws.get(), "one draw per inner step");
            double[] out = flat(res.model());
            assertEquals(obj.loss(res.model()), res.returnedLoss(), 1e-12, "the returned point is judged on every sample");
            if (first == null) {
                first = out;
            } else {
                assertTrue(java.util.Arrays.equals(first, out), "same seeds, same draws, same point");
            }
        }
        assertThrows(IllegalArgumentException.class, () -> CoefficientOptions.defaults().withBatchSize(-1));
        assertEquals(16, CoefficientOptions.defaults().batchSize());
    }
}
