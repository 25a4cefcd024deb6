package org.fwmerge.examples.extend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.fwmerge.Model;
import org.fwmerge.examples.data.DataSources;
import org.fwmerge.examples.data.Dataset;
import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;
import org.fwmerge.testing.ObjectiveCheck;
import org.junit.jupiter.api.Test;

/** The hand-written objective, unit-tested with the kit on real digits, and its loss against a closed form. */
class SoftmaxRegressionTest {

    private static Model randomPoint(TensorBackend backend, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] w = new float[10 * Dataset.PIXELS];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) rnd.nextDouble(-0.05, 0.05);
        }
        float[] b = new float[10];
        Map<String, float[]> a = new LinkedHashMap<>();
        a.put(SoftmaxRegression.WEIGHT, w);
        a.put(SoftmaxRegression.BIAS, b);
        return Model.ofArrays("point", backend, a, Map.of(SoftmaxRegression.WEIGHT, new long[] {10, Dataset.PIXELS}));
    }

    // tag::objectivetest[]
    @Test
    void softmaxRegression_passesTheObjectiveCheck() {
        Dataset digits = DataSources.bundled().digitsTrain().stratifiedSubset(3, 1); // 30 real images
        SoftmaxRegression objective = new SoftmaxRegression(digits.pixels(), digits.labels(), Dataset.PIXELS, 10);
        for (TensorBackend backend : new TensorBackend[] {TensorBackends.reference(), TensorBackends.get()}) {
            try (Model x = randomPoint(backend, 42)) {
                ObjectiveCheck.verify(objective, x); // gradient vs finite differences, purity, determinism, threads
            }
        }
    }
    // end::objectivetest[]

    @Test
    void loss_atZero_isLogOfTheNumberOfClasses() {
        Dataset digits = DataSources.bundled().digitsTrain().stratifiedSubset(2, 3);
        SoftmaxRegression objective = new SoftmaxRegression(digits.pixels(), digits.labels(), Dataset.PIXELS, 10);
        try (Model zero = ExtensionExample.zeros(TensorBackends.reference(), 10)) {
            assertEquals(Math.log(10), objective.loss(zero), 1e-12, "uniform softmax: −log(1/10)");
        }
    }

    @Test
    void constructor_inconsistentSizesOrLabels_throw() {
        assertThrows(IllegalArgumentException.class, () -> new SoftmaxRegression(new float[5], new int[] {0, 1}, 2, 2));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new SoftmaxRegression(new float[4], new int[] {0, 2}, 2, 2));
        assertEquals("label 2 of sample 1 is outside [0, 2)", e.getMessage());
    }
}
