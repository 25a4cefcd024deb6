package org.fwmerge.examples.zoo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.fwmerge.Model;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.Safetensors;
import org.fwmerge.nd4j.SameDiffObjective;
import org.fwmerge.tensor.TensorBackends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ZooSmokeTest {

    @TempDir
    Path cache;

    private static ZooConfig tiny() {
        List<Task> all = Task.standard(42L);
        List<Task> pick = all.stream().filter(t -> t.name().equals("digits_perm") || t.name().equals("fashion_rot90"))
                .toList();
        return ZooConfig.defaults().withTasks(pick).withSamples(60, 30).withEpochs(2, 10, 6)
                .withDataDir(Optional.empty());
    }

    @Test
    void build_tinyZoo_finetuningHelpsAndSecondBuildUsesCache() throws Exception {
        ZooConfig cfg = tiny();
        AtomicInteger epochs = new AtomicInteger();
        Zoo zoo = Zoo.build(cfg, cache, (s, t, i, n, e, en, loss) -> epochs.incrementAndGet());
        assertEquals(2 + 2 * (10 + 6), epochs.get());
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
        assertEquals(1 + 2 * 2, other.get());
    }

    @Test
    void calibrationObjective_lossLowerAtFinetunedTrunk() throws Exception {
        Zoo zoo = Zoo.build(tiny(), cache, ProgressListener.none());
        String task = "digits_perm";
        SameDiffObjective obj = zoo.calibrationObjective(task, 100, 3L, false);
        try (Model base = zoo.baseModel(TensorBackends.reference());
                Model tuned = zoo.finetunedModel(task, TensorBackends.reference())) {
            double lb = obj.loss(base);
            double lt = obj.loss(tuned);
            assertTrue(lt < lb, "calibration loss fine-tuned " + lt + " vs base " + lb);
            assertNotEquals(0.0, lb);
        }
    }
}
