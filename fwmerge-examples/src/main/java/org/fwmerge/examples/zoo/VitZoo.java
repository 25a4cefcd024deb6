package org.fwmerge.examples.zoo;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;
import org.fwmerge.LayerInputs;
import org.fwmerge.Model;
import org.fwmerge.Objective;
import org.fwmerge.ParameterSelection;
import org.fwmerge.examples.data.DataBundle;
import org.fwmerge.examples.data.DataSources;
import org.fwmerge.examples.data.Dataset;
import org.fwmerge.internal.Parallel;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.DType;
import org.fwmerge.io.Safetensors;
import org.fwmerge.onnx.OnnxObjective;
import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;

/**
 * The transformer zoo of the demo's experiment 6: a small ViT in Hugging Face's
 * {@code ViTForImageClassification} layout (28×28 grey images, 7×7 patches, 2 layers of width 32, 2 heads;
 * 19.7 k parameters), pre-trained on the original images of both datasets (one head each), then per task
 * of the MLP zoo's 20 a "zero-shot" head fitted on the frozen encoder from a few shots and the encoder
 * fine-tuned with that head frozen. All training is Adam in Java over {@link OnnxObjective} gradients of
 * one exported graph (a committed resource, exported once by {@code tools/export-gradients}); the initial
 * weights come from the seed.
 *
 * <p>On disk (the cache, {@code <cache>/vit/}): {@code base/} and {@code <task>/}, each a Hugging Face
 * folder ({@code config.json}, {@code model.safetensors}) that {@code transformers} loads as is — a task's
 * folder holds its fine-tuned encoder and its head, the base the pre-trained encoder and the digits
 * pre-training head — and {@code <task>/calibration.safetensors} ({@value #CALIBRATION} training samples:
 * {@code pixel_values}, {@code labels}); {@code graphs/} holds the graphs. Merges combine the encoders
 * ({@link #encoder()}); each task is evaluated and calibrated with its own head, read from its folder.
 */
public final class VitZoo implements AutoCloseable {

    /** The model in a line, for reports. */
    public static final String DESCRIPTION = "28×28 grey images, 7×7 patches, 2 layers of width 32, 2 heads, 64 inner; "
            + "19.7 k parameters";
    /** Calibration samples per task (the paper's budget, as the MLP zoo's). */
    public static final int CALIBRATION = 100;
    static final String RESOURCES = "/org/fwmerge/examples/zoo/vit/";
    static final String CONFIG = "config.json";
    static final String CE_GRAPH = "vit-ce-b16.onnx";
    static final String ENTROPY_GRAPH = "vit-entropy-b16.onnx";
    static final String MODEL = "model.safetensors";
    static final String CALIBRATION_FILE = "calibration.safetensors";
    /** Bump when the recipe below changes its results. */
    static final int VERSION = 1;
    static final double PRETRAIN_LR = 1e-3;
    static final double HEAD_LR = 1e-2;
    static final double FINETUNE_LR = 1e-3;
    private static final TensorBackend REF = TensorBackends.reference();
    private static final String PROVENANCE = "fwmerge.vit.provenance";

    /** One task's part: its data, its folder and its figures. */
    private record Part(Task task, ImageSamples test, Path dir, double pretrained, double finetuned) {
    }

    private final Path dir;
    private final Map<String, Part> parts;
    private final Map<String, OnnxObjective> tests = new LinkedHashMap<>();
    private final Map<String, Checkpoint> heads = new LinkedHashMap<>();
    private final Map<String, Objective> objectives = new LinkedHashMap<>();
    private final Map<String, OnnxObjective> terms = new LinkedHashMap<>();
    private final List<AutoCloseable> open = new ArrayList<>();

    private VitZoo(Path dir, Map<String, Part> parts) {
        this.dir = dir;
        this.parts = parts;
    }

