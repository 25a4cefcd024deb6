package org.fwmerge.onnx;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashSet;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.random.RandomGenerator;
import org.fwmerge.Evaluation;
import org.fwmerge.LayerInputs;
import org.fwmerge.Model;
import org.fwmerge.Objective;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.DType;
import org.fwmerge.io.TensorInfo;
import org.fwmerge.io.TensorReader;
import org.fwmerge.tensor.Matrix;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/**
 * An {@link Objective} on a real architecture: the loss and all its gradients come from one ONNX graph
 * exported from a Hugging Face model by {@code tools/export-gradients/export_gradients.py}, run by ONNX
 * Runtime on calibration samples.
 *
 * <pre>{@code
 * try (Checkpoint head = Safetensors.open(Path.of("task-3/model.safetensors"));
 *      OnnxObjective objective = OnnxObjective.builder()
 *              .graph(Path.of("vit-b4.onnx"))              // export_gradients.py ... --batch 4
 *              .calibration(Path.of("task-3/calibration.safetensors"))
 *              .fixed(head)                                // weights not merged: the task's head
 *              .build()) {
 *     ... FrankWolfeMerger.builder().objective(objective) ...
 * }
 * }</pre>
 *
 * <p><b>The graph</b> takes the data inputs (e.g. {@code pixel_values} and {@code labels}, or
 * {@code input_ids} and {@code attention_mask}), a per-sample weight and every weight of the model by its
 * name on disk; it returns Σ_b w_b·ℓ_b and the gradient of that sum for each weight. Shapes are fixed at
 * export: the samples are cut into batches of the graph's size, each weighing 1/n, the last batch padded
 * with weight 0, so the loss is the mean of ℓ over the n samples given (padding never counts).
 *
 * <p><b>The calibration file</b> is safetensors holding exactly the graph's data inputs by name, the first
 * dimension counting samples (float inputs may be stored F32, F16, BF16 or F64; integer inputs I64 or I32).
 *
 * <p><b>Names.</b> The point's tensors are matched to the graph's weight inputs by name, exactly; graph
 * weights not in the point are read from the {@linkplain Builder#fixed(Checkpoint) fixed} checkpoint. A
 * point with a tensor the graph has no input for, or a graph weight found neither in the point nor in the
 * fixed checkpoint, is refused with both lists — by {@link #checkMerged(Collection)} before a merge, and
 * at every call.
 *
 * <p><b>Memory per call.</b> On a backend that offers {@linkplain TensorBackend#hostBuffer host buffers}
 * (ND4J on the CPU) the point's weights are fed from their own storage and the first batch's gradients are
 * written straight into the returned tensors: a call needs the gradient (4 bytes per merged parameter, which
 * the caller receives), a second gradient-sized buffer when there is more than one batch, and ONNX Runtime's
 * activations for one batch. On other backends the point is copied once into buffers kept by the objective
 * and reused (4 bytes per merged parameter), and each batch's gradients pass through them too. Fixed
 * weights stored as F32 in a file are fed from its mapping; others are converted once and kept.
 *
 * <p><b>RegMean's data.</b> Over a graph exported with {@code --grams} the objective is also the
 * {@link LayerInputs} of its model on its samples: {@link #grams} gives each linear layer's XᵀX / N (see there).
 *
 * <p><b>Threads.</b> One ONNX Runtime session per objective (shared by its {@linkplain #minibatch
 * minibatches}); calls from several threads are safe and run one at a time, each using
 * {@linkplain Builder#threads(int) threads} cores. Results do not depend on the calling thread.
 * {@link #close()} ends the session; the fixed checkpoint must stay open until then.
 */
public final class OnnxObjective implements Objective, LayerInputs, AutoCloseable {

    private static final int CHUNK = 1 << 16;

    /** What a full objective and its minibatches share; guarded by itself. */
    private static final class Shared {
        final GradientGraph graph;
        final Calibration calibration;
        final Checkpoint fixed;
        /** Fixed weights as fed to the graph, read on first use. */
        final Map<String, ByteBuffer> fixedBuffers = new HashMap<>();
        /** Copies of the point's weights (and gradient outputs) for backends without host buffers. */
        final Map<String, ByteBuffer> hostCopies = new HashMap<>();
        boolean closed;

