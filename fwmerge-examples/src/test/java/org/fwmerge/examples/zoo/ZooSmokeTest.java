package org.fwmerge.examples.zoo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.fwmerge.Evaluation;
import org.fwmerge.LayerInputs;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.Objective;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.Safetensors;
import org.fwmerge.nd4j.SameDiffObjective;
import org.fwmerge.tensor.Matrix;
import org.fwmerge.tensor.TensorBackends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ZooSmokeTest {

    @TempDir
    Path cache;

    private static ZooConfig tiny() {
        List<Task> all = Task.standard(42L);
        List<Task> pick = all.stream().filter(t -> t.name().equals("digits_perm1") || t.name().equals("fashion_rot90"))
                .toList();
        return ZooConfig.defaults(42L).withTasks(pick).withSamples(60, 30).withEpochs(2, 10, 6)
                .withMisinitializedTask(Optional.of("digits_perm1")).withDataDir(Optional.empty());
    }

    @Test
    void build_tinyZoo_finetuningHelpsAndSecondBuildUsesCache() throws Exception {
        ZooConfig cfg = tiny();
        AtomicInteger epochs = new AtomicInteger();
        Zoo zoo = Zoo.build(cfg, cache, (s, t, i, n, e, en, loss) -> epochs.incrementAndGet());
        // pre-training; per task head, fine-tuning and LoRA; the misinitialised model's pre-training and fine-tuning
        assertEquals(2 + 2 * (10 + 6 + 6) + (2 + 6), epochs.get());
        for (TaskModel t : zoo.tasks()) {
            // Independent recomputation of both accuracies through the public evaluation path.
            assertEquals(t.pretrainedAccuracy(), zoo.accuracy(zoo.baseTrunk(), t.task().name()), 1e-12);
            assertEquals(t.finetunedAccuracy(), zoo.accuracy(t.trunk(), t.task().name()), 1e-12);
            assertTrue(t.finetunedAccuracy() > t.pretrainedAccuracy(),
                    t.task().name() + ": fine-tuned " + t.finetunedAccuracy() + " <= zero-shot " + t.pretrainedAccuracy());
            Path file = t.checkpoint().orElseThrow();
            try (Checkpoint c = Safetensors.open(file)) {
                assertEquals(java.util.Set.copyOf(Zoo.TRUNK_TENSORS), java.util.Set.copyOf(c.names()));
                assertArrayEquals(new long[] {512, 256}, c.info("trunk.1.weight").shape());
                assertEquals(t.task().name(), c.metadata().get("task"));
                assertEquals(Double.toString(t.finetunedAccuracy()), c.metadata().get("finetuned_accuracy"));
            }
        }
        long stamp = Files.getLastModifiedTime(ZooStore.baseFile(cache)).toMillis();

        AtomicInteger again = new AtomicInteger();
        Zoo cached = Zoo.build(cfg, cache, (s, t, i, n, e, en, loss) -> again.incrementAndGet());
        assertEquals(0, again.get(), "second build trained instead of using the cache");
        assertEquals(stamp, Files.getLastModifiedTime(ZooStore.baseFile(cache)).toMillis());
        for (TaskModel t : zoo.tasks()) {
            TaskModel c = cached.task(t.task().name());
            assertArrayEquals(t.trunk().get("trunk.0.weight"), c.trunk().get("trunk.0.weight"));
            assertEquals(t.finetunedAccuracy(), cached.accuracy(c.trunk(), t.task().name()), 1e-12);
        }

        // A different configuration does not reuse the cache.
        AtomicInteger other = new AtomicInteger();
        Zoo.build(cfg.withEpochs(1, 1, 1), cache, (s, t, i, n, e, en, loss) -> other.incrementAndGet());
        assertEquals(1 + 2 * 3 + 2, other.get());
    }

    @Test
    void calibrationObjective_lossLowerAtFinetunedTrunk() throws Exception {
        Zoo zoo = Zoo.build(tiny(), cache, ProgressListener.none());
        String task = "digits_perm1";
        SameDiffObjective obj = zoo.calibrationObjective(task, 100, 3L, false);
        try (Model base = zoo.baseModel(TensorBackends.reference());
                Model tuned = zoo.finetunedModel(task, TensorBackends.reference())) {
            double lb = obj.loss(base);
            double lt = obj.loss(tuned);
            assertTrue(lt < lb, "calibration loss fine-tuned " + lt + " vs base " + lb);
            assertNotEquals(0.0, lb);
        }
    }

    /** RegMean's data: the Grams of both trunk layers' inputs, recomputed in double from the samples. */
    @Test
    void layerInputs_areTheGramsOfTheImagesAndOfTheFirstHiddenLayer() throws Exception {
        Zoo zoo = Zoo.build(tiny(), cache, ProgressListener.none());
        String task = "fashion_rot90";
        LayerInputs li = zoo.layerInputs(task, 30, 5L);
        assertEquals(List.of("trunk.0.weight", "trunk.1.weight"), List.copyOf(li.layers().keySet()));
        float[] x = zoo.calibrationGraph(task, 30, 5L).inputs().castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT).data().asFloat();
        int n = x.length / 784;
        assertEquals(30, n);
        TaskModel t = zoo.task(task);
        float[] w0 = t.trunk().get("trunk.0.weight");
        float[] b0 = t.trunk().get("trunk.0.bias");
        double[] h = new double[n * 512];
        for (int s = 0; s < n; s++) {
            for (int o = 0; o < 512; o++) {
                double a = b0[o];
                for (int i = 0; i < 784; i++) {
                    a += (double) x[s * 784 + i] * w0[i * 512 + o];
                }
                h[s * 512 + o] = Math.max(0, a);
            }
        }
        try (Model tuned = zoo.finetunedModel(task, TensorBackends.reference())) {
            Map<String, Matrix> g = li.grams(tuned);
            assertEquals(784, g.get("trunk.0.weight").rows());
            assertEquals(512, g.get("trunk.1.weight").cols());
            for (int i = 0; i < 784; i += 13) {
                for (int j = 0; j < 784; j += 11) {
                    double want = 0;
                    for (int s = 0; s < n; s++) {
                        want += (double) x[s * 784 + i] * x[s * 784 + j];
                    }
                    assertEquals(want / n, g.get("trunk.0.weight").values()[i * 784 + j], 1e-6, "G0[" + i + "," + j + "]");
                }
            }
            double scale = 0;
            for (double v : h) {
                scale = Math.max(scale, v * v);
            }
            for (int i = 0; i < 512; i += 7) {
                for (int j = 0; j < 512; j += 5) {
                    double want = 0;
                    for (int s = 0; s < n; s++) {
                        want += h[s * 512 + i] * h[s * 512 + j];
                    }
                    assertEquals(want / n, g.get("trunk.1.weight").values()[i * 512 + j], 1e-5 * scale, "G1[" + i + "," + j + "]");
                }
            }
        }
    }

    @Test
    void calibrationObjectiveOverTasks_isTheMeanOfTheSingleTaskObjectives() throws Exception {
        Zoo zoo = Zoo.build(tiny(), cache, ProgressListener.none());
        List<String> tasks = List.of("digits_perm1", "fashion_rot90");
        Objective whole = zoo.calibrationObjective(tasks, 30, 5L, false);
        assertEquals(2, whole.terms().size());
        try (Model x = zoo.finetunedModel("fashion_rot90", TensorBackends.reference());
                Evaluation e = whole.evaluate(x);
                Evaluation e0 = whole.terms().get(0).evaluate(x);
                Evaluation e1 = whole.terms().get(1).evaluate(x)) {
            assertEquals((e0.loss() + e1.loss()) / 2, e.loss(), 1e-5 * Math.abs(e.loss()));
            for (String n : Zoo.TRUNK_TENSORS) {
                float[] g = TensorBackends.reference().toFloats(e.gradient().get(n));
                float[] g0 = TensorBackends.reference().toFloats(e0.gradient().get(n));
                float[] g1 = TensorBackends.reference().toFloats(e1.gradient().get(n));
                double scale = 0;
                for (int i = 0; i < g.length; i++) {
                    scale = Math.max(scale, Math.abs(((double) g0[i] + g1[i]) / 2));
                }
                for (int i = 0; i < g.length; i++) {
                    assertEquals(((double) g0[i] + g1[i]) / 2, g[i], 1e-4 * scale, n + "[" + i + "]");
                }
            }
        }
    }

    @Test
    void loraAdapters_readThroughThePoolAsBasePlusScaledTransposedProduct() throws Exception {
        Zoo zoo = Zoo.build(tiny(), cache, ProgressListener.none());
        for (TaskModel t : zoo.tasks()) {
            LoraAdapter a = t.adapter().orElseThrow();
            assertEquals(8, a.rank());
            try (ModelPool pool = ModelPool.open(zoo.baseCheckpoint().orElseThrow(), List.of(a.dir().orElseThrow()));
                    Model adapted = Model.load(pool.candidates().get(0), Zoo.TRUNK_TENSORS, TensorBackends.reference())) {
                int[][] dims = {{784, 512}, {512, 256}};
                for (int l = 0; l < 2; l++) {
                    // Independent double-precision W + (alpha/r)·(B·A)ᵀ from PEFT's factors A [r, in], B [out, r].
                    float[] w = zoo.baseTrunk().get(Zoo.TRUNK_TENSORS.get(2 * l));
                    float[] fa = a.factors().get(LoraAdapter.name(l, 'A'));
                    float[] fb = a.factors().get(LoraAdapter.name(l, 'B'));
                    float[] got = adapted.values(Zoo.TRUNK_TENSORS.get(2 * l));
                    int in = dims[l][0];
                    int out = dims[l][1];
                    double moved = 0;
                    for (int i = 0; i < in; i += 7) {
                        for (int o = 0; o < out; o += 5) {
                            double d = 0;
                            for (int k = 0; k < a.rank(); k++) {
                                d += (double) fb[o * a.rank() + k] * fa[k * in + i];
                            }
                            double want = w[i * out + o] + a.alpha() / a.rank() * d;
                            assertEquals(want, got[i * out + o], 1e-5 + 1e-5 * Math.abs(want));
                            moved = Math.max(moved, Math.abs(d));
                        }
                    }
                    assertTrue(moved > 1e-4, "the adapter of " + t.task().name() + " changes layer " + l);
                }
                assertEquals(a.accuracy(), zoo.accuracy(adapted, t.task().name()), 0.01,
                        "the adapted trunk read from disk scores as the trained one");
            }
        }
    }

    @Test
    void misinitializedModel_liesFarFromTheBaseUnlikeTaskVectors() throws Exception {
        Zoo zoo = Zoo.build(tiny(), cache, ProgressListener.none());
        MisinitializedModel m = zoo.misinitialized().orElseThrow();
        assertEquals("digits_perm1", m.task());
        try (Checkpoint c = Safetensors.open(m.checkpoint().orElseThrow())) {
            assertEquals("digits_perm1", c.metadata().get("task"));
        }
        double mis = distance(m.trunk(), zoo.baseTrunk());
        for (TaskModel t : zoo.tasks()) {
            double tv = distance(t.trunk(), zoo.baseTrunk());
            assertTrue(mis > 3 * tv, "misinitialised distance " + mis + " vs task vector " + tv);
        }
    }

    private static double distance(java.util.Map<String, float[]> a, java.util.Map<String, float[]> b) {
        double s = 0;
        for (String n : Zoo.TRUNK_TENSORS) {
            float[] x = a.get(n);
            float[] y = b.get(n);
            for (int i = 0; i < x.length; i++) {
                s += ((double) x[i] - y[i]) * ((double) x[i] - y[i]);
            }
        }
        return Math.sqrt(s);
    }
}
