package org.fwmerge.baseline;

import static org.fwmerge.baseline.Pools.B;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.fwmerge.FrankWolfeMerger;
import org.fwmerge.InitialPoint;
import org.fwmerge.MergeResult;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.QuadraticObjective;
import org.fwmerge.StepSizeRule;
import org.fwmerge.Variant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Builder misuse gives the documented exception and message; baselines plug into Frank-Wolfe. */
class BuilderTest {

    static void fails(Class<? extends Throwable> type, String message, Executable e) {
        Throwable t = assertThrows(type, e);
        assertEquals(message, t.getMessage());
    }

    @Test
    void builders_invalidValues_throwIllegalArgument() {
        fails(IllegalArgumentException.class, "topK must be a fraction in (0, 1], got 0.0", () -> Ties.builder().topK(0));
        fails(IllegalArgumentException.class, "topK must be a fraction in (0, 1], got 1.5", () -> Ties.mergeFn(1.5, Ties.Trim.PER_TENSOR));
        fails(IllegalArgumentException.class, "scaling must be finite, got NaN", () -> TaskArithmetic.builder().scaling(Double.NaN));
        fails(IllegalArgumentException.class, "dropRate must be in [0, 1), got 1.0", () -> Dare.builder().dropRate(1));
        fails(IllegalArgumentException.class, "dropRate must be in [0, 1), got -0.1", () -> Dare.mergeFn(-0.1, 0));
        fails(IllegalArgumentException.class, "steps must be ≥ 1, got 0", () -> AdaMerging.builder().steps(0));
        fails(IllegalArgumentException.class, "learningRate must be finite and > 0, got 0.0",
                () -> AdaMerging.builder().learningRate(0));
        fails(IllegalArgumentException.class, "floor must be finite and > 0, got 0.0", () -> FisherMerging.builder().floor(0));
        fails(IllegalArgumentException.class, "objectives must not be empty: give one per candidate",
                () -> FisherMerging.builder().objectives(List.of()));
        fails(IllegalArgumentException.class, "weight 1 must be finite, got Infinity",
                () -> WeightAveraging.builder().weights(1, Double.POSITIVE_INFINITY));
        fails(NullPointerException.class, "trim", () -> Ties.builder().trim(null));
    }

    @Test
    void builders_settingTwice_throwsIllegalState() {
        fails(IllegalStateException.class, "scaling was already set to 0.5", () -> Ties.builder().scaling(0.5).scaling(1));
        fails(IllegalStateException.class, "seed was already set to 1", () -> Dare.builder().seed(1).seed(2));
        fails(IllegalStateException.class, "normalizeWeights was already set to true",
                () -> WeightAveraging.builder().normalizeWeights(true).normalizeWeights(false));
    }

    @Test
    void builders_badCombinations_throwIllegalState() {
        fails(IllegalStateException.class, "objective is required: call objective(...) before build()",
                () -> AdaMerging.builder().build());
        fails(IllegalStateException.class, "objectives are required: call objectives(...) with one per candidate",
                () -> FisherMerging.builder().build());
        Throwable t = assertThrows(IllegalStateException.class,
                () -> Dare.builder().scaling(0.3).ties(Ties.builder().build()).build());
        assertTrue(t.getMessage().startsWith("DARE-TIES takes scaling, parameters and backend from its TIES merger"),
                t.getMessage());
        fails(IllegalStateException.class,
                "weights [1.0, -1.0] sum to 0 and cannot be normalised; use normalizeWeights(false) or other weights",
                () -> WeightAveraging.builder().weights(1, -1).build());
    }

    @Test
    void merge_poolSizeMismatch_throwsIllegalArgument() throws Exception {
        ModelPool pool = BaselineGoldenTest.pool();
        fails(IllegalArgumentException.class, "2 weights were given for a pool of 3 candidates",
                () -> WeightAveraging.builder().weights(1, 2).backend(B).build().merge(pool));
        fails(IllegalArgumentException.class,
                "1 Fisher objectives were given for a pool of 3 candidates; give one per candidate, in pool order",
                () -> FisherMerging.builder().objectives(List.of(new QuadraticObjective((Model) pool.base()))).backend(B)
                        .build().merge(pool));
    }

    @Test
    void toString_showsConfiguration() {
        String s = Ties.builder().topK(0.1).build().toString();
        assertTrue(s.startsWith("Ties{method=ties, scaling=0.3, topK=0.1, trim=WHOLE_MODEL, combine=SUM"), s);
    }