        Shared(GradientGraph graph, Calibration calibration, Checkpoint fixed) {
            this.graph = graph;
            this.calibration = calibration;
            this.fixed = fixed;
        }
    }

    private final Shared shared;
    private final int[] samples;
    private final List<Calibration.Batch> batches;
    private final boolean root;

    private OnnxObjective(Shared shared, int[] samples, boolean root) {
        this.shared = shared;
        this.samples = samples;
        this.batches = shared.calibration.batches(samples, shared.graph.batch);
        this.root = root;
    }

    /** A builder; {@link Builder#graph(Path)} and {@link Builder#calibration(Path)} are required. */
    public static Builder builder() {
        return new Builder();
    }

    /** Number of calibration samples the loss averages over. */
    public int samples() {
        return samples.length;
    }

    /** The graph's batch size (fixed at export). */
    public int batchSize() {
        return shared.graph.batch;
    }

    /** The graph's weight inputs: name → shape, in the graph's order. */
    public Map<String, long[]> weights() {
        Map<String, long[]> out = new LinkedHashMap<>();
        shared.graph.weights.forEach((k, v) -> out.put(k, v.clone()));
        return out;
    }

    @Override
    public double loss(Model x) {
        return run(x, false, null, null).loss();
    }

    @Override
    public Evaluation evaluate(Model x) {
        return run(x, true, null, null);
    }

    /**
     * The linear layers whose input Gram matrices the graph outputs (exported with {@code --grams}): every
     * {@code torch.nn.Linear} weight, [out, in] ({@link Orientation#OUT_BY_IN}); none for a graph without them.
     */
    @Override
    public Map<String, Orientation> layers() {
        Map<String, Orientation> out = new LinkedHashMap<>();
        shared.graph.grams.keySet().forEach(w -> out.put(w, Orientation.OUT_BY_IN));
        return out;
    }

    /**
     * XᵀX / N of each {@linkplain #layers() layer}'s input at {@code x} over this objective's samples: the
     * graph's Gram outputs summed over the batches (in double) and divided by their summed row counts, so padding
     * and, for text, masked tokens never count. Runs only the forward part of the graph.
     *
     * @throws IllegalStateException    if the graph has no Gram outputs
     * @throws IllegalArgumentException if {@code x} does not fit the graph (as {@link #evaluate})
     */
    @Override
    public Map<String, Matrix> grams(Model x) {
        if (shared.graph.grams.isEmpty()) {
            throw new IllegalStateException("graph " + shared.graph.file + " has no Gram outputs: re-export it with"
                    + " tools/export-gradients --grams");
        }
        Map<String, double[]> sums = new LinkedHashMap<>();
        run(x, false, null, sums).close();
        Map<String, Matrix> out = new LinkedHashMap<>();
        shared.graph.grams.forEach((w, f) -> {
            double[] s = sums.get(w);
            double rows = s[f * f];
            double[] g = new double[f * f];
            for (int i = 0; i < g.length; i++) {
                g[i] = s[i] / rows;
            }
            out.put(w, new Matrix(f, f, g));
        });
        return out;
    }

    /**
     * The model's logits at {@code x} on this objective's samples, one row per sample in order (each row
     * the sample's logits flattened: {@code classes} values for a classifier, {@code seq_len · vocab} for a
     * causal LM) — for predictions, e.g. the accuracy of a merge on a test set given as the calibration
     * file. Runs only the forward part of the graph.
     *
     * @throws IllegalArgumentException if {@code x} does not fit the graph (as {@link #evaluate})
     */
    public float[][] logits(Model x) {
        float[][] out = new float[samples.length][];
        run(x, false, out, null).close();
        return out;
    }

