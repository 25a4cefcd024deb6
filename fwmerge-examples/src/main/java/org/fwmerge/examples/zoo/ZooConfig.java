package org.fwmerge.examples.zoo;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Everything that determines a zoo. Two builds with equal configurations (and the same data) give the
 * same checkpoints; the cache is reused only when the stored {@link #provenance()} equals this one.
 *
 * @param tasks              the tasks (1 or more, unique names)
 * @param seed               seed of initialisation, subsets, shuffling and (through {@link Task#standard})
 *                           the pixel permutations
 * @param trainPerClass      training samples per original class of a task's dataset (cap)
 * @param testPerClass       test samples per original class (cap)
 * @param pretrainEpochs     epochs of trunk pre-training on the pretext mixture
 * @param headShots          training samples per class a zero-shot head is fitted with: few, as a
 *                           zero-shot classifier knows little of the task — this leaves the headroom that
 *                           fine-tuning and merging recover
 * @param headEpochs         epochs of fitting each zero-shot head on the frozen trunk
 * @param finetuneEpochs     epochs of fine-tuning per task (full trunk, and LoRA adapters), head frozen
 * @param batchSize          minibatch size
 * @param pretrainLr         Adam learning rate of pre-training
 * @param headLr             Adam learning rate of head fitting
 * @param finetuneLr         Adam learning rate of fine-tuning
 * @param loraRank           rank of the LoRA adapter trained per task on both trunk weights (alpha = 2·rank),
 *                           or 0 for none
 * @param loraLr             Adam learning rate of LoRA training
 * @param misinitializedTask a task to also fine-tune from a differently initialised pre-trained trunk
 *                           (the misinitialised candidate of the paper's Fig. 1c), or empty
 * @param dataDir            a directory with the full data, or empty for the default
 *                           ({@link org.fwmerge.examples.data.DataSources#load})
 */
public record ZooConfig(List<Task> tasks, long seed, int trainPerClass, int testPerClass, int pretrainEpochs,
        int headShots, int headEpochs, int finetuneEpochs, int batchSize, double pretrainLr, double headLr,
        double finetuneLr, int loraRank, double loraLr, Optional<String> misinitializedTask, Optional<Path> dataDir) {

    /** Format version of the cache; bump when training code changes its results. */
    static final int VERSION = 2;

    /** Checks every value and copies the task list. */
    public ZooConfig {
        Objects.requireNonNull(tasks, "tasks");
        Objects.requireNonNull(dataDir, "dataDir");
        Objects.requireNonNull(misinitializedTask, "misinitializedTask");
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
        positive("headShots", headShots);
        positive("headEpochs", headEpochs);
        positive("finetuneEpochs", finetuneEpochs);
        positive("batchSize", batchSize);
        rate("pretrainLr", pretrainLr);
        rate("headLr", headLr);
        rate("finetuneLr", finetuneLr);
        rate("loraLr", loraLr);
        if (loraRank < 0 || loraRank > Mlp.H2) {
            throw new IllegalArgumentException("loraRank must be in [0, " + Mlp.H2 + "], got " + loraRank);
        }
        List<String> names = tasks.stream().map(Task::name).toList();
        misinitializedTask.ifPresent(t -> {
            if (!names.contains(t)) {
                throw new IllegalArgumentException("misinitializedTask '" + t + "' is not a task of the zoo: " + names);
            }
        });
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

    /**
     * The demo's configuration for a seed: the 20 {@link Task#standard standard} tasks on the bundled
     * subset, heads fitted on 4 shots per class, rank-8 LoRA adapters, and a misinitialised model of
     * {@code digits_rot90}.
     */
    public static ZooConfig defaults(long seed) {
        return new ZooConfig(Task.standard(seed), seed, 300, 100, 6, 4, 40, 8, 128, 1e-3, 3e-2, 1e-3, 8, 3e-3,
                Optional.of("digits_rot90"), Optional.empty());
    }

    /** LoRA's alpha: 2·rank, so the adapters' scaling alpha/r is 2 whatever the rank. */
    public double loraAlpha() {
        return 2.0 * loraRank;
    }

    /** A copy with other tasks and no misinitialised model (its task may be gone). */
    public ZooConfig withTasks(List<Task> newTasks) {
        return new ZooConfig(newTasks, seed, trainPerClass, testPerClass, pretrainEpochs, headShots, headEpochs,
                finetuneEpochs, batchSize, pretrainLr, headLr, finetuneLr, loraRank, loraLr, Optional.empty(), dataDir);
    }

    /** A copy with other sample counts per class. */
    public ZooConfig withSamples(int newTrainPerClass, int newTestPerClass) {
        return new ZooConfig(tasks, seed, newTrainPerClass, newTestPerClass, pretrainEpochs, headShots, headEpochs,
                finetuneEpochs, batchSize, pretrainLr, headLr, finetuneLr, loraRank, loraLr, misinitializedTask, dataDir);
    }

    /** A copy with other epoch counts. */
    public ZooConfig withEpochs(int pretrain, int head, int finetune) {
        return new ZooConfig(tasks, seed, trainPerClass, testPerClass, pretrain, headShots, head, finetune, batchSize,
                pretrainLr, headLr, finetuneLr, loraRank, loraLr, misinitializedTask, dataDir);
    }

    /** A copy with LoRA adapters of another rank (0: none). */
    public ZooConfig withLoraRank(int rank) {
        return new ZooConfig(tasks, seed, trainPerClass, testPerClass, pretrainEpochs, headShots, headEpochs,
                finetuneEpochs, batchSize, pretrainLr, headLr, finetuneLr, rank, loraLr, misinitializedTask, dataDir);
    }

    /** A copy with a misinitialised model of {@code task}, or none. */
    public ZooConfig withMisinitializedTask(Optional<String> task) {
        return new ZooConfig(tasks, seed, trainPerClass, testPerClass, pretrainEpochs, headShots, headEpochs,
                finetuneEpochs, batchSize, pretrainLr, headLr, finetuneLr, loraRank, loraLr, task, dataDir);
    }

    /** A copy reading full data from {@code dir} (or the default when empty). */
    public ZooConfig withDataDir(Optional<Path> dir) {
        return new ZooConfig(tasks, seed, trainPerClass, testPerClass, pretrainEpochs, headShots, headEpochs,
                finetuneEpochs, batchSize, pretrainLr, headLr, finetuneLr, loraRank, loraLr, misinitializedTask, dir);
    }

    /**
     * A canonical text of everything that determines the trained weights (the data origin is added by
     * the zoo), stored in every checkpoint's metadata.
     */
    public String provenance() {
        StringBuilder sb = new StringBuilder("fwmerge-zoo v" + VERSION);
        sb.append(" seed=").append(seed).append(" trainPerClass=").append(trainPerClass)
                .append(" testPerClass=").append(testPerClass).append(" headShots=").append(headShots)
                .append(" epochs=").append(pretrainEpochs).append('/').append(headEpochs).append('/')
                .append(finetuneEpochs).append(" batch=").append(batchSize)
                .append(" lr=").append(pretrainLr).append('/').append(headLr).append('/').append(finetuneLr)
                .append(" lora=").append(loraRank).append('/').append(loraLr)
                .append(" misinitialized=").append(misinitializedTask.orElse("-"))
                .append(" tasks=");
        for (Task t : tasks) {
            sb.append(t.name()).append(':').append(t.source()).append(':').append(t.transform().name())
                    .append(':').append(java.util.Arrays.hashCode(t.transform().source()))
                    .append(':').append(java.util.Arrays.toString(t.labelMap())).append(';');
        }
        return sb.toString();
    }
}