    @Test
    void frankWolfe_startedFromTaskArithmetic_runsAndImproves() throws Exception {
        ModelPool pool = BaselineGoldenTest.pool();
        Model c = Pools.model("c", new float[] {1.2f, 1.1f, 0.9f, 1.0f}, new float[] {1.9f, 1.9f});
        QuadraticObjective objective = new QuadraticObjective(c);
        TaskArithmetic ta = TaskArithmetic.builder().backend(B).build();
        double startLoss = objective.loss(ta.merge(pool).model());
        for (var fn : List.of(org.fwmerge.MergeFn.convexCombination(), Ties.mergeFn(), Dare.mergeFn(0.5, 1))) {
            MergeResult r = FrankWolfeMerger.builder().objective(objective).initialPoint(InitialPoint.from(ta))
                    .variant(Variant.hard(StepSizeRule.lineSearch(), fn)).maxIterations(5).backend(B).build().merge(pool);
            assertTrue(r.iterations().size() >= 1, fn.toString());
            assertEquals(startLoss, r.iterations().get(0).loss(), 1e-9, fn + ": first iterate is the TA model");
            assertEquals(pool.size() + 2, r.vertices().size(), "the TA start is added as a vertex");
            assertTrue(r.returnedLoss() <= startLoss, fn + ": line search never increases the loss");
        }
    }
    /** Every merger's toBuilder() reproduces it, lets each setting be replaced once, and leaves the merger alone. */
    @Test
    void toBuilder_reproducesTheMerger_andVariesASettingOnce() {
        org.fwmerge.Objective obj = new org.fwmerge.Objective() {
            @Override
            public double loss(org.fwmerge.Model x) {
                return 0;
            }

            @Override
            public org.fwmerge.Evaluation evaluate(org.fwmerge.Model x) {
                return new org.fwmerge.Evaluation(0, java.util.Map.of()); // a constant: never merged with here
            }
        };
        TaskArithmetic ta = TaskArithmetic.builder().scaling(0.5).build();
        String before = ta.toString();
        assertEquals(ta.toString(), ta.toBuilder().build().toString());
        assertEquals(TaskArithmetic.builder().scaling(0.7).build().toString(), ta.toBuilder().scaling(0.7).build().toString());
        fails(IllegalStateException.class, "scaling was already set to 0.7", () -> ta.toBuilder().scaling(0.7).scaling(0.8));
        assertEquals(before, ta.toString(), "the merger itself is unchanged");

        Ties ties = Ties.builder().topK(0.3).trim(Ties.Trim.PER_TENSOR).build();
        assertEquals(ties.toString(), ties.toBuilder().build().toString());
        assertEquals(Ties.builder().topK(0.3).trim(Ties.Trim.PER_TENSOR).combine(Ties.Combine.MEAN).build().toString(),
                ties.toBuilder().combine(Ties.Combine.MEAN).build().toString());

        Dare dareTies = Dare.builder().dropRate(0.7).ties(ties).build();
        assertEquals(dareTies.toString(), dareTies.toBuilder().build().toString(), "DARE-TIES stays DARE-TIES");
        Dare dare = Dare.builder().seed(5).build();
        assertEquals(Dare.builder().seed(6).build().toString(), dare.toBuilder().seed(6).build().toString());

        WeightAveraging wa = WeightAveraging.builder().weights(1, 3).normalizeWeights(false).build();
        assertEquals(wa.toString(), wa.toBuilder().build().toString());
        assertEquals(WeightAveraging.builder().weights(2, 2).normalizeWeights(false).build().toString(),
                wa.toBuilder().weights(2, 2).build().toString());

        AdaMerging ada = AdaMerging.builder().objective(obj).steps(7).learningRate(0.01).build();
        assertEquals(ada.toString(), ada.toBuilder().build().toString());
        assertEquals(AdaMerging.builder().objective(obj).steps(9).learningRate(0.01).build().toString(),
                ada.toBuilder().steps(9).build().toString());

        FisherMerging fisher = FisherMerging.builder().objectives(List.of(obj, obj)).floor(1e-3).build();
        assertEquals(fisher.toString(), fisher.toBuilder().build().toString());

        GeneralizedTaskArithmetic gta = GeneralizedTaskArithmetic.builder(GeneralizedTaskArithmetic.Method.TIES)
                .weights(1, 0.5).densities(0.3, 0.4).lambda(2).build();
        assertEquals(gta.toString(), gta.toBuilder().build().toString());
        assertEquals(GeneralizedTaskArithmetic.builder(GeneralizedTaskArithmetic.Method.TIES).weights(1, 0.5)
                .densities(0.3, 0.4).lambda(1).build().toString(), gta.toBuilder().lambda(1).build().toString());
    }
}