    /**
     * {@code size} of this objective's samples drawn without replacement (a partial Fisher–Yates shuffle of
     * their indices), sharing the session; this objective itself when it has at most {@code size}.
     */
    @Override
    public Objective minibatch(int size, RandomGenerator random) {
        if (size < 1) {
            throw new IllegalArgumentException("minibatch size must be >= 1, got " + size);
        }
        Objects.requireNonNull(random, "random");
        if (size >= samples.length) {
            return this;
        }
        int[] pool = samples.clone();
        for (int i = 0; i < size; i++) {
            int j = i + random.nextInt(pool.length - i);
            int t = pool[i];
            pool[i] = pool[j];
            pool[j] = t;
        }
        synchronized (shared) {
            checkOpen();
            return new OnnxObjective(shared, Arrays.copyOf(pool, size), false);
        }
    }

    /**
     * One pass over the batches: the loss, with the gradients if asked, or (into {@code logits}) the logits only,
     * or (into {@code grams}: weight → the Gram's sums in row-major order, then the rows' sum) the Gram outputs only.
     */
    private Evaluation run(Model x, boolean gradients, float[][] logits, Map<String, double[]> grams) {
        Objects.requireNonNull(x, "x");
        synchronized (shared) {
            checkOpen();
            GradientGraph g = shared.graph;
            if (logits != null && !g.hasLogits) {
                throw new IllegalStateException("graph " + g.file + " has no '" + GradientGraph.LOGITS + "' output;"
                        + " re-export it with this version of tools/export-gradients");
            }
            checkPoint(x);
            TensorBackend backend = x.backend();
            OrtEnvironment env = OrtEnvironment.getEnvironment();
            List<OnnxTensor> open = new ArrayList<>();
            Map<String, Tensor> grads = new LinkedHashMap<>();
            Map<String, Tensor> scratch = new HashMap<>();
            boolean done = false;
            try {
                Map<String, OnnxTensor> weights = new LinkedHashMap<>();
                for (Map.Entry<String, long[]> w : g.weights.entrySet()) {
                    String name = w.getKey();
                    ByteBuffer b = x.contains(name) ? feed(backend, name, x.tensor(name)) : fixedBuffer(name);
                    weights.put(name, track(open, OnnxTensor.createTensor(env, b, w.getValue(), OnnxJavaType.FLOAT)));
                }
                double loss = 0;
                for (int k = 0; k < batches.size(); k++) {
                    Calibration.Batch batch = batches.get(k);
                    // Per-batch tensors are closed as soon as the batch has run: only the weights stay open.
                    List<OnnxTensor> perBatch = new ArrayList<>();
                    Map<String, OnnxTensor> inputs = new LinkedHashMap<>(weights);
                    for (Map.Entry<String, ByteBuffer> d : batch.data().entrySet()) {
                        inputs.put(d.getKey(), track(perBatch, OnnxTensor.createTensor(env, d.getValue(),
                                g.data.get(d.getKey()).shape(), g.data.get(d.getKey()).type())));
                    }
                    inputs.put(GradientGraph.SAMPLE_WEIGHT, track(perBatch, OnnxTensor.createTensor(env,
                            batch.sampleWeight(), new long[] {g.batch}, OnnxJavaType.FLOAT)));
                    Map<String, OnnxTensor> pinned = new LinkedHashMap<>();
                    Map<String, Tensor> targets = new LinkedHashMap<>();
                    if (gradients) {
                        for (String name : x.names()) {
                            Map<String, Tensor> into = k == 0 ? grads : scratch;
                            Tensor t = into.computeIfAbsent(name, n -> backend.zeros(g.weights.get(n)));
                            targets.put(name, t);
                            ByteBuffer out = backend.hostBuffer(t).orElseGet(() -> hostCopy(GradientGraph.GRADIENT_PREFIX + name, t.size()));
                            pinned.put(GradientGraph.GRADIENT_PREFIX + name,
                                    track(perBatch, OnnxTensor.createTensor(env, out, g.weights.get(name), OnnxJavaType.FLOAT)));
                        }
                    }
                    String wanted = logits == null ? GradientGraph.LOSS : GradientGraph.LOGITS;
                    Set<String> outputs = Set.of(wanted);
                    if (grams != null) {
                        outputs = new LinkedHashSet<>();
                        for (String w : g.grams.keySet()) {
                            outputs.add(GradientGraph.GRAM_PREFIX + w);
                            outputs.add(GradientGraph.GRAM_COUNT_PREFIX + w);
                        }
                    }
                    try (OrtSession.Result r = g.session.run(inputs, outputs, pinned)) {
                        if (grams != null) {
                            addGrams(g, r, grams);
                        } else if (logits == null) {
                            loss += ((OnnxTensor) r.get(wanted).orElseThrow()).getFloatBuffer().get(0);
                        } else {
                            FloatBuffer v = ((OnnxTensor) r.get(wanted).orElseThrow()).getFloatBuffer();
                            int width = v.remaining() / g.batch;
                            for (int i = 0; i < g.batch && k * g.batch + i < samples.length; i++) {
                                logits[k * g.batch + i] = new float[width];
                                v.get(i * width, logits[k * g.batch + i]);
                            }
                        }
                    } finally {
                        perBatch.forEach(OnnxTensor::close);
                    }
                    for (Map.Entry<String, Tensor> t : targets.entrySet()) {
                        if (backend.hostBuffer(t.getValue()).isEmpty()) {
                            copyIn(backend, hostCopy(GradientGraph.GRADIENT_PREFIX + t.getKey(), t.getValue().size()),
                                    t.getValue());
                        }
                        if (k > 0) {
                            backend.axpy(1, t.getValue(), grads.get(t.getKey()));
                        }
                    }
                }
                done = true;
                return new Evaluation(loss, grads); // the samples' weights of 1/n made the sums means
            } catch (OrtException e) {
                throw new IllegalStateException("ONNX Runtime failed running graph " + g.file + ": " + e.getMessage(), e);
            } finally {
                open.forEach(OnnxTensor::close);
                scratch.values().forEach(Tensor::close);
                if (!done) {
                    grads.values().forEach(Tensor::close);
                }
            }
        }
    }

