package org.fwmerge;

import static org.fwmerge.ConvexGoldenTest.B;
import static org.fwmerge.ConvexGoldenTest.model;
import static org.fwmerge.ConvexGoldenTest.pool;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The builder's contract, the guards around plug-ins, and the result's bookkeeping. */
class FrankWolfeMergerTest {
    static final double[][] V = {{0, 0, 0, 0, 0}, {2, 0, 0, 1, 0}, {0, 2, 0, 0, 1}, {0, 0, 2, 1, 1}};
    static final Objective OBJ = new QuadraticObjective(model("c", new double[] {1, 1, 1, 1, 1}));

    @Test
    void build_withoutObjective_throwsIllegalState() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> FrankWolfeMerger.builder().build());
        assertEquals("objective is required: call objective(...) before build()", e.getMessage());
    }

    @Test
    void maxIterations_belowOne_throwsIllegalArgument() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> FrankWolfeMerger.builder().maxIterations(0));
        assertEquals("maxIterations must be ≥ 1, got 0", e.getMessage());
    }

    @Test
    void toBuilder_reproducesTheMerger_variesSettings_andSwitchesVariant() {
        FrankWolfeMerger pairwise = FrankWolfeMerger.builder().objective(OBJ).lmo(Lmo.taskWise()).maxIterations(7)
                .variant(Variant.pairwise()).tolerance(1e-3).backend(B).build();
        assertEquals(pairwise.toString(), pairwise.toBuilder().build().toString());
        assertEquals(FrankWolfeMerger.builder().objective(OBJ).lmo(Lmo.taskWise()).maxIterations(12).variant(Variant.pairwise())
                .tolerance(1e-3).backend(B).build().toString(), pairwise.toBuilder().maxIterations(12).build().toString());
        IllegalStateException twice = assertThrows(IllegalStateException.class,
                () -> pairwise.toBuilder().maxIterations(12).maxIterations(13));
        assertEquals("maxIterations was already set to 12", twice.getMessage());
        FrankWolfeMerger soft = pairwise.toBuilder().variant(Variant.soft(SoftOptions.topK(2))).build();
        assertEquals(FrankWolfeMerger.builder().objective(OBJ).lmo(Lmo.taskWise()).maxIterations(7)
                .variant(Variant.soft(SoftOptions.topK(2))).tolerance(1e-3).backend(B).build().toString(), soft.toString(),
                "the variant is one setting: replacing it leaves nothing of the pairwise steps");
        assertEquals(new Variant.Hard(StepSizeRule.harmonic(), MergeFn.convexCombination()),
                soft.toBuilder().variant(Variant.hard(StepSizeRule.harmonic())).build().variant());
        assertEquals("fw-pairwise", pairwise.toBuilder().build().configuration().get("method"));
    }

    @Test
    void variant_eachCarriesOnlyItsOwnSettings_andRecordsThemInTheConfiguration() {
        Map<String, String> hard = FrankWolfeMerger.builder().objective(OBJ).backend(B).build().configuration();
        assertEquals("fw-hard", hard.get("method"));
        assertEquals(StepSizeRule.lineSearch().toString(), hard.get("stepSize"));
        assertEquals("convexCombination", hard.get("mergeFn"));
        Map<String, String> pairwise = FrankWolfeMerger.builder().objective(OBJ).variant(Variant.pairwise(StepSizeRule.harmonic()))
                .backend(B).build().configuration();
        assertEquals("fw-pairwise", pairwise.get("method"));
        assertEquals(StepSizeRule.harmonic().toString(), pairwise.get("stepSize"));
        assertTrue(!pairwise.containsKey("mergeFn") && !pairwise.containsKey("soft"), pairwise.toString());
        Map<String, String> soft = FrankWolfeMerger.builder().objective(OBJ).variant(Variant.soft(SoftOptions.topK(2)))
                .backend(B).build().configuration();
        assertEquals("fw-soft", soft.get("method"));
        assertTrue(!soft.containsKey("stepSize") && !soft.containsKey("mergeFn"), soft.toString());
        assertEquals("variant was already set to " + Variant.pairwise(), assertThrows(IllegalStateException.class,
                () -> FrankWolfeMerger.builder().variant(Variant.pairwise()).variant(Variant.hard())).getMessage());
        assertEquals("mergeFn", assertThrows(NullPointerException.class,
                () -> Variant.hard(StepSizeRule.lineSearch(), null)).getMessage());
    }

    @Test
    void tolerance_negativeOrNaN_throwsIllegalArgument() {
        assertEquals("absolute tolerance must be finite and ≥ 0, got -1.0", assertThrows(IllegalArgumentException.class,
                () -> FrankWolfeMerger.builder().tolerance(-1)).getMessage());
        assertEquals("absolute tolerance must be finite and ≥ 0, got NaN", assertThrows(IllegalArgumentException.class,
                () -> FrankWolfeMerger.builder().tolerance(Double.NaN)).getMessage());
        assertEquals("relative tolerance must be finite and ≥ 0, got -0.5", assertThrows(IllegalArgumentException.class,
                () -> Tolerance.relative(-0.5)).getMessage());
    }

    @Test
    void settingTwice_throwsIllegalState() {
        FrankWolfeMerger.Builder b = FrankWolfeMerger.builder().objective(OBJ).maxIterations(3);
        assertThrows(IllegalStateException.class, () -> b.objective(OBJ));
        assertEquals("maxIterations was already set to 3",
                assertThrows(IllegalStateException.class, () -> b.maxIterations(4)).getMessage());
        b.lmo(Lmo.taskWise());
        assertTrue(assertThrows(IllegalStateException.class, () -> b.lmo(Lmo.layerWise())).getMessage()
                .startsWith("lmo was already set to "));
    }

    @Test
    void nullSettings_throwNullPointerWithName() {
        assertEquals("objective", assertThrows(NullPointerException.class,
                () -> FrankWolfeMerger.builder().objective(null)).getMessage());
        assertEquals("lmo", assertThrows(NullPointerException.class, () -> FrankWolfeMerger.builder().lmo(null)).getMessage());
    }

    @Test
    void strategyFactories_rejectBadValues() {
        assertEquals("line search needs at least 3 loss evaluations, got 2",
                assertThrows(IllegalArgumentException.class, () -> StepSizeRule.lineSearch(2)).getMessage());
        assertEquals("harmonic step scale must be in (0, 1], got 0.0",
                assertThrows(IllegalArgumentException.class, () -> StepSizeRule.harmonic(0)).getMessage());
        assertEquals("constant step size must be in [0, 1], got 1.5",
                assertThrows(IllegalArgumentException.class, () -> StepSizeRule.constant(1.5)).getMessage());
        assertEquals("soft LMO top-k needs k ≥ 1, got 0",
                assertThrows(IllegalArgumentException.class, () -> SoftOptions.topK(0)).getMessage());
        assertEquals("learning rate must be finite and > 0, got -0.1", assertThrows(IllegalArgumentException.class,
                () -> CoefficientOptions.defaults().withLearningRate(-0.1)).getMessage());
        assertEquals("coefficient steps must be ≥ 1, got 0", assertThrows(IllegalArgumentException.class,
                () -> CoefficientOptions.defaults().withSteps(0)).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ParameterSelection.include("(")).getMessage()
                .startsWith("invalid tensor name pattern '('"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> BlockPartition.byRegex("layer")).getMessage()
                .contains("needs a capturing group"));
    }

    @Test
    void customStepRule_outsideUnitInterval_isRejectedNamingIteration() throws Exception {
        StepSizeRule bad = c -> c.iteration() == 1 ? 1.5 : 0.5;
        FrankWolfeMerger m = FrankWolfeMerger.builder().objective(OBJ).variant(Variant.hard(bad)).tolerance(0).backend(B).build();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> m.merge(pool(V)));
        assertTrue(e.getMessage().contains("returned γ = 1.5 at FW-hard iteration 1"), e.getMessage());
    }

    @Test
    void nonFiniteLoss_stopsRunNamingIteration() throws Exception {
        Objective nanAtSecond = new Objective() {
            int calls;

            @Override
            public double loss(Model x) {
                return OBJ.loss(x);
            }

            @Override
            public Evaluation evaluate(Model x) {
                Evaluation e = OBJ.evaluate(x);
                return ++calls == 2 ? new Evaluation(Double.NaN, e.gradient()) : e;
            }
        };
        FrankWolfeMerger m = FrankWolfeMerger.builder().objective(nanAtSecond).tolerance(0).backend(B).build();
        NonFiniteValueException e = assertThrows(NonFiniteValueException.class, () -> m.merge(pool(V)));
        assertEquals("the objective returned a non-finite loss NaN at FW-hard iteration 1", e.getMessage());
    }

    @Test
    void nonFiniteLossInsideSoftInnerSteps_namesIterationAndInnerStep() throws Exception {
        Objective nanLater = new Objective() {
            int calls;

            @Override
            public double loss(Model x) {
                return OBJ.loss(x);
            }

            @Override
            public Evaluation evaluate(Model x) {
                Evaluation e = OBJ.evaluate(x);
                return ++calls == 4 ? new Evaluation(Double.NaN, e.gradient()) : e;
            }
        };
        FrankWolfeMerger m = FrankWolfeMerger.builder().objective(nanLater).variant(Variant.soft(SoftOptions.topK(2))).tolerance(0)
                .backend(B).build();
        NonFiniteValueException e = assertThrows(NonFiniteValueException.class, () -> m.merge(pool(V)));
        assertTrue(e.getMessage().matches("the objective returned a non-finite loss NaN at FW-soft iteration 0, inner step \\d+"),
                e.getMessage());
    }

    @Test
    void nonFiniteGradient_stopsRunNamingTensor() throws Exception {
        Objective nanGrad = new Objective() {
            @Override
            public double loss(Model x) {
                return 1;
            }

            @Override
            public Evaluation evaluate(Model x) {
                Evaluation e = OBJ.evaluate(x);
                x.backend().set(e.gradient("b"), 0, new float[] {Float.POSITIVE_INFINITY}, 0, 1);
                return e;
            }
        };
        NonFiniteValueException e = assertThrows(NonFiniteValueException.class,
                () -> FrankWolfeMerger.builder().objective(nanGrad).backend(B).build().merge(pool(V)));
        assertEquals("the objective returned a non-finite gradient for tensor 'b' at FW-hard iteration 0", e.getMessage());
    }

    @Test
    void listener_receivesEveryIteration_andResultCarriesProvenance() throws Exception {
        List<IterationRecord> seen = new ArrayList<>();
        FrankWolfeMerger m = FrankWolfeMerger.builder().objective(OBJ).maxIterations(4).tolerance(0)
                .variant(Variant.hard(StepSizeRule.harmonic())).listener((r, max) -> {
                    assertEquals(4, max);
                    seen.add(r);
                }).backend(B).build();
        MergeResult res = m.merge(pool(V));
        assertEquals(res.iterations(), seen);
        assertEquals(StopReason.MAX_ITERATIONS, res.stopReason());
        assertEquals(List.of(1.0, 2.0 / 3, 0.5, 0.4),
                res.iterations().stream().map(IterationRecord::stepSize).toList(), "γ_t = 2/(t+2)");
        Map<String, String> cfg = res.configuration();
        assertEquals("fw-hard", cfg.get("method"));
        assertEquals("harmonic(scale=1.0)", cfg.get("stepSize"));
        assertEquals("v0", cfg.get("base"));
        assertEquals("v3", cfg.get("candidate.3"));
        assertEquals(List.of("v0", "v1", "v2", "v3"), res.vertices());
        // The merger is reusable: a second run gives the same model.
        assertTrue(ConvexGoldenTest.maxDiff(ConvexGoldenTest.flat(res.model()),
                ConvexGoldenTest.flat(m.merge(pool(V)).model())) == 0);
    }

    @Test
    void parameters_excluded_areNotMergedButKeptFromBaseOnSave() throws Exception {
        Objective onA = new QuadraticObjective(ConvexGoldenTest.model("c", new double[] {1, 1, 1, 1, 1}));
        MergeResult res = FrankWolfeMerger.builder().objective(onA)
                .parameters(ParameterSelection.exclude("b")).backend(B).build().merge(pool(V));
        assertEquals(List.of("a"), res.model().names());
        var full = res.withUnmerged(pool(V).base());
        assertEquals(List.of("a", "b"), full.names());
        assertEquals(0f, B.toFloats(full.load("b", B))[0]);
        assertEquals("include[] exclude[b]", res.configuration().get("parameters"));
    }

    @Test
    void parameters_matchingNothing_throwsIllegalArgument() throws Exception {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FrankWolfeMerger.builder()
                .objective(OBJ).parameters(ParameterSelection.include("nothing.*")).backend(B).build().merge(pool(V)));
        assertEquals("parameter selection include[nothing.*] exclude[] matches none of the 2 tensors of v0", e.getMessage());
    }

    @Test
    void initialPoint_fromAnotherMerger_isAddedAsVertex() throws Exception {
        Merger first = FrankWolfeMerger.builder().objective(OBJ).maxIterations(1).backend(B).build();
        MergeResult res = FrankWolfeMerger.builder().objective(OBJ).initialPoint(InitialPoint.from(first))
                .maxIterations(3).backend(B).build().merge(pool(V));
        assertEquals(5, res.vertices().size());
        assertTrue(res.vertices().get(4).startsWith("initial point: merger("));
        double[][] w = ConvexGoldenTest.hull(res);
        assertEquals(5, w[0].length);
        assertTrue(res.iterations().get(0).loss() <= OBJ.loss(ConvexGoldenTest.model("v0", V[0])));
    }

    @Test
    void backend_defaultsToHighestPriority() {
        FrankWolfeMerger m = FrankWolfeMerger.builder().objective(OBJ).build();
        assertTrue(m.toString().contains("backend="));
        assertSame(org.fwmerge.tensor.TensorBackends.get(), m.backend());
    }

    /** A backend that delegates to the reference one but reports {@code available} bytes free. */
    private static org.fwmerge.tensor.TensorBackend withRoom(long available) {
        return (org.fwmerge.tensor.TensorBackend) java.lang.reflect.Proxy.newProxyInstance(
                FrankWolfeMergerTest.class.getClassLoader(), new Class<?>[] {org.fwmerge.tensor.TensorBackend.class},
                (proxy, m, args) -> switch (m.getName()) {
                    case "availableBytes" -> available;
                    case "memorySetting" -> "-Dsome.flag";
                    default -> m.invoke(B, args);
                });
    }

    /**
     * FW-soft with one resident direction per objective term needs point, next point, gradient and one
     * direction per term (3 + 3 here): the count is the terms', not max(k, 1) with k = 0.
     */
    @Test
    void merge_perTaskWithResidentDirections_countsOneDirectionPerTerm() throws Exception {
        List<Objective> terms = new ArrayList<>();
        for (int i = 1; i <= 3; i++) {
            terms.add(new QuadraticObjective(model("c" + i, V[i])));
        }
        Variant soft = Variant.soft(SoftOptions.perTask().withCoefficients(
                CoefficientOptions.defaults().withResidentDirections(true).withSteps(2)));
        long perCopy = 4L * 5;
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> FrankWolfeMerger.builder()
                .objective(Objective.sum(terms)).variant(soft).maxIterations(1).backend(withRoom(perCopy * 6 - 1)).build()
                .merge(pool(V)));
        assertTrue(e.getMessage().contains("(6 float32 copies: point, next point, gradient, 3 resident directions)"),
                e.getMessage());
        try (MergeResult ok = FrankWolfeMerger.builder().objective(Objective.sum(terms)).variant(soft).maxIterations(1)
                .backend(B).build().merge(pool(V))) {
            assertEquals(1, ok.iterations().size());
        }
    }

    /** A merge that cannot fit fails before any work, stating what it needs and the setting to change. */
    @Test
    void merge_backendWithoutRoom_failsBeforeAnyEvaluation() throws Exception {
        org.fwmerge.tensor.TensorBackend small = withRoom(4L * 5 * 3 - 1); // one byte short of point, next point, gradient
        QuadraticObjective obj = new QuadraticObjective(model("c", new double[] {1, 1, 1, 1, 1}));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> FrankWolfeMerger.builder()
                .objective(obj).maxIterations(3).backend(small).build().merge(pool(V)));
        assertTrue(e.getMessage().contains("Frank-Wolfe on 5 parameters needs at least 0.00 GB")
                && e.getMessage().contains("3 float32 copies") && e.getMessage().contains("-Dsome.flag"), e.getMessage());
        assertEquals(0, obj.evaluations.get(), "no work before the check");
        MergeResult ok = FrankWolfeMerger.builder().objective(obj).maxIterations(1).backend(B).build().merge(pool(V));
        assertTrue(ok.returnedLoss() >= 0);
        ok.model().close();
    }
}
