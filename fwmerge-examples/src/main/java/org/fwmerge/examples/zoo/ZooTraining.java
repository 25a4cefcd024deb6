package org.fwmerge.examples.zoo;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.fwmerge.examples.data.DataBundle;
import org.fwmerge.examples.data.Dataset;
import org.fwmerge.internal.Parallel;
import org.fwmerge.nd4j.Nd4jThreads;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * How the {@link Zoo} is trained: pre-training on the pretext, then per task a zero-shot
 * head on a few shots, the fine-tuned trunk and the LoRA adapter, and the misinitialised model.
 */
final class ZooTraining {

    private ZooTraining() {
    }

    /** Trains every part of the zoo in memory (deterministic for a configuration: each part from its own seeds). */
    static Zoo train(ZooConfig config, DataBundle data, ProgressListener progress) {
        // SameDiff training runs many small ops: ND4J's default native threads spin between them on the
        // core the driving thread needs (the zoo trained 2.7 times slower).
        Nd4jThreads.apply();
        long seed = config.seed();
        int n = config.tasks().size();
        Map<String, INDArray> baseNd = pretrain(config, data, seed, progress);
        // The tasks train side by side, one per core: each depends only on the pre-trained trunk and its own
        // seeds, so the zoo is the one trained one after another.
        List<Task> tasks = config.tasks();
        List<Trained> trained = Parallel.items(n, i -> trainTask(config, data, baseNd, tasks.get(i), i + 1, progress));
        List<TaskModel> out = trained.stream().map(Trained::model).toList();
        Optional<MisinitializedModel> misinitialized = trained.stream().map(Trained::misinitialized)
                .flatMap(Optional::stream).findFirst();
        return new Zoo(config, data.origin(), toFloats(baseNd), out, misinitialized, Optional.empty());
    }

    /** A task's models: its own, and the misinitialised one where the configuration names this task. */
    private record Trained(TaskModel model, Optional<MisinitializedModel> misinitialized) {
    }

    /** Trains task {@code index} (1-based): zero-shot head, fine-tuned trunk, LoRA adapter, misinitialised model. */
    private static Trained trainTask(ZooConfig config, DataBundle data, Map<String, INDArray> baseNd, Task task, int index,
            ProgressListener progress) {
        long seed = config.seed();
        int n = config.tasks().size();
        Optional<MisinitializedModel> misinitialized = Optional.empty();
        Zoo.DataBundleSplit s = Zoo.taskData(task, data, config);
        INDArray xTrain = Zoo.inputs(s.train());
        INDArray yTrain = Mlp.oneHot(s.train().labels(), task.classes());
        INDArray xTest = Zoo.inputs(s.test());
        long taskSeed = seed * 1_000_003L + index;
        INDArray[] head = zeroShotHead(config, baseNd, task, s.train(), taskSeed,
                (e, loss) -> progress.epoch("head", task.name(), index, n, e, config.headEpochs(), loss));
        double preAcc = Mlp.accuracy(Mlp.features(baseNd, xTest), head[0], head[1], s.test().labels());
        Map<String, INDArray> tuned = fineTune(config, baseNd, task, head, xTrain, yTrain, taskSeed + 7,
                (e, loss) -> progress.epoch("finetune", task.name(), index, n, e, config.finetuneEpochs(), loss));
        double ftAcc = Mlp.accuracy(Mlp.features(tuned, xTest), head[0], head[1], s.test().labels());
        Optional<LoraAdapter> adapter = Optional.empty();
        if (config.loraRank() > 0) {
            adapter = Optional.of(lora(config, baseNd, task, head, xTrain, yTrain, xTest, s.test().labels(),
                    taskSeed + 11, (e, loss) -> progress.epoch("lora", task.name(), index, n, e,
                            config.finetuneEpochs(), loss)));
        }
        Map<String, float[]> headArrays = new LinkedHashMap<>();
        headArrays.put(Mlp.headWeight(task.name()), head[0].dup('c').data().asFloat());
        headArrays.put(Mlp.headBias(task.name()), head[1].toFloatVector());
        TaskModel model = new TaskModel(task, s.train(), s.test(), headArrays, toFloats(tuned), Optional.empty(), preAcc,
                ftAcc, adapter);
        if (config.misinitializedTask().filter(task.name()::equals).isPresent()) {
            // Another initialisation seed, the same pretext and recipe: only the starting point differs.
            long other = seed + 7_919L;
            Map<String, INDArray> otherBase = pretrain(config, data, other, (st, t, k, m, e, en, loss) -> progress
                    .epoch("misinit", task.name(), index, n, e, en, loss));
            INDArray[] otherHead = zeroShotHead(config, otherBase, task, s.train(), taskSeed + 13, (e, loss) -> { });
            Map<String, INDArray> mis = fineTune(config, otherBase, task, otherHead, xTrain, yTrain, taskSeed + 17,
                    (e, loss) -> progress.epoch("misinit", task.name(), index, n, e, config.finetuneEpochs(), loss));
            misinitialized = Optional.of(new MisinitializedModel(task.name(), toFloats(mis), Optional.empty(),
                    Mlp.accuracy(Mlp.features(mis, xTest), otherHead[0], otherHead[1], s.test().labels())));
        }
        return new Trained(model, misinitialized);
    }