    /** Adds one batch's Gram outputs and row counts to the sums (weight → Gram in row-major order, then the rows). */
    private static void addGrams(GradientGraph g, OrtSession.Result r, Map<String, double[]> sums) {
        for (Map.Entry<String, Integer> w : g.grams.entrySet()) {
            FloatBuffer v = ((OnnxTensor) r.get(GradientGraph.GRAM_PREFIX + w.getKey()).orElseThrow()).getFloatBuffer();
            int cells = w.getValue() * w.getValue();
            double[] sum = sums.computeIfAbsent(w.getKey(), n -> new double[cells + 1]);
            for (int i = 0; i < cells; i++) {
                sum[i] += v.get(i);
            }
            sum[cells] += ((OnnxTensor) r.get(GradientGraph.GRAM_COUNT_PREFIX + w.getKey()).orElseThrow()).getFloatBuffer()
                    .get(0);
        }
    }

    private static OnnxTensor track(List<OnnxTensor> open, OnnxTensor t) {
        open.add(t);
        return t;
    }

    /** The tensor's own storage when the backend offers it, else a reused host copy of it. */
    private ByteBuffer feed(TensorBackend backend, String name, Tensor t) {
        Optional<ByteBuffer> own = backend.hostBuffer(t);
        if (own.isPresent()) {
            return own.get();
        }
        ByteBuffer copy = hostCopy(name, t.size());
        FloatBuffer f = copy.asFloatBuffer();
        float[] chunk = new float[(int) Math.min(t.size(), CHUNK)];
        for (long off = 0; off < t.size(); off += chunk.length) {
            int len = (int) Math.min(chunk.length, t.size() - off);
            backend.get(t, off, chunk, 0, len);
            f.put((int) off, chunk, 0, len);
        }
        return copy;
    }

    private static void copyIn(TensorBackend backend, ByteBuffer host, Tensor t) {
        FloatBuffer f = host.asFloatBuffer();
        float[] chunk = new float[(int) Math.min(t.size(), CHUNK)];
        for (long off = 0; off < t.size(); off += chunk.length) {
            int len = (int) Math.min(chunk.length, t.size() - off);
            f.get((int) off, chunk, 0, len);
            backend.set(t, off, chunk, 0, len);
        }
    }

