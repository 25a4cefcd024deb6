package org.fwmerge.examples.zoo;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Everything that determines a zoo. Two builds with equal configurations (and the same data) give the
 * same checkpoints; the cache is reused only when the stored {@link #provenance()} equals this one.
 *
 * @param tasks             the tasks (1 or more, unique names)
 * @param seed              seed of initialisation, subsets and shuffling
 * @param trainPerClass     training samples per original class of a task's dataset (cap)
 * @param testPerClass      test samples per original class (cap)
 * @param pretrainEpochs    epochs of trunk pre-training on the pretext mixture
 * @param headEpochs        epochs of fitting each zero-shot head on the frozen trunk
 * @param finetuneEpochs    epochs of fine-tuning the trunk per task (head frozen)
 * @param batchSize         minibatch size
 * @param pretrainLr        Adam learning rate of pre-training
 * @param headLr            Adam learning rate of head fitting
 * @param finetuneLr        Adam learning rate of fine-tuning
 * @param dataDir           a directory with the full data, or empty for the default
 *                          ({@link org.fwmerge.examples.data.DataSources#load})
 */
public record ZooConfig(List<Task> tasks, long seed, int trainPerClass, int testPerClass, int pretrainEpochs,
        int headEpochs, int finetuneEpochs, int batchSize, double pretrainLr, double headLr, double finetuneLr,
        Optional<Path> dataDir) {

    /** Format version of the cache; bump when training code changes its results. */
    static final int VERSION = 1;

    /** Checks every value and copies the task list. */
    public ZooConfig {
        Objects.requireNonNull(tasks, "tasks");
        Objects.requireNonNull(dataDir, "dataDir");
        tasks = List.copyOf(tasks);
        if (tasks.isEmpty()) {
            throw new IllegalArgumentException("a zoo needs at least one task");
        }
        if (tasks.stream().map(Task::name).distinct().count() != tasks.size()) {
            throw new IllegalArgumentException("task names must be unique: " + tasks.stream().map(Task::name).toList());
        }
        positive("trainPerClass", trainPerClass);
        positive("testPerClass", testPerClass);
        positive("pretrainEpochs", pretrainEpochs);
        positive("headEpochs", headEpochs);
        positive("finetuneEpochs", finetuneEpochs);
        positive("batchSize", batchSize);
        rate("pretrainLr", pretrainLr);
        rate("headLr", headLr);
        rate("finetuneLr", finetuneLr);
    }

    private static void positive(String name, int v) {
        if (v < 1) {
            throw new IllegalArgumentException(name + " must be >= 1, got " + v);
        }
    }

    private static void rate(String name, double v) {
        if (!(v > 0 && Double.isFinite(v))) {
            throw new IllegalArgumentException(name + " must be a positive finite number, got " + v);
        }
    }

    /** The demo's configuration: the 20 {@link Task#standard standard} tasks on the bundled subset. */
    public static ZooConfig defaults() {
        return new ZooConfig(Task.standard(42L), 42L, 300, 100, 6, 10, 8, 128, 1e-3, 1e-2, 3e-4,
                Optional.empty());
    }

    /** A copy with other tasks. */
    public ZooConfig withTasks(List<Task> newTasks) {
        return new ZooConfig(newTasks, seed, trainPerClass, testPerClass, pretrainEpochs, headEpochs, finetuneEpochs,
                batchSize, pretrainLr, headLr, finetuneLr, dataDir);
    }

    /** A copy with other sample counts per class. */
    public ZooConfig withSamples(int newTrainPerClass, int newTestPerClass) {
        return new ZooConfig(tasks, seed, newTrainPerClass, newTestPerClass, pretrainEpochs, headEpochs,
                finetuneEpochs, batchSize, pretrainLr, headLr, finetuneLr, dataDir);
    }

    /** A copy with other epoch counts. */
    public ZooConfig withEpochs(int pretrain, int head, int finetune) {
        return new ZooConfig(tasks, seed, trainPerClass, testPerClass, pretrain, head, finetune, batchSize, pretrainLr,
                headLr, finetuneLr, dataDir);
    }

    /** A copy with other learning rates. */
    public ZooConfig withLearningRates(double pretrain, double head, double finetune) {
        return new ZooConfig(tasks, seed, trainPerClass, testPerClass, pretrainEpochs, headEpochs, finetuneEpochs,
                batchSize, pretrain, head, finetune, dataDir);
    }

    /** A copy reading full data from {@code dir} (or the default when empty). */
    public ZooConfig withDataDir(Optional<Path> dir) {
        return new ZooConfig(tasks, seed, trainPerClass, testPerClass, pretrainEpochs, headEpochs, finetuneEpochs,
                batchSize, pretrainLr, headLr, finetuneLr, dir);
    }

    /**
     * A canonical text of everything that determines the trained weights (the data origin is added by
     * the zoo), stored in every checkpoint's metadata.
     */
    public String provenance() {
        StringBuilder sb = new StringBuilder("fwmerge-zoo v" + VERSION);
        sb.append(" seed=").append(seed).append(" trainPerClass=").append(trainPerClass)
                .append(" testPerClass=").append(testPerClass).append(" epochs=").append(pretrainEpochs).append('/')
                .append(headEpochs).append('/').append(finetuneEpochs).append(" batch=").append(batchSize)
                .append(" lr=").append(pretrainLr).append('/').append(headLr).append('/').append(finetuneLr)
                .append(" tasks=");
        for (Task t : tasks) {
            sb.append(t.name()).append(':').append(t.source()).append(':').append(t.transform().name())
                    .append(':').append(java.util.Arrays.hashCode(t.transform().source()))
                    .append(':').append(java.util.Arrays.toString(t.labelMap())).append(';');
        }
        return sb.toString();
    }
}
