package org.fwmerge.nd4j;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.fwmerge.Evaluation;
import org.fwmerge.MergeResult;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.Objective;
import org.fwmerge.baseline.AdaMerging;
import org.fwmerge.baseline.TaskArithmetic;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * AdaMerging with SameDiff prediction entropy on unlabelled inputs (the AdaMerging paper's objective):
 * three trunks fine-tuned on three teacher tasks (as in {@link FrankWolfeSameDiffTest}); starting from
 * the task-arithmetic point (λ = 0.3 everywhere), the learned layer-wise coefficients must lower the
 * entropy and raise the mean held-out accuracy (labelled inputs never seen in merging or fine-tuning).
 */
class AdaMergingSameDiffTest {
    static final Nd4jBackend ND = Nd4jBackendContractTest.BACKEND;
    static final int IN = FrankWolfeSameDiffTest.IN;
    static final int HID = FrankWolfeSameDiffTest.HID;
    static final int CLASSES = FrankWolfeSameDiffTest.CLASSES;
    static final int N = 96;
    static final int HELD_OUT = 400;

    static final List<SameDiffObjective> entropy = new ArrayList<>();
    static final List<SameDiffObjective> heldOut = new ArrayList<>();
    static Model base;
    static final List<Model> fineTuned = new ArrayList<>();

    @BeforeAll
    static void buildZoo() {
        SplittableRandom rnd = new SplittableRandom(7);
        Map<String, float[]> trunk = new LinkedHashMap<>();
        trunk.put("trunk.weight", FrankWolfeSameDiffTest.gaussian(rnd, IN * HID, 0.5));
        trunk.put("trunk.bias", FrankWolfeSameDiffTest.gaussian(rnd, HID, 0.1));
        base = Model.ofArrays("base", ND, trunk, Map.of("trunk.weight", new long[] {IN, HID}));
        for (int k = 0; k < 3; k++) {
            float[] teacher = FrankWolfeSameDiffTest.gaussian(rnd, IN * CLASSES, 1.0);
            float[] headW = FrankWolfeSameDiffTest.gaussian(rnd, HID * CLASSES, 0.5);
            float[] train = FrankWolfeSameDiffTest.gaussian(rnd, N * IN, 1.0);
            float[] calib = FrankWolfeSameDiffTest.gaussian(rnd, N * IN, 1.0);
            float[] test = FrankWolfeSameDiffTest.gaussian(rnd, HELD_OUT * IN, 1.0);
            SameDiffObjective fit = objective(headW, train, N).crossEntropy(labels(train, teacher, N)).build();
            entropy.add(objective(headW, calib, N).predictionEntropy().build());
            heldOut.add(objective(headW, test, HELD_OUT).crossEntropy(labels(test, teacher, HELD_OUT)).build());
            Model m = base.copy();
            for (int step = 0; step < 300; step++) {
                try (Evaluation e = fit.evaluate(m)) {
                    for (String name : m.names()) {
                        ND.axpy(-0.3, e.gradient(name), m.tensor(name));
                    }
                }
            }
            fineTuned.add(m);
        }
    }

    static SameDiffObjective.Builder objective(float[] headW, float[] x, int n) {
        INDArray w = Nd4j.createFromArray(headW).reshape(HID, CLASSES);
        return SameDiffObjective.builder().graph(FrankWolfeSameDiffTest.graph(w, Nd4j.zeros(DataType.FLOAT, CLASSES)))
                .parameter("trunk.weight", "w1").parameter("trunk.bias", "b1")
                .input("in", Nd4j.createFromArray(x).reshape(n, IN)).logits("logits");
    }

    static int[] labels(float[] x, float[] teacher, int n) {
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            double best = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < CLASSES; c++) {
                double s = 0;
                for (int j = 0; j < IN; j++) {
                    s += x[i * IN + j] * teacher[j * CLASSES + c];
                }
                if (s > best) {
                    best = s;
                    labels[i] = c;
                }
            }
        }
        return labels;
    }

    static double meanAccuracy(Model m) {
        double s = 0;
        for (SameDiffObjective o : heldOut) {
            s += o.accuracy(m);
        }
        return s / heldOut.size();
    }

    @Test
    void adaMerging_entropy_beatsTaskArithmeticFromSameInit() throws Exception {
        Objective all = Objective.sum(entropy);
        ModelPool pool = ModelPool.of(base, fineTuned);
        Model ta = TaskArithmetic.builder().scaling(AdaMerging.DEFAULT_INITIAL_COEFFICIENT).backend(ND).build()
                .merge(pool).model();
        MergeResult ada = AdaMerging.builder().objective(all).learningRate(0.01).steps(200).backend(ND).build()
                .merge(pool);
        double taEntropy = all.loss(ta);
        double adaEntropy = all.loss(ada.model());
        double taAcc = meanAccuracy(ta);
        double adaAcc = meanAccuracy(ada.model());
        System.out.printf("entropy TA %.4f → AdaMerging %.4f; held-out accuracy TA %.4f → AdaMerging %.4f%n",
                taEntropy, adaEntropy, taAcc, adaAcc);
        assertTrue(adaEntropy < 0.9 * taEntropy, "entropy TA " + taEntropy + " vs AdaMerging " + adaEntropy);
        assertTrue(adaAcc > taAcc + 0.02, "held-out accuracy TA " + taAcc + " vs AdaMerging " + adaAcc);
    }
}