    private ByteBuffer hostCopy(String key, long elements) {
        return shared.hostCopies.computeIfAbsent(key, k -> direct(elements, k));
    }

    private static ByteBuffer direct(long elements, String name) {
        long bytes = elements * Float.BYTES;
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("tensor '" + name + "' has " + elements + " elements; ONNX Runtime's"
                    + " Java API feeds at most 2 GiB per tensor");
        }
        return ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.nativeOrder());
    }

    /** A fixed weight as the graph takes it: the file's own F32 bytes, or a converted copy kept. */
    private ByteBuffer fixedBuffer(String name) {
        ByteBuffer b = shared.fixedBuffers.get(name);
        if (b != null) {
            return b;
        }
        Checkpoint c = shared.fixed;
        TensorInfo info = c.info(name);
        Optional<ByteBuffer> stored = info.dtype() == DType.F32 ? c.storedBytes(name) : Optional.empty();
        if (stored.isPresent() && stored.get().isDirect() && ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN) {
            b = stored.get();
        } else {
            b = direct(info.size(), name);
            FloatBuffer f = b.asFloatBuffer();
            try (TensorReader r = c.reader(name)) {
                float[] chunk = new float[(int) Math.min(info.size(), CHUNK)];
                for (long off = 0; off < info.size(); off += chunk.length) {
                    int len = (int) Math.min(chunk.length, info.size() - off);
                    r.read(off, chunk, 0, len);
                    f.put((int) off, chunk, 0, len);
                }
            }
        }
        shared.fixedBuffers.put(name, b);
        return b;
    }

    /**
     * Checks that a point with these tensors fits the graph: every merged tensor has a graph input, and
     * every graph weight is merged or in the fixed checkpoint. Every call does it; call it yourself to
     * refuse a configuration before a merge starts (the merged tensors are known only then).
     *
     * @throws IllegalArgumentException listing both the merged tensors without a graph input and the graph
     *                                  inputs found nowhere
     */
    public void checkMerged(Collection<String> merged) {
        Objects.requireNonNull(merged, "merged");
        GradientGraph g = shared.graph;
        List<String> unknown = new ArrayList<>();
        for (String name : merged) {
            if (!g.weights.containsKey(name)) {
                unknown.add(name);
            }
        }
        Set<String> given = new HashSet<>(merged);
        List<String> missing = new ArrayList<>();
        for (String name : g.weights.keySet()) {
            if (!given.contains(name) && (shared.fixed == null || !shared.fixed.contains(name))) {
                missing.add(name);
            }
        }
        if (!unknown.isEmpty() || !missing.isEmpty()) {
            throw new IllegalArgumentException("the merged tensors do not fit graph " + g.file + ": merged tensors"
                    + " without a graph input: " + (unknown.isEmpty() ? "none" : GradientGraph.abbreviate(unknown))
                    + "; graph inputs found nowhere (neither merged nor in the fixed checkpoint"
                    + (shared.fixed == null ? ", none given" : " " + shared.fixed.source()) + "): "
                    + (missing.isEmpty() ? "none" : GradientGraph.abbreviate(missing)));
        }
    }

    private void checkPoint(Model x) {
        checkMerged(x.names());
        GradientGraph g = shared.graph;
        for (String name : x.names()) {
            long[] want = g.weights.get(name);
            long[] have = x.tensor(name).shape();
            if (!Arrays.equals(want, have)) {
                throw new IllegalArgumentException("merged tensor '" + name + "' of " + x.source() + " has shape "
                        + Arrays.toString(have) + "; graph " + g.file + " takes " + Arrays.toString(want));
            }
        }
    }

    private void checkOpen() {
        if (shared.closed) {
            throw new IllegalStateException("this objective over " + shared.graph.file + " is closed");
        }
    }

    /** Ends the ONNX Runtime session (its minibatches with it). Closing a minibatch does nothing. Idempotent. */
    @Override
    public void close() {
        if (!root) {
            return;
        }
        synchronized (shared) {
            if (!shared.closed) {
                shared.closed = true;
                shared.fixedBuffers.clear();
                shared.hostCopies.clear();
                shared.graph.close();
            }
        }
    }

    @Override
    public String toString() {
        GradientGraph g = shared.graph;
        return "OnnxObjective[graph=" + g.file + ", task=" + g.task + ", loss=" + g.loss + ", batch=" + g.batch
                + ", samples=" + samples.length + ", weights=" + g.weights.size() + "]";
    }

    /** Builder of {@link OnnxObjective}; each setter may be called once. */
    public static final class Builder {
        private Path graph;
        private Path calibration;
        private Checkpoint calibrationSamples;
        private Checkpoint fixed;
        private Integer threads;

        private Builder() {
        }

        /** The loss-and-gradient graph written by {@code export_gradients.py} (required). */
        public Builder graph(Path file) {
            once(graph, "graph");
            graph = Objects.requireNonNull(file, "file");
            return this;
        }

        /**
         * The safetensors file of calibration samples, one tensor per data input of the graph (others are
         * ignored). This or {@link #calibration(Checkpoint)} is required.
         */
        public Builder calibration(Path file) {
            once(calibration == null ? calibrationSamples : calibration, "calibration");
            calibration = Objects.requireNonNull(file, "file");
            return this;
        }

        /**
         * The calibration samples from a checkpoint already open (a file, or samples in memory): its
         * tensors are read at {@link #build()} and not used afterwards. Integer inputs are read from
         * {@link Checkpoint#storedBytes}.
         */
        public Builder calibration(Checkpoint samples) {
            once(calibration == null ? calibrationSamples : calibration, "calibration");
            calibrationSamples = Objects.requireNonNull(samples, "samples");
            return this;
        }

        /**
         * Where graph weights that are not merged (task heads, frozen parts) are read from. Shapes are
         * checked at {@link #build()}; the checkpoint must stay open while the objective is used.
         */
        public Builder fixed(Checkpoint checkpoint) {
            once(fixed, "fixed");
            fixed = Objects.requireNonNull(checkpoint, "checkpoint");
            return this;
        }

        /** ONNX Runtime's intra-op threads, ≥ 1 (default: the available processors). */
        public Builder threads(int n) {
            once(threads, "threads");
            if (n < 1) {
                throw new IllegalArgumentException("threads must be >= 1, got " + n);
            }
            threads = n;
            return this;
        }

        private static void once(Object current, String what) {
            if (current != null) {
                throw new IllegalStateException(what + "(...) was already called on this builder");
            }
        }

        /**
         * Opens the session, checks the graph's contract, reads the calibration samples and checks the
         * fixed checkpoint's shapes.
         *
         * @throws IllegalArgumentException naming the file and tensor, if any of them does not fit
         */
        public OnnxObjective build() {
            if (graph == null) {
                throw new IllegalStateException("graph(...) is required before build()");
            }
            if (calibration == null && calibrationSamples == null) {
                throw new IllegalStateException("calibration(...) is required before build()");
            }
            GradientGraph g = GradientGraph.open(graph, threads == null ? Runtime.getRuntime().availableProcessors() : threads);
            try {
                if (fixed != null) {
                    for (Map.Entry<String, long[]> w : g.weights.entrySet()) {
                        if (fixed.contains(w.getKey()) && !Arrays.equals(fixed.info(w.getKey()).shape(), w.getValue())) {
                            throw new IllegalArgumentException("fixed checkpoint " + fixed.source() + ": tensor '"
                                    + w.getKey() + "' has shape " + Arrays.toString(fixed.info(w.getKey()).shape())
                                    + "; graph " + graph + " takes " + Arrays.toString(w.getValue()));
                        }
                    }
                }
                Calibration cal = calibration != null ? Calibration.read(calibration, g) : Calibration.read(calibrationSamples, g);
                int[] all = new int[cal.samples];
                Arrays.setAll(all, i -> i);
                return new OnnxObjective(new Shared(g, cal, fixed), all, true);
            } catch (RuntimeException e) {
                g.close();
                throw e;
            }
        }
    }
}