    /**
     * Loads the zoo from {@code cacheDir} when every folder there carries the same provenance, else trains
     * it and writes it there.
     */
    public static VitZoo build(ZooConfig config, Path cacheDir, ProgressListener progress) throws IOException {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(progress, "progress");
        Files.createDirectories(cacheDir);
        for (String r : List.of(CE_GRAPH, ENTROPY_GRAPH)) {
            extract(r, cacheDir.resolve("graphs").resolve(r));
        }
        DataBundle data = DataSources.load(config.dataDir());
        String provenance = "fwmerge-vit-zoo v" + VERSION + " lr=" + PRETRAIN_LR + "/" + HEAD_LR + "/" + FINETUNE_LR + " " + config.provenance()
                + " data=" + data.origin();
        Map<String, Part> parts = cached(config, data, cacheDir, provenance);
        if (parts == null) {
            parts = train(config, data, cacheDir, provenance, progress);
        }
        return new VitZoo(cacheDir, parts);
    }

    private static Map<String, Part> cached(ZooConfig config, DataBundle data, Path dir, String provenance)
            throws IOException {
        Map<String, Part> parts = new LinkedHashMap<>();
        if (!provenance.equals(metadata(dir.resolve("base").resolve(MODEL)).get(PROVENANCE))) {
            return null;
        }
        for (Task t : config.tasks()) {
            Map<String, String> meta = metadata(dir.resolve(t.name()).resolve(MODEL));
            if (!provenance.equals(meta.get(PROVENANCE)) || !Files.isRegularFile(dir.resolve(t.name()).resolve(CALIBRATION_FILE))) {
                return null;
            }
            parts.put(t.name(), new Part(t, new ImageSamples(Zoo.taskData(t, data, config).test()), dir.resolve(t.name()),
                    Double.parseDouble(meta.get("pretrained_accuracy")), Double.parseDouble(meta.get("finetuned_accuracy"))));
        }
        return parts;
    }

