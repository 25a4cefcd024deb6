package org.fwmerge.examples.zoo;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.fwmerge.LayerInputs;
import org.fwmerge.Model;
import org.fwmerge.Objective;
import org.fwmerge.examples.data.DataBundle;
import org.fwmerge.examples.data.DataSources;
import org.fwmerge.examples.data.Dataset;
import org.fwmerge.nd4j.SameDiffObjective;
import org.fwmerge.tensor.TensorBackend;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A zoo of real fine-tuned models, the input of the merging demo (the README's "The zoo"): an MLP trunk
 * 784-512-256 (ReLU) pre-trained on a pretext mixture (original Fashion-MNIST and MNIST digits, one
 * temporary 20-way head), and for every task a linear "zero-shot" head fitted on the frozen pre-trained
 * trunk from a few samples per class ({@link ZooConfig#headShots()}), a trunk fine-tuned with that head
 * frozen and, optionally, a LoRA adapter trained the same way ({@link LoraAdapter}); optionally also one
 * {@link MisinitializedModel}.
 *
 * <p>The design leaves merging something to recover, as the paper's CLIP zoo does (zero-shot ≈ 0.5,
 * fine-tuned ≈ 0.9): the tasks' inputs are transformed (rotations, flips, pixel permutations) so the
 * pre-trained features serve them poorly, and a head fitted on a few shots knows little of its task;
 * fine-tuning the trunk recovers the rest.
 *
 * <p>Tensor layout (also in the checkpoints): {@code trunk.0.weight} [784,512], {@code trunk.0.bias}
 * [512], {@code trunk.1.weight} [512,256], {@code trunk.1.bias} [256], {@code head.<task>.weight}
 * [256,C], {@code head.<task>.bias} [C]; weights are [in, out], a layer computes relu(x·W + b).
 *
 * <p>A zoo is immutable; its arrays are shared, callers must not write into them.
 */
public final class Zoo {

    /** Names of the trunk tensors, in checkpoint order. */
    public static final List<String> TRUNK_TENSORS = Mlp.TRUNK;
    /** Shapes of the trunk tensors. */
    public static final Map<String, long[]> TRUNK_SHAPES = Map.of(Mlp.W0, new long[] {Mlp.IN, Mlp.H1},
            Mlp.B0, new long[] {Mlp.H1}, Mlp.W1, new long[] {Mlp.H1, Mlp.H2}, Mlp.B1, new long[] {Mlp.H2});

    private final ZooConfig config;
    private final String dataOrigin;
    private final Map<String, float[]> base;
    private final Map<String, TaskModel> tasks;
    private final Optional<MisinitializedModel> misinitialized;
    private final Optional<Path> cacheDir;
    /** Each task's test images as one array, built at the first accuracy asked (read concurrently after). */
    private final Map<String, INDArray> testInputs = new java.util.concurrent.ConcurrentHashMap<>();

    Zoo(ZooConfig config, String dataOrigin, Map<String, float[]> base, List<TaskModel> tasks,
            Optional<MisinitializedModel> misinitialized, Optional<Path> cacheDir) {
        this.cacheDir = cacheDir;
        this.misinitialized = misinitialized;
        this.config = config;
        this.dataOrigin = dataOrigin;
        this.base = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(base));
        LinkedHashMap<String, TaskModel> m = new LinkedHashMap<>();
        tasks.forEach(t -> m.put(t.task().name(), t));
        this.tasks = java.util.Collections.unmodifiableMap(m);
    }

    /** The misinitialised model, if the configuration asks for one. */
    public Optional<MisinitializedModel> misinitialized() {
        return misinitialized;
    }

    /** The configuration the zoo was built with. */
    public ZooConfig config() {
        return config;
    }

    /** Where the data came from. */
    public String dataOrigin() {
        return dataOrigin;
    }

    /** The pre-trained trunk tensors θ₀ (name → values). */
    public Map<String, float[]> baseTrunk() {
        return base;
    }

    /** The pre-trained trunk as a {@link Model} of {@code backend} (a fresh copy). */
    public Model baseModel(TensorBackend backend) {
        return Model.ofArrays("zoo base trunk", backend, base, TRUNK_SHAPES);
    }

    /** The task's fine-tuned trunk as a {@link Model} of {@code backend} (a fresh copy). */
    public Model finetunedModel(String task, TensorBackend backend) {
        return Model.ofArrays("zoo " + task, backend, task(task).trunk(), TRUNK_SHAPES);
    }

    /** The tasks' parts, in configuration order. */
    public List<TaskModel> tasks() {
        return List.copyOf(tasks.values());
    }

    /**
     * One task's part.
     *
     * @throws IllegalArgumentException if there is no such task
     */
    public TaskModel task(String name) {
        TaskModel t = tasks.get(Objects.requireNonNull(name, "name"));
        if (t == null) {
            throw new IllegalArgumentException("no task '" + name + "' in the zoo; tasks: " + tasks.keySet());
        }
        return t;
    }

    /**
     * Test accuracy of a trunk with the task's zero-shot head.
     *
     * @param trunk the four trunk tensors by name (e.g. a merged model)
     * @throws IllegalArgumentException if a trunk tensor is missing or has the wrong size
     */
    public double accuracy(Map<String, float[]> trunk, String task) {
        TaskModel t = task(task);
        Map<String, INDArray> nd = toNd(trunk);
        return Mlp.accuracy(Mlp.features(nd, testInputs.computeIfAbsent(task, k -> inputs(t.test()))), headW(t), headB(t),
                t.test().labels());
    }

    /** Test accuracy of a trunk held in a {@link Model} (e.g. a merge result) with the task's head. */
    public double accuracy(Model trunk, String task) {
        Map<String, float[]> m = new LinkedHashMap<>();
        for (String n : TRUNK_TENSORS) {
            if (!trunk.contains(n)) {
                throw new IllegalArgumentException("model " + trunk.source() + " has no tensor " + n);
            }
            m.put(n, trunk.values(n));
        }
        return accuracy(m, task);
    }

    /**
     * The task's network as a SameDiff graph with {@code samples} class-stratified training samples as
     * calibration data (seeded), for building a calibration objective. The trunk variables start at the
     * pre-trained values.
     */
    public TaskGraph calibrationGraph(String task, int samples, long seed) {
        TaskModel t = task(task);
        Dataset cal = calibrationSet(t, samples, seed);
        SameDiff sd = Mlp.graph(toNd(base), true, task, headW(t), headB(t), false);
        return new TaskGraph(sd, Mlp.INPUT, Mlp.LABEL, Mlp.LOSS, TRUNK_TENSORS, inputs(cal),
                Mlp.oneHot(cal.labels(), t.task().classes()));
    }

    /** The first {@code samples} of a class-stratified, seeded draw from the task's training split. */
    private static Dataset calibrationSet(TaskModel t, int samples, long seed) {
        if (samples < 1) {
            throw new IllegalArgumentException("samples must be >= 1, got " + samples);
        }
        int perClass = Math.max(1, (samples + t.task().classes() - 1) / t.task().classes());
        Dataset cal = t.train().stratifiedSubset(perClass, seed);
        int[] keep = new int[Math.min(samples, cal.size())];
        for (int i = 0; i < keep.length; i++) {
            keep[i] = i;
        }
        return cal.select(cal.name() + "/calibration", keep);
    }

    /**
     * Builds the zoo, or loads it from {@code cacheDir} when every file there carries the same
     * provenance (configuration and data origin); otherwise trains it (progress to {@code progress}) and
     * writes the cache: {@code base.safetensors}, {@code task-<name>.safetensors} (fine-tuned trunk, with
     * task, seed, epochs and accuracies in the metadata) and {@code head-<name>.safetensors}.
     *
     * @param config   what to build
     * @param cacheDir cache directory (created if needed), e.g. {@code work/zoo}
     * @param progress receives training progress
     * @throws IOException if data or cache files cannot be read or written
     */
    public static Zoo build(ZooConfig config, Path cacheDir, ProgressListener progress) throws IOException {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(cacheDir, "cacheDir");
        Objects.requireNonNull(progress, "progress");
        DataBundle data = DataSources.load(config.dataDir());
        String provenance = config.provenance() + " data=" + data.origin();
        Zoo cached = loadCached(config, data, cacheDir, provenance);
        if (cached != null) {
            return cached;
        }
        Zoo zoo = ZooTraining.train(config, data, progress);
        Map<String, String> baseMeta = new LinkedHashMap<>();
        baseMeta.put(ZooStore.PROVENANCE, provenance);
        baseMeta.put("seed", Long.toString(config.seed()));
        baseMeta.put("pretrain_epochs", Integer.toString(config.pretrainEpochs()));
        List<TaskModel> withPaths = new ArrayList<>();
        for (TaskModel t : zoo.tasks()) {
            String name = t.task().name();
            Map<String, String> meta = new LinkedHashMap<>(baseMeta);
            meta.put("task", name);
            meta.put("task_description", t.task().toString());
            meta.put("head_shots", Integer.toString(config.headShots()));
            meta.put("head_epochs", Integer.toString(config.headEpochs()));
            meta.put("finetune_epochs", Integer.toString(config.finetuneEpochs()));
            meta.put("pretrained_accuracy", Double.toString(t.pretrainedAccuracy()));
            meta.put("finetuned_accuracy", Double.toString(t.finetunedAccuracy()));
            Path file = ZooStore.taskFile(cacheDir, name);
            ZooStore.save(file, t.trunk(), TRUNK_SHAPES, meta);
            Map<String, long[]> headShapes = Map.of(Mlp.headWeight(name), new long[] {Mlp.H2, t.task().classes()},
                    Mlp.headBias(name), new long[] {t.task().classes()});
            ZooStore.save(ZooStore.headFile(cacheDir, name), t.head(), headShapes, meta);
            Optional<LoraAdapter> adapter = t.adapter();
            if (adapter.isPresent()) {
                LoraAdapter a = adapter.get();
                Map<String, String> loraMeta = new LinkedHashMap<>(meta);
                loraMeta.put("lora_accuracy", Double.toString(a.accuracy()));
                Path dir = ZooStore.saveAdapter(cacheDir, name, a, loraMeta);
                adapter = Optional.of(new LoraAdapter(a.rank(), a.alpha(), a.factors(), Optional.of(dir), a.accuracy()));
            }
            withPaths.add(new TaskModel(t.task(), t.train(), t.test(), t.head(), t.trunk(), Optional.of(file),
                    t.pretrainedAccuracy(), t.finetunedAccuracy(), adapter));
        }
        Optional<MisinitializedModel> mis = zoo.misinitialized();
        if (mis.isPresent()) {
            MisinitializedModel m = mis.get();
            Map<String, String> meta = new LinkedHashMap<>(baseMeta);
            meta.put("task", m.task());
            meta.put("misinitialized", "fine-tuned from a differently initialised pre-trained trunk");
            meta.put("accuracy", Double.toString(m.accuracy()));
            Path file = ZooStore.misinitializedFile(cacheDir, m.task());
            ZooStore.save(file, m.trunk(), TRUNK_SHAPES, meta);
            mis = Optional.of(new MisinitializedModel(m.task(), m.trunk(), Optional.of(file), m.accuracy()));
        }
        // The base file is written last: its presence with matching provenance marks a complete cache.
        ZooStore.save(ZooStore.baseFile(cacheDir), zoo.baseTrunk(), TRUNK_SHAPES, baseMeta);
        return new Zoo(config, data.origin(), zoo.baseTrunk(), withPaths, mis, Optional.of(cacheDir));
    }

    private static Zoo loadCached(ZooConfig config, DataBundle data, Path dir, String provenance) throws IOException {
        List<Path> files = new ArrayList<>();
        files.add(ZooStore.baseFile(dir));
        for (Task t : config.tasks()) {
            files.add(ZooStore.taskFile(dir, t.name()));
            files.add(ZooStore.headFile(dir, t.name()));
            if (config.loraRank() > 0) {
                files.add(ZooStore.adapterWeights(dir, t.name()));
            }
        }
        config.misinitializedTask().ifPresent(t -> files.add(ZooStore.misinitializedFile(dir, t)));
        for (Path f : files) {
            Map<String, String> meta = ZooStore.metadata(f);
            if (meta == null || !provenance.equals(meta.get(ZooStore.PROVENANCE))) {
                return null;
            }
        }
        Map<String, float[]> base = ZooStore.load(ZooStore.baseFile(dir)).tensors();
        List<TaskModel> tasks = new ArrayList<>();
        for (Task t : config.tasks()) {
            Path file = ZooStore.taskFile(dir, t.name());
            ZooStore.Stored trunk = ZooStore.load(file);
            ZooStore.Stored head = ZooStore.load(ZooStore.headFile(dir, t.name()));
            Optional<LoraAdapter> adapter = Optional.empty();
            if (config.loraRank() > 0) {
                ZooStore.Stored f = ZooStore.load(ZooStore.adapterWeights(dir, t.name()));
                adapter = Optional.of(new LoraAdapter(config.loraRank(), config.loraAlpha(), f.tensors(),
                        Optional.of(ZooStore.adapterDir(dir, t.name())),
                        Double.parseDouble(f.metadata().get("lora_accuracy"))));
            }
            DataBundleSplit s = taskData(t, data, config);
            tasks.add(new TaskModel(t, s.train(), s.test(), head.tensors(), trunk.tensors(), Optional.of(file),
                    Double.parseDouble(trunk.metadata().get("pretrained_accuracy")),
                    Double.parseDouble(trunk.metadata().get("finetuned_accuracy")), adapter));
        }
        Optional<MisinitializedModel> mis = Optional.empty();
        if (config.misinitializedTask().isPresent()) {
            String t = config.misinitializedTask().get();
            Path file = ZooStore.misinitializedFile(dir, t);
            ZooStore.Stored m = ZooStore.load(file);
            mis = Optional.of(new MisinitializedModel(t, m.tensors(), Optional.of(file),
                    Double.parseDouble(m.metadata().get("accuracy"))));
        }
        return new Zoo(config, data.origin(), base, tasks, mis, Optional.of(dir));
    }

    /** Whether this zoo came from (or was written to) a cache directory, and which. */
    public Optional<Path> cacheDir() {
        return cacheDir;
    }

    /** The pre-trained trunk's file in the cache, if the zoo is cached. */
    public Optional<Path> baseCheckpoint() {
        return cacheDir.map(ZooStore::baseFile);
    }

    /**
     * Shards of the calibration objectives' samples, each on its own graph copy, evaluated side by side: the
     * trunk's calls are bound by SameDiff's per-op overhead, which ND4J's own threads do not spread, so
     * shards use the second core. Fixed, not the core count, so that the demo's figures do not depend on
     * the machine.
     */
    static final int REPLICAS = 2;

    /**
     * A calibration objective for one task: cross-entropy (or, with {@code entropy}, prediction entropy)
     * of the task's network on {@code samples} class-stratified training samples, as a function of the
     * four trunk tensors; the head is fixed.
     */
    public SameDiffObjective calibrationObjective(String task, int samples, long seed, boolean entropy) {
        TaskGraph g = calibrationGraph(task, samples, seed);
        SameDiffObjective.Builder b = SameDiffObjective.builder().graph(Mlp.logitsGraph(toNd(base), task,
                headW(task(task)), headB(task(task)))).input(Mlp.INPUT, g.inputs()).logits(Mlp.LOGITS).replicas(REPLICAS)
                // What RegMean needs: each trunk layer's input rows on this task's samples.
                .layerInput(Mlp.W0, Mlp.INPUT, LayerInputs.Orientation.IN_BY_OUT)
                .layerInput(Mlp.W1, Mlp.HIDDEN1, LayerInputs.Orientation.IN_BY_OUT);
        for (String n : TRUNK_TENSORS) {
            b.parameter(n, n);
        }
        if (entropy) {
            b.predictionEntropy();
        } else {
            b.crossEntropy(g.labels());
        }
        return b.build();
    }

    /**
     * The trunk's two weight matrices' inputs on a task's calibration samples (the images, and the first
     * hidden layer's activations at the point given), what RegMean takes from each candidate: the
     * {@link #calibrationObjective(String, int, long, boolean) calibration objective}'s graph.
     */
    public LayerInputs layerInputs(String task, int samples, long seed) {
        return calibrationObjective(task, samples, seed, false);
    }

    /**
     * The calibration objective over several tasks: the mean of their {@link #calibrationObjective(String,
     * int, long, boolean) single-task} losses (same samples), computed by one multi-head graph in one
     * call per evaluation; its {@link Objective#terms() terms} are the single-task objectives, so the
     * per-task soft LMO can use it. The tasks' heads must have the same number of classes.
     *
     * @throws IllegalArgumentException if a task is unknown or the heads' class counts differ
     */
    public Objective calibrationObjective(List<String> taskNames, int samples, long seed, boolean entropy) {
        List<Objective> terms = new ArrayList<>();
        List<INDArray> ws = new ArrayList<>();
        List<INDArray> bs = new ArrayList<>();
        List<INDArray> xs = new ArrayList<>();
        List<int[]> labels = new ArrayList<>();
        int k = taskNames.size();
        TaskModel first = task(taskNames.get(0));
        for (int j = 0; j < k; j++) {
            TaskModel t = task(taskNames.get(j));
            if (t.task().classes() != first.task().classes()) {
                throw new IllegalArgumentException("one graph over tasks needs equal class counts: "
                        + taskNames.get(0) + " has " + first.task().classes() + ", " + taskNames.get(j) + " has "
                        + t.task().classes());
            }
            terms.add(calibrationObjective(taskNames.get(j), samples, seed, entropy));
            ws.add(headW(t));
            bs.add(headB(t));
            Dataset cal = calibrationSet(t, samples, seed);
            INDArray taskIndex = Nd4j.zeros(org.nd4j.linalg.api.buffer.DataType.FLOAT, cal.size(), k);
            taskIndex.getColumn(j).assign(1);
            xs.add(Nd4j.hstack(inputs(cal), taskIndex));
            labels.add(cal.labels());
        }
        SameDiffObjective.Builder b = SameDiffObjective.builder()
                .graph(Mlp.multiTaskLogitsGraph(toNd(base), taskNames, ws, bs))
                .input(Mlp.INPUT, Nd4j.vstack(xs.toArray(new INDArray[0]))).logits(Mlp.LOGITS).replicas(REPLICAS);
        TRUNK_TENSORS.forEach(n -> b.parameter(n, n));
        if (entropy) {
            b.predictionEntropy();
        } else {
            b.crossEntropy(labels.stream().flatMapToInt(java.util.Arrays::stream).toArray());
        }
        return new MultiTaskObjective(b.build(), terms);
    }

    /**
     * Writes what {@code fwmerge merge} needs to rebuild {@link #calibrationObjective} from files (the
     * form of a {@code frank_wolfe} configuration's {@code objective:} entries): the task's network up to
     * the logits, saved with {@link SameDiff#save} as {@code <task>.sd} (trunk variables named like the
     * checkpoint tensors, the head as constants), and {@code <task>-calibration.safetensors} with the
     * calibration {@code inputs} [n, 784] and {@code labels} (class indices as F32, for cross-entropy).
     *
     * @return the graph file and the calibration file
     * @throws IOException if a file cannot be written
     */
    public List<Path> exportCalibrationObjective(String task, int samples, long seed, Path dir) throws IOException {
        TaskGraph g = calibrationGraph(task, samples, seed);
        java.nio.file.Files.createDirectories(dir);
        Path graph = dir.resolve(task + ".sd");
        Mlp.logitsGraph(toNd(base), task, headW(task(task)), headB(task(task))).save(graph.toFile(), false);
        int n = (int) g.inputs().size(0);
        float[] labels = new float[n];
        for (int i = 0; i < n; i++) {
            labels[i] = g.labels().getRow(i).argMax().getInt(0);
        }
        Map<String, float[]> cal = new LinkedHashMap<>();
        cal.put("inputs", g.inputs().castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT).data().asFloat());
        cal.put("labels", labels);
        Path calibration = dir.resolve(task + "-calibration.safetensors");
        org.fwmerge.io.Safetensors.write(Model.ofArrays(task + " calibration", org.fwmerge.tensor.TensorBackends.reference(),
                cal, Map.of("inputs", new long[] {n, Mlp.IN})), calibration, org.fwmerge.io.DType.F32,
                Map.of("task", task, "samples", Integer.toString(n), "seed", Long.toString(seed)));
        return List.of(graph, calibration);
    }

    /** A task's transformed train/test data under the configuration's per-class caps. */
    static DataBundleSplit taskData(Task task, DataBundle data, ZooConfig config) {
        boolean fashion = task.source() == Task.Source.FASHION;
        Dataset train = (fashion ? data.fashionTrain() : data.digitsTrain())
                .stratifiedSubset(config.trainPerClass(), config.seed());
        Dataset test = (fashion ? data.fashionTest() : data.digitsTest())
                .stratifiedSubset(config.testPerClass(), config.seed());
        return new DataBundleSplit(task.apply(train), task.apply(test));
    }

    record DataBundleSplit(Dataset train, Dataset test) {
    }

    static INDArray inputs(Dataset d) {
        return Nd4j.create(d.pixels(), new long[] {d.size(), Dataset.PIXELS}, 'c');
    }

    private static INDArray headW(TaskModel t) {
        float[] w = t.head().get(Mlp.headWeight(t.task().name()));
        return Nd4j.create(w, new long[] {Mlp.H2, w.length / Mlp.H2}, 'c');
    }

    private static INDArray headB(TaskModel t) {
        return Nd4j.create(t.head().get(Mlp.headBias(t.task().name())));
    }

    static Map<String, INDArray> toNd(Map<String, float[]> trunk) {
        Map<String, INDArray> m = new LinkedHashMap<>();
        for (String n : TRUNK_TENSORS) {
            float[] v = trunk.get(n);
            long[] shape = TRUNK_SHAPES.get(n);
            long size = shape.length == 1 ? shape[0] : shape[0] * shape[1];
            if (v == null || v.length != size) {
                throw new IllegalArgumentException("trunk tensor " + n + (v == null ? " is missing"
                        : " has " + v.length + " values, expected " + size));
            }
            m.put(n, Nd4j.create(v, shape, 'c'));
        }
        return m;
    }

    @Override
    public String toString() {
        return "Zoo[" + tasks.size() + " tasks, data " + dataOrigin + "]";
    }
}
