package org.fwmerge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.fwmerge.io.CheckpointMismatchException;
import org.fwmerge.tensor.TensorBackend;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The invariants of every Frank-Wolfe configuration, checked over the whole matrix variant × LMO on
 * random convex problems (ℓ(θ) = ½‖θ − c₁‖² + ½‖θ − c₂‖², a sum of two terms so the per-task FW-soft
 * runs too) and run against each backend by a subclass ({@code ReferenceFrankWolfeTest} here,
 * {@code Nd4jFrankWolfeTest} in fwmerge-nd4j), as the backend contract is. Every expected value is
 * recomputed in double from the problem's own arrays, never taken from the engine.
 */
public abstract class FrankWolfeContract {

    /** The backend under test; the same instance on every call. */
    protected abstract TensorBackend backend();

    /** Problems per configuration. */
    private static final int SEEDS = 4;
    private static final int DIM = 6;

    /** Every variant, each with the settings that make it distinct. */
    static Stream<Named<Variant>> variants() {
        CoefficientOptions steps = CoefficientOptions.defaults().withSteps(20);
        return Stream.of(
                Named.of("hard(line search)", Variant.hard()),
                Named.of("hard(harmonic)", Variant.hard(StepSizeRule.harmonic())),
                Named.of("pairwise(line search)", Variant.pairwise()),
                Named.of("soft(top 2, capped simplex)", Variant.soft(SoftOptions.topK(2).withCoefficients(steps))),
                Named.of("soft(top 2, simplex)", Variant.soft(SoftOptions.topK(2).withCoefficients(
                        steps.withConstraint(CoefficientOptions.Constraint.SIMPLEX)))),
                Named.of("soft(per task)", Variant.soft(SoftOptions.perTask().withCoefficients(steps))));
    }

    static Stream<Named<Lmo>> lmos() {
        return Stream.of(Named.of("task-wise", Lmo.taskWise()), Named.of("layer-wise", Lmo.layerWise()));
    }

    static Stream<Arguments> matrix() {
        return variants().flatMap(v -> lmos().map(l -> Arguments.of(v, l)));
    }

    /** A problem: n vertices (index 0 is the base) and two targets, all seeded. */
    private record Problem(double[][] vertices, double[] c1, double[] c2) {
        static Problem random(long seed) {
            Random r = new Random(seed);
            double[][] v = new double[3 + r.nextInt(4)][DIM];
            for (double[] row : v) {
                for (int i = 0; i < DIM; i++) {
                    row[i] = r.nextGaussian();
                }
            }
            double[] c1 = new double[DIM];
            double[] c2 = new double[DIM];
            for (int i = 0; i < DIM; i++) {
                c1[i] = 2 * r.nextGaussian();
                c2[i] = 2 * r.nextGaussian();
            }
            return new Problem(v, c1, c2);
        }

        /** ℓ at x, in double. */
        double loss(double[] x) {
            double s = 0;
            for (int i = 0; i < DIM; i++) {
                s += 0.5 * (x[i] - c1[i]) * (x[i] - c1[i]) + 0.5 * (x[i] - c2[i]) * (x[i] - c2[i]);
            }
            return s;
        }
    }

    /** Tensors "a" (coordinates 0–2) and "b" (3–5) on the backend under test. */
    private Model model(String name, double[] v) {
        Map<String, float[]> m = new LinkedHashMap<>();
        float[] a = new float[3];
        float[] b = new float[DIM - 3];
        for (int i = 0; i < DIM; i++) {
            if (i < 3) {
                a[i] = (float) v[i];
            } else {
                b[i - 3] = (float) v[i];
            }
        }
        m.put("a", a);
        m.put("b", b);
        return Model.ofArrays(name, backend(), m, Map.of());
    }

    private static double[] flat(Model m) {
        double[] out = new double[DIM];
        float[] a = m.values("a");
        float[] b = m.values("b");
        for (int i = 0; i < DIM; i++) {
            out[i] = i < 3 ? a[i] : b[i - 3];
        }
        return out;
    }

    /** What a test checks of one merge. */
    @FunctionalInterface
    private interface Check {
        void check(Problem p, MergeResult r, String seed);
    }

    /** Merges {@value #SEEDS} random problems (seeds from {@code firstSeed}) and checks each result. */
    private void forEachProblem(long firstSeed, Variant variant, Lmo lmo, Check check) throws CheckpointMismatchException {
        for (int k = 0; k < SEEDS; k++) {
            Problem p = Problem.random(firstSeed + k);
            try (MergeResult r = run(p, variant, lmo)) {
                check.check(p, r, "seed " + (firstSeed + k));
            }
        }
    }