    private static Map<String, String> metadata(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            return Map.of();
        }
        try (Checkpoint c = Safetensors.open(file)) {
            return Map.copyOf(c.metadata());
        }
    }

    private static Map<String, Part> train(ZooConfig config, DataBundle data, Path dir, String provenance,
            ProgressListener progress) throws IOException {
        Path ce = dir.resolve("graphs").resolve(CE_GRAPH);
        long seed = config.seed();
        int n = config.tasks().size();
        Map<String, long[]> shapes;
        try (OnnxObjective probe = OnnxObjective.builder().graph(ce).calibration(
                new ImageSamples(data.digitsTrain().stratifiedSubset(1, seed))).threads(1).build()) {
            shapes = probe.weights();
        }
        Map<String, float[]> encoder = init(shapes, seed, true);
        Map<String, float[]> digitsHead = init(shapes, seed + 1, false);
        Map<String, float[]> fashionHead = init(shapes, seed + 2, false);
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put(PROVENANCE, provenance);
        meta.put("format", "pt");
        meta.put("seed", Long.toString(seed));
        try (OnnxObjective digits = objective(ce, new ImageSamples(data.digitsTrain().stratifiedSubset(config.trainPerClass(), seed)), null);
             OnnxObjective fashion = objective(ce, new ImageSamples(data.fashionTrain().stratifiedSubset(config.trainPerClass(), seed)), null)) {
            VitTraining.fit(List.of(digits, fashion), List.of(union(encoder, digitsHead), union(encoder, fashionHead)), shapes,
                    config.pretrainEpochs(), PRETRAIN_LR, seed, (e, loss) -> progress.epoch("pretrain", "vit pretext", 0, n,
                            e, config.pretrainEpochs(), loss));
        }
        // The tasks train side by side, one per core: each depends only on the pre-trained encoder and its own
        // seed, so the zoo is the same as trained one after another (each call runs on one ONNX Runtime thread).
        List<Task> tasks = config.tasks();
        List<Part> trained = Parallel.items(n, i -> {
            try {
                return trainTask(config, data, dir, provenance, progress, ce, shapes, encoder, meta, tasks.get(i), i + 1);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        Map<String, Part> parts = new LinkedHashMap<>();
        trained.forEach(p -> parts.put(p.task().name(), p));
        // The base folder is written last: with a matching provenance it marks a complete cache.
        writeFolder(dir.resolve("base"), union(encoder, digitsHead), shapes, meta);
        return parts;
    }

    /** Fits task {@code i}'s (1-based) zero-shot head on the frozen encoder, fine-tunes the encoder, writes its folder. */
    private static Part trainTask(ZooConfig config, DataBundle data, Path dir, String provenance, ProgressListener progress,
            Path ce, Map<String, long[]> shapes, Map<String, float[]> encoder, Map<String, String> meta, Task task, int i)
            throws IOException {
        long seed = config.seed();
        int n = config.tasks().size();
        long taskSeed = seed * 1_000_003L + i;
        Zoo.DataBundleSplit s = Zoo.taskData(task, data, config);
        ImageSamples test = new ImageSamples(s.test());
        Map<String, float[]> head = init(shapes, taskSeed, false);
        try (Model frozen = Model.ofArrays("pre-trained encoder", REF, encoder, subset(shapes, encoder));
             OnnxObjective shots = objective(ce, new ImageSamples(s.train().stratifiedSubset(config.headShots(), taskSeed)),
                     frozen)) {
            VitTraining.fit(List.of(shots), List.of(head), shapes, config.headEpochs(), HEAD_LR, taskSeed,
                    (e, loss) -> progress.epoch("head", task.name(), i, n, e, config.headEpochs(), loss));
        }
        double pre = accuracy(ce, test, encoder, head, shapes);
        Map<String, float[]> tuned = copy(encoder);
        try (Model frozenHead = Model.ofArrays("head " + task.name(), REF, head, subset(shapes, head));
             OnnxObjective train = objective(ce, new ImageSamples(s.train()), frozenHead)) {
            VitTraining.fit(List.of(train), List.of(tuned), shapes, config.finetuneEpochs(), FINETUNE_LR, taskSeed + 7,
                    (e, loss) -> progress.epoch("finetune", task.name(), i, n, e, config.finetuneEpochs(), loss));
        }
        double ft = accuracy(ce, test, tuned, head, shapes);
        Map<String, String> taskMeta = new LinkedHashMap<>(meta);
        taskMeta.put("task", task.name());
        taskMeta.put("task_description", task.toString());
        taskMeta.put("pretrained_accuracy", Double.toString(pre));
        taskMeta.put("finetuned_accuracy", Double.toString(ft));
        Path taskDir = dir.resolve(task.name());
        writeFolder(taskDir, union(tuned, head), shapes, taskMeta);
        Dataset cal = s.train().stratifiedSubset(Math.max(1, (CALIBRATION + task.classes() - 1) / task.classes()), seed);
        int[] keep = new int[Math.min(CALIBRATION, cal.size())];
        java.util.Arrays.setAll(keep, k -> k);
        Safetensors.write(new ImageSamples(cal.select(task.name() + "/calibration", keep)),
                taskDir.resolve(CALIBRATION_FILE), DType.F32, Map.of("task", task.name(), PROVENANCE, provenance));
        return new Part(task, test, taskDir, pre, ft);
    }

    private static OnnxObjective objective(Path graph, Checkpoint samples, Checkpoint fixed) {
        OnnxObjective.Builder b = OnnxObjective.builder().graph(graph).calibration(samples).threads(THREADS);
        return (fixed == null ? b : b.fixed(fixed)).build();
    }

    /**
     * ONNX Runtime threads per call: one. The graph is small (a batch of 16 takes 2-4 ms): a second thread
     * only synchronises (measured 2.0 against 2.4 ms per call on 2 cores).
     */
    private static final int THREADS = 1;

    /** Initial weights from the seed as Hugging Face initialises a ViT: N(0, 0.02) truncated at 2σ, biases 0, norms 1. */
    private static Map<String, float[]> init(Map<String, long[]> shapes, long seed, boolean encoder) {
        SplittableRandom r = new SplittableRandom(seed);
        Map<String, float[]> out = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            String name = e.getKey();
            if (name.startsWith(VIT_PREFIX) != encoder) {
                continue;
            }
            float[] v = new float[Math.toIntExact(org.fwmerge.tensor.Tensor.sizeOf(e.getValue()))];
            boolean norm = name.contains("layernorm");
            if (norm && name.endsWith(".weight")) {
                java.util.Arrays.fill(v, 1f);
            } else if (!name.endsWith(".bias")) {
                for (int i = 0; i < v.length; i++) {
                    double g;
                    do {
                        g = Math.sqrt(-2 * Math.log(1 - r.nextDouble())) * Math.cos(2 * Math.PI * r.nextDouble());
                    } while (Math.abs(g) > 2);
                    v[i] = (float) (0.02 * g);
                }
            }
            out.put(name, v);
        }
        return out;
    }

    private static final String VIT_PREFIX = "vit.";

    private static double accuracy(Path graph, ImageSamples test, Map<String, float[]> encoder, Map<String, float[]> head,
            Map<String, long[]> shapes) {
        Map<String, float[]> all = union(encoder, head);
        try (Model x = Model.ofArrays("evaluated", REF, all, subset(shapes, all));
             OnnxObjective o = objective(graph, test, null)) {
            return accuracy(o.logits(x), test);
        }
    }

    private static double accuracy(float[][] logits, ImageSamples test) {
        int correct = 0;
        for (int i = 0; i < logits.length; i++) {
            int best = 0;
            for (int c = 1; c < logits[i].length; c++) {
                if (logits[i][c] > logits[i][best]) {
                    best = c;
                }
            }
            correct += best == test.label(i) ? 1 : 0;
        }
        return correct / (double) logits.length;
    }

    private static void writeFolder(Path folder, Map<String, float[]> tensors, Map<String, long[]> shapes,
            Map<String, String> meta) throws IOException {
        Files.createDirectories(folder);
        extract(CONFIG, folder.resolve(CONFIG));
        try (Model m = Model.ofArrays(folder.getFileName().toString(), REF, tensors, subset(shapes, tensors))) {
            Safetensors.write(m, folder.resolve(MODEL), DType.F32, meta);
        }
    }

    private static void extract(String resource, Path to) throws IOException {
        Files.createDirectories(to.getParent());
        try (InputStream in = VitZoo.class.getResourceAsStream(RESOURCES + resource)) {
            if (in == null) {
                throw new IllegalStateException("resource " + RESOURCES + resource + " is missing from the jar");
            }
            Path tmp = Files.createTempFile(to.getParent(), resource, ".tmp");
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(tmp, to, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
    }

    private static Map<String, float[]> union(Map<String, float[]> a, Map<String, float[]> b) {
        Map<String, float[]> out = new LinkedHashMap<>(a);
        out.putAll(b);
        return out;
    }

    private static Map<String, float[]> copy(Map<String, float[]> m) {
        Map<String, float[]> out = new LinkedHashMap<>();
        m.forEach((k, v) -> out.put(k, v.clone()));
        return out;
    }

    private static Map<String, long[]> subset(Map<String, long[]> shapes, Map<String, float[]> of) {
        Map<String, long[]> out = new LinkedHashMap<>();
        of.keySet().forEach(k -> out.put(k, shapes.get(k)));
        return out;
    }

    /** The merged tensors: the encoder ({@code vit.*}); heads stay per task. */
    public static ParameterSelection encoder() {
        return ParameterSelection.include("vit\\..*");
    }

    /** The task names, in the zoo's order. */
    public List<String> taskNames() {
        return List.copyOf(parts.keySet());
    }

    /** The pre-trained model's folder (base of every pool). */
    public Path baseDir() {
        return dir.resolve("base");
    }

    /** A task's folder: its fine-tuned encoder and its head. */
    public Path taskDir(String task) {
        return part(task).dir();
    }

    /** Test accuracy of the pre-trained encoder with the task's zero-shot head. */
    public double pretrainedAccuracy(String task) {
        return part(task).pretrained();
    }

    /** Test accuracy of the task's fine-tuned model. */
    public double finetunedAccuracy(String task) {
        return part(task).finetuned();
    }

    /** The pre-trained encoder as a model of {@code backend} (what the "Pre-trained" row evaluates). */
    public Model baseModel(TensorBackend backend) throws IOException {
        try (Checkpoint c = Safetensors.open(baseDir().resolve(MODEL))) {
            return Model.load(c, c.names().stream().filter(n -> n.startsWith(VIT_PREFIX)).toList(), backend);
        }
    }

    /** Test accuracy of an encoder (e.g. a merge) with the task's head. */
    public double accuracy(Model encoder, String task) {
        // Thread-safe: the objective is built once under the lock, then run outside it (tasks side by side).
        OnnxObjective o;
        synchronized (this) {
            o = tests.computeIfAbsent(task, t -> track(OnnxObjective.builder()
                    .graph(dir.resolve("graphs").resolve(CE_GRAPH)).calibration(part(t).test()).fixed(head(t))
                    .threads(THREADS).build()));
        }
        return accuracy(o.logits(encoder), part(task).test());
    }

    /**
     * The sum over {@code tasks} of each task's calibration loss (its mean cross-entropy on its
     * calibration samples, or with {@code entropy} the mean prediction entropy on the same images) with
     * the task's own head; the terms are the tasks, for the per-task LMO (built once per task list).
     */
    public synchronized Objective objective(List<String> tasks, boolean entropy) {
        return objectives.computeIfAbsent((entropy ? "entropy:" : "ce:") + tasks,
                k -> Objective.sum(tasks.stream().map(t -> (Objective) term(t, entropy)).toList()));
    }

    /**
     * The task's encoder layers' inputs on its calibration samples, with its own head: RegMean's data, from the
     * Gram outputs of the cross-entropy graph (its every {@code torch.nn.Linear}; the head's too, which merges
     * leave out).
     */
    public synchronized LayerInputs layerInputs(String task) {
        return term(task, false);
    }

    /**
     * The ViT's blocks in forward order, for RegMean++ ({@link org.fwmerge.baseline.RegMean.Builder#layerByLayer}); the embeddings
     * and the final layer norm have no linear layer.
     */
    public static List<ParameterSelection> blocks() {
        return List.of(ParameterSelection.include("vit\\.encoder\\.layer\\.0\\..*"),
                ParameterSelection.include("vit\\.encoder\\.layer\\.1\\..*"));
    }

    /** One task's calibration objective (a session shared by every objective and Gram source that uses it). */
    private OnnxObjective term(String task, boolean entropy) {
        return terms.computeIfAbsent((entropy ? "entropy:" : "ce:") + task, k -> track(OnnxObjective.builder()
                .graph(dir.resolve("graphs").resolve(entropy ? ENTROPY_GRAPH : CE_GRAPH))
                .calibration(taskDir(task).resolve(CALIBRATION_FILE)).fixed(head(task)).threads(THREADS).build()));
    }

    private Checkpoint head(String task) {
        return heads.computeIfAbsent(task, t -> {
            try {
                return track(Safetensors.open(taskDir(t).resolve(MODEL)));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    private <T extends AutoCloseable> T track(T resource) {
        open.add(resource);
        return resource;
    }

    private Part part(String task) {
        Part p = parts.get(Objects.requireNonNull(task, "task"));
        if (p == null) {
            throw new IllegalArgumentException("no task '" + task + "' in the ViT zoo; tasks: " + parts.keySet());
        }
        return p;
    }

    /** Closes the sessions and checkpoints the zoo opened (objectives handed out stop working). */
    @Override
    public synchronized void close() {
        for (int i = open.size() - 1; i >= 0; i--) {
            try {
                open.get(i).close();
            } catch (Exception e) {
                throw new IllegalStateException("closing " + open.get(i) + " failed", e);
            }
        }
        open.clear();
    }
}
