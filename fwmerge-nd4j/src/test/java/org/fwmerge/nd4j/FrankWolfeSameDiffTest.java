package org.fwmerge.nd4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.fwmerge.Evaluation;
import org.fwmerge.FrankWolfeMerger;
import org.fwmerge.Lmo;
import org.fwmerge.MergeResult;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.Objective;
import org.fwmerge.SoftOptions;
import org.fwmerge.Variant;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * FW-hard and FW-soft on a small SameDiff MLP: a shared trunk (8-16, ReLU) with a fixed head per
 * task; three copies of the trunk are really fine-tuned (gradient descent through SameDiff) on three
 * teacher tasks, and merging must lower the summed calibration loss well below the base's.
 */
class FrankWolfeSameDiffTest {
    static final Nd4jBackend ND = Nd4jBackendContractTest.BACKEND;
    static final int IN = 8;
    static final int HID = 16;
    static final int CLASSES = 3;
    static final int N = 96;

    static List<SameDiffObjective> tasks = new ArrayList<>();
    static Model base;
    static List<Model> fineTuned = new ArrayList<>();

    static SameDiff graph(INDArray headW, INDArray headB) {
        SameDiff sd = SameDiff.create();
        SDVariable in = sd.placeHolder("in", DataType.FLOAT, -1, IN);
        SDVariable w1 = sd.var("w1", Nd4j.zeros(DataType.FLOAT, IN, HID));
        SDVariable b1 = sd.var("b1", Nd4j.zeros(DataType.FLOAT, HID));
        SDVariable w2 = sd.var("w2", headW);
        SDVariable b2 = sd.var("b2", headB);
        sd.nn.relu(in.mmul(w1).add(b1), 0).mmul(w2).add("logits", b2);
        return sd;
    }

    @BeforeAll
    static void buildZoo() {
        SplittableRandom rnd = new SplittableRandom(42);
        Map<String, float[]> trunk = new LinkedHashMap<>();
        trunk.put("trunk.weight", gaussian(rnd, IN * HID, 0.5));
        trunk.put("trunk.bias", gaussian(rnd, HID, 0.1));
        base = Model.ofArrays("base", ND, trunk, Map.of("trunk.weight", new long[] {IN, HID}));
        for (int k = 0; k < 3; k++) {
            float[] x = gaussian(rnd, N * IN, 1.0);
            float[] teacher = gaussian(rnd, IN * CLASSES, 1.0);
            int[] labels = new int[N];
            for (int i = 0; i < N; i++) {
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
            INDArray headW = Nd4j.createFromArray(gaussian(rnd, HID * CLASSES, 0.5)).reshape(HID, CLASSES);
            INDArray headB = Nd4j.zeros(DataType.FLOAT, CLASSES);
            tasks.add(SameDiffObjective.builder().graph(graph(headW, headB)).parameter("trunk.weight", "w1")
                    .parameter("trunk.bias", "b1").input("in", Nd4j.createFromArray(x).reshape(N, IN))
                    .logits("logits").crossEntropy(labels).build());
        }
        for (SameDiffObjective task : tasks) {
            Model m = base.copy();
            for (int step = 0; step < 300; step++) {
                try (Evaluation e = task.evaluate(m)) {
                    for (String name : m.names()) {
                        ND.axpy(-0.3, e.gradient(name), m.tensor(name));
                    }
                }
            }
            fineTuned.add(m);
        }
    }

    static float[] gaussian(SplittableRandom rnd, int n, double scale) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            // Box-Muller on the seeded stream, so the zoo is reproducible.
            out[i] = (float) (scale * Math.sqrt(-2 * Math.log(1 - rnd.nextDouble())) * Math.cos(2 * Math.PI * rnd.nextDouble()));
        }
        return out;
    }

    @Test
    void fineTuning_helpsEachTask() {
        for (int k = 0; k < 3; k++) {
            double before = tasks.get(k).loss(base);
            double after = tasks.get(k).loss(fineTuned.get(k));
            assertTrue(after < 0.6 * before, "task " + k + ": " + before + " → " + after);
        }
    }

    @Test
    void fwHardAndSoft_reduceCalibrationLoss() throws Exception {
        Objective all = Objective.sum(tasks);
        double baseLoss = all.loss(base);
        ModelPool pool = ModelPool.of(base, fineTuned);
        MergeResult hard = FrankWolfeMerger.builder().objective(all).lmo(Lmo.layerWise()).maxIterations(8)
                .backend(ND).build().merge(pool);
        MergeResult soft = FrankWolfeMerger.builder().objective(all).variant(Variant.soft(SoftOptions.perTask())).maxIterations(3)
                .backend(ND).build().merge(pool);
        assertEquals(baseLoss, hard.iterations().get(0).loss(), 1e-4 * baseLoss);
        assertTrue(hard.returnedLoss() < 0.8 * baseLoss, "FW-hard " + baseLoss + " → " + hard.returnedLoss());
        assertTrue(soft.returnedLoss() < 0.8 * baseLoss, "FW-soft " + baseLoss + " → " + soft.returnedLoss());
        // The merged loss recomputed independently through the objective matches the reported one.
        assertEquals(all.loss(hard.model()), hard.returnedLoss(), 1e-5 * baseLoss);
        // Every single fine-tuned model is worse on the three tasks together than the merge.
        for (Model m : fineTuned) {
            assertTrue(soft.returnedLoss() < all.loss(m), "FW-soft " + soft.returnedLoss() + " vs single " + all.loss(m));
        }
    }
}