    private MergeResult run(Problem p, Variant variant, Lmo lmo) throws CheckpointMismatchException {
        List<Model> candidates = new ArrayList<>();
        for (int i = 1; i < p.vertices().length; i++) {
            candidates.add(model("v" + i, p.vertices()[i]));
        }
        Objective objective = Objective.sum(List.of(new QuadraticObjective(model("c1", p.c1())),
                new QuadraticObjective(model("c2", p.c2()))));
        return FrankWolfeMerger.builder().objective(objective).variant(variant).lmo(lmo).maxIterations(12)
                .backend(backend()).build().merge(ModelPool.of(model("v0", p.vertices()[0]), candidates));
    }

    /** The result is the best iterate it evaluated, and its loss is the loss of the model it returns. */
    @ParameterizedTest(name = "{0}, {1}")
    @MethodSource("matrix")
    void merge_returnsTheBestIterate_withItsOwnLoss(Variant variant, Lmo lmo) throws Exception {
        forEachProblem(1000, variant, lmo, (p, r, seed) -> {
            assertFalse(r.iterations().isEmpty());
            assertEquals(variant.method(), r.method());
            double own = p.loss(flat(r.model()));
            assertEquals(own, r.returnedLoss(), 1e-5 * Math.max(1, own), seed);
            for (IterationRecord it : r.iterations()) {
                assertTrue(r.returnedLoss() <= it.loss() + 1e-9 * Math.max(1, it.loss()),
                        seed + ": iteration " + it.iteration() + " had loss " + it.loss() + " < returned " + r.returnedLoss());
            }
        });
    }

    /**
     * Every variant here stays in the hull: the gap is never negative, and the hull coefficients are convex
     * weights (per block) that rebuild the merged model from the vertices.
     */
    @ParameterizedTest(name = "{0}, {1}")
    @MethodSource("matrix")
    void iterates_stayInTheHull_andTheCoefficientsRebuildTheModel(Variant variant, Lmo lmo) throws Exception {
        forEachProblem(2000, variant, lmo, (p, r, seed) -> {
            for (IterationRecord it : r.iterations()) {
                assertTrue(it.gap() >= -1e-5 * Math.max(1, it.loss()), seed + ": gap " + it.gap());
            }
            List<List<Double>> w = r.hullCoefficients().orElseThrow();
            assertEquals(r.blocks().size(), w.size());
            assertTrue(w.size() == 1 || r.blocks().equals(List.of("a", "b")), r.blocks().toString());
            double[] x = flat(r.model());
            for (int d = 0; d < DIM; d++) {
                List<Double> row = w.get(w.size() == 1 ? 0 : d < 3 ? 0 : 1);
                double sum = 0;
                double rebuilt = 0;
                for (int i = 0; i < row.size(); i++) {
                    assertTrue(row.get(i) >= -1e-12, seed + ": weight " + row.get(i));
                    sum += row.get(i);
                    rebuilt += row.get(i) * p.vertices()[i][d];
                }
                assertEquals(1.0, sum, 1e-9, seed);
                assertEquals(rebuilt, x[d], 1e-4, seed + " coordinate " + d);
            }
        });
    }

    /** A step rule that evaluates the loss never lets it rise; FW-soft's coefficients stay feasible. */
    @ParameterizedTest(name = "{0}, {1}")
    @MethodSource("matrix")
    void steps_respectTheirVariantsRules(Variant variant, Lmo lmo) throws Exception {
        StepSizeRule rule = variant instanceof Variant.Hard h ? h.stepSize()
                : variant instanceof Variant.Pairwise pw ? pw.stepSize() : null;
        boolean searches = rule != null && rule.toString().startsWith("lineSearch");
        forEachProblem(3000, variant, lmo, (p, r, seed) -> {
            List<IterationRecord> it = r.iterations();
            for (int t = 1; searches && t < it.size(); t++) {
                double prev = it.get(t - 1).loss();
                assertTrue(it.get(t).loss() <= prev + 1e-6 * Math.abs(prev),
                        seed + " iteration " + t + ": " + it.get(t).loss() + " > " + prev);
            }
            for (IterationRecord rec : it) {
                if (variant instanceof Variant.Soft soft && !rec.coefficients().isEmpty()) {
                    boolean simplex = soft.options().coefficients().constraint() == CoefficientOptions.Constraint.SIMPLEX;
                    for (List<Double> block : rec.coefficients()) {
                        double sum = block.stream().mapToDouble(Double::doubleValue).sum();
                        assertTrue(block.stream().allMatch(l -> l >= 0), seed + ": " + block);
                        assertTrue(simplex ? Math.abs(sum - 1) < 1e-9 : sum <= 1 + 1e-12, seed + ": " + block);
                    }
                } else if (!(variant instanceof Variant.Soft) && !Double.isNaN(rec.stepSize())) {
                    assertTrue(rec.stepSize() >= 0 && rec.stepSize() <= 1, seed + ": γ " + rec.stepSize());
                }
            }
        });
    }
}