    /** Pre-trains a trunk initialised with {@code initSeed} on the pretext: original images of both datasets, one 20-way head. */
    private static Map<String, INDArray> pretrain(ZooConfig config, DataBundle data, long initSeed,
            ProgressListener progress) {
        long seed = config.seed();
        Dataset fTrain = data.fashionTrain().stratifiedSubset(config.trainPerClass(), seed);
        Dataset dTrain = data.digitsTrain().stratifiedSubset(config.trainPerClass(), seed);
        int[] pl = new int[fTrain.size() + dTrain.size()];
        int[] fl = fTrain.labels();
        int[] dl = dTrain.labels();
        for (int i = 0; i < fl.length; i++) {
            pl[i] = fl[i];
        }
        for (int i = 0; i < dl.length; i++) {
            pl[fl.length + i] = 10 + dl[i];
        }
        INDArray px = Nd4j.vstack(Zoo.inputs(fTrain), Zoo.inputs(dTrain));
        INDArray[] tmpHead = Mlp.initHead(initSeed + 1, Mlp.H2, 20);
        SameDiff pre = Mlp.graph(Mlp.initTrunk(initSeed), true, "pretext", tmpHead[0], tmpHead[1], true);
        int n = config.tasks().size();
        Mlp.fit(pre, px, Mlp.oneHot(pl, 20), config.pretrainEpochs(), config.batchSize(), config.pretrainLr(), seed,
                (e, loss) -> progress.epoch("pretrain", "pretext", 0, n, e, config.pretrainEpochs(), loss));
        Map<String, INDArray> trunk = new LinkedHashMap<>();
        for (String name : Zoo.TRUNK_TENSORS) {
            trunk.put(name, pre.getVariable(name).getArr().dup());
        }
        return trunk;
    }

    /** The zero-shot head: a linear classifier on frozen features of {@link ZooConfig#headShots()} samples per class. */
    private static INDArray[] zeroShotHead(ZooConfig config, Map<String, INDArray> trunk, Task task, Dataset train,
            long seed, Mlp.EpochListener listener) {
        Dataset shots = train.stratifiedSubset(config.headShots(), seed);
        INDArray[] h0 = Mlp.initHead(seed, Mlp.H2, task.classes());
        SameDiff hg = Mlp.headGraph(task.name(), h0[0], h0[1]);
        Mlp.fit(hg, Mlp.features(trunk, Zoo.inputs(shots)), Mlp.oneHot(shots.labels(), task.classes()),
                config.headEpochs(), config.batchSize(), config.headLr(), seed, listener);
        return new INDArray[] {hg.getVariable(Mlp.headWeight(task.name())).getArr().dup(),
            hg.getVariable(Mlp.headBias(task.name())).getArr().dup()};
    }

    /** Fine-tunes the whole trunk with the head frozen (constants in the graph). */
    private static Map<String, INDArray> fineTune(ZooConfig config, Map<String, INDArray> trunk, Task task,
            INDArray[] head, INDArray x, INDArray y, long seed, Mlp.EpochListener listener) {
        SameDiff ft = Mlp.graph(trunk, true, task.name(), head[0], head[1], false);
        Mlp.fit(ft, x, y, config.finetuneEpochs(), config.batchSize(), config.finetuneLr(), seed, listener);
        Map<String, INDArray> tuned = new LinkedHashMap<>();
        for (String name : Zoo.TRUNK_TENSORS) {
            tuned.put(name, ft.getVariable(name).getArr().dup());
        }
        return tuned;
    }

    /** Trains a LoRA adapter on both trunk weights (trunk and head frozen) and measures the adapted trunk. */
    private static LoraAdapter lora(ZooConfig config, Map<String, INDArray> trunk, Task task, INDArray[] head,
            INDArray x, INDArray y, INDArray xTest, int[] testLabels, long seed, Mlp.EpochListener listener) {
        int r = config.loraRank();
        double alpha = config.loraAlpha();
        SameDiff g = Mlp.loraGraph(trunk, r, alpha / r, seed, task.name(), head[0], head[1]);
        Mlp.fit(g, x, y, config.finetuneEpochs(), config.batchSize(), config.loraLr(), seed, listener);
        Map<String, float[]> factors = new LinkedHashMap<>();
        Map<String, INDArray> adapted = new LinkedHashMap<>(trunk);
        for (int l = 0; l < 2; l++) {
            INDArray a = g.getVariable(Mlp.loraFactor(l, 'A')).getArr(); // [in, r]
            INDArray b = g.getVariable(Mlp.loraFactor(l, 'B')).getArr(); // [r, out]
            factors.put(LoraAdapter.name(l, 'A'), a.transpose().dup('c').data().asFloat());
            factors.put(LoraAdapter.name(l, 'B'), b.transpose().dup('c').data().asFloat());
            String w = Zoo.TRUNK_TENSORS.get(2 * l);
            adapted.put(w, trunk.get(w).add(a.mmul(b).muli(alpha / r)));
        }
        double acc = Mlp.accuracy(Mlp.features(adapted, xTest), head[0], head[1], testLabels);
        return new LoraAdapter(r, alpha, factors, Optional.empty(), acc);
    }

    private static Map<String, float[]> toFloats(Map<String, INDArray> m) {
        Map<String, float[]> out = new LinkedHashMap<>();
        m.forEach((k, v) -> out.put(k, v.dup('c').data().asFloat()));
        return out;
    }
}
