package org.fwmerge.nd4j;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.fwmerge.Evaluation;
import org.fwmerge.LayerInputs;
import org.fwmerge.Model;
import org.fwmerge.Objective;
import org.fwmerge.internal.Parallel;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;
import org.bytedeco.javacpp.FloatPointer;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.autodiff.samediff.VariableType;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * An {@link Objective} whose loss and gradient come from a SameDiff graph evaluated on a calibration
 * set, with gradients by SameDiff automatic differentiation.
 *
 * <p>The merged tensors of the point {@code x} are copied into graph variables named by a mapping
 * (checkpoint tensor name → SameDiff variable name); every other variable of the graph (a task head,
 * frozen layers) keeps the value it had when the objective was built. The loss, computed from the
 * variable the user names as the logits (shape {@code [samples, classes]}), is one of
 * <ul>
 *   <li>{@linkplain Builder#crossEntropy(int[]) cross-entropy} with labels: the mean over samples of
 *       −Σ_c y_c log softmax(z)_c (the paper's FW-soft objective on labelled calibration data), or</li>
 *   <li>{@linkplain Builder#predictionEntropy() prediction entropy} on unlabelled inputs: the mean over
 *       samples of −Σ_c p_c log p_c with p = softmax(z) (AdaMerging's objective, and the authors' code).</li>
 * </ul>
 * Both are computed in the graph's floating-point type; build the graph in DOUBLE for exact checks.
 *
 * <p>The builder copies the graph ({@link SameDiff#dup()}) and adds the loss to the copy, so the
 * caller's graph is never modified and several objectives may share one graph. SameDiff is not
 * thread-safe, so the objective <em>synchronizes</em>: calls from several threads are safe and run
 * one at a time (each call uses ND4J's own threads, and with {@link Builder#replicas} its shards run side by
 * side on copies of the graph). The point {@code x}
 * is only read. Gradients are returned as tensors of {@code x}'s backend, owned by the caller: for the
 * {@link Nd4jBackend}, SameDiff's detached FLOAT gradient arrays themselves when they are contiguous
 * (handed over without a copy), else FLOAT copies of them; for another backend, their float values
 * copied into it.
 */
public final class SameDiffObjective implements Objective, LayerInputs {

    private static final String LOSS = "fwmerge_loss";
    private static final String LABELS = "fwmerge_labels";

    private final SameDiff sd;
    private final Map<String, String> parameters;
    private final String[] variables;
    private final String input;
    private final String logits;
    private final Map<String, INDArray> placeholders;
    private final int[] classes;
    private final boolean entropy;
    private final int samples;
    /** For a minibatch: the objective it was drawn from and the samples drawn (its indices); null otherwise. */
    private final SameDiffObjective parent;
    private final int[] rows;
    /**
     * The graph copies the samples are split over ({@link Builder#replicas}); the first is {@link #sd}. A minibatch
     * shares its full objective's.
     */
    private final Replica[] replicas;
    /** Of a full objective: its samples as rows in Java memory (built on the first batch); guarded by this. */
    private Map<String, double[][]> hostRows;
    /** Weight tensor → the graph variable holding that linear layer's input, with the weight's orientation. */
    private Map<String, String> layerInputs = Map.of();
    private Map<String, Orientation> layerOrientations = Map.of();

    /**
     * One copy of the graph with the batch arrays it is fed (reused by batch size, so steps allocate no native
     * memory for their batches); guarded by its graph.
     */
    private record Replica(SameDiff sd, Map<Integer, Map<String, INDArray>> batchArrays) {
        Replica(SameDiff sd) {
            this(sd, new HashMap<>());
        }
    }

    private SameDiffObjective(Replica[] replicas, Map<String, String> parameters, String input, String logits,
            Map<String, INDArray> placeholders, int[] classes, boolean entropy, int samples) {
        this(replicas, parameters, input, logits, placeholders, classes, entropy, samples, null, null);
    }

    private SameDiffObjective(Replica[] replicas, Map<String, String> parameters, String input, String logits,
            Map<String, INDArray> placeholders, int[] classes, boolean entropy, int samples, SameDiffObjective parent,
            int[] rows) {
        this.parent = parent;
        this.rows = rows;
        this.replicas = replicas;
        this.sd = replicas[0].sd();
        this.parameters = parameters;
        this.variables = parameters.values().toArray(new String[0]);
        this.input = input;
        this.logits = logits;
        this.placeholders = placeholders;
        this.classes = classes;
        this.entropy = entropy;
        this.samples = samples;
    }

    /** A builder; {@link Builder#graph}, at least one {@link Builder#parameter}, {@link Builder#input}, {@link Builder#logits} and one loss are required. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The loss at {@code x}.
     *
     * @throws IllegalArgumentException if the tensors of {@code x} do not match the mapped variables
     *                                  (names, shapes)
     */
    @Override
    public double loss(Model x) {
        Objects.requireNonNull(x, "x");
        int m = shardCount();
        double loss = 0;
        for (double part : Parallel.items(m, s -> {
            SameDiff graph = replicas[s].sd();
            synchronized (graph) {
                assign(graph, x);
                INDArray l = graph.output(feed(s, m), LOSS).get(LOSS);
                try {
                    return l.getDouble(0) * shardWeight(s, m);
                } finally {
                    l.close();
                }
            }
        })) {
            loss += part;
        }
        return loss;
    }

    /**
     * The loss at {@code x} and its gradient with respect to every tensor of {@code x}, as tensors of
     * {@code x}'s backend that the caller owns.
     *
     * @throws IllegalArgumentException if the tensors of {@code x} do not match the mapped variables
     */
    @Override
    public Evaluation evaluate(Model x) {
        Objects.requireNonNull(x, "x");
        TensorBackend backend = x.backend();
        int m = shardCount();
        // One forward and backward pass per shard for both; the returned arrays are detached from the session,
        // and closing them (finally) frees their native memory now instead of at some later GC.
        List<OutAndGrad> parts = Parallel.items(m, s -> {
            SameDiff graph = replicas[s].sd();
            synchronized (graph) {
                assign(graph, x);
                return graph.calculateGradientsAndOutputs(feed(s, m), List.of(LOSS), Arrays.asList(variables));
            }
        });
        Map<String, Tensor> gradient = new LinkedHashMap<>();
        Set<INDArray> adopted = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        double loss = 0;
        try {
            for (int s = 0; s < m; s++) {
                loss += parts.get(s).getOutputs().get(LOSS).getDouble(0) * shardWeight(s, m);
            }
            Map<String, INDArray> grads = parts.get(0).getGradients();
            for (String name : x.names()) {
                INDArray g = grads.get(parameters.get(name));
                if (g == null) {
                    throw new IllegalStateException("SameDiff returned no gradient for variable '"
                            + parameters.get(name) + "' (is it connected to the logits?)");
                }
                if (m > 1) {
                    // The shards' sample-weighted sum, added in shard order (the same on every run).
                    g.muli(shardWeight(0, m));
                    for (int s = 1; s < m; s++) {
                        g.addi(parts.get(s).getGradients().get(parameters.get(name)).muli(shardWeight(s, m)));
                    }
                }
                long[] shape = x.tensor(name).shape();
                if (backend instanceof Nd4jBackend nd && Nd4jBackend.adoptable(g) && Arrays.equals(g.shape(), shape)) {
                    // The detached FLOAT gradient becomes the tensor: no copy (FW-soft takes 4 per step).
                    gradient.put(name, nd.wrap(g));
                    adopted.add(g);
                } else {
                    gradient.put(name, toTensor(g, backend, shape));
                }
            }
        } catch (RuntimeException e) {
            gradient.values().forEach(Tensor::close);
            throw e;
        } finally {
            for (OutAndGrad r : parts) {
                r.getOutputs().values().forEach(INDArray::close);
                r.getGradients().values().stream().filter(g -> !adopted.contains(g)).forEach(INDArray::close);
            }
        }
        return new Evaluation(loss, gradient);
    }

    /** Shards of the samples evaluated side by side: one per replica, at most one per sample. */
    private int shardCount() {
        return Math.min(replicas.length, samples);
    }

    /** Shard {@code s} of {@code m}: samples [s·n/m, (s+1)·n/m) of this objective. */
    private int shardStart(int s, int m) {
        return (int) ((long) samples * s / m);
    }

    /** The shard's share of the samples: its loss and gradient enter the mean with this weight. */
    private double shardWeight(int s, int m) {
        return (shardStart(s + 1, m) - shardStart(s, m)) / (double) samples;
    }

    /**
     * The placeholder values of shard {@code s} of {@code m}, for its replica (whose lock is held). The
     * whole of a full objective is its own placeholders; anything else is copied, by row, into arrays the
     * replica keeps per batch size.
     */
    private Map<String, INDArray> feed(int s, int m) {
        if (m == 1 && parent == null) {
            return placeholders;
        }
        int from = shardStart(s, m);
        int[] picked = new int[shardStart(s + 1, m) - from];
        for (int i = 0; i < picked.length; i++) {
            picked[i] = rows == null ? from + i : rows[from + i];
        }
        return (parent == null ? this : parent).fill(picked, replicas[s]);
    }

    /**
     * This objective on {@code size} of its samples drawn without replacement (a partial
     * Fisher-Yates shuffle with {@code random}): same graphs (and locks), same loss, the rows of the
     * inputs and labels picked. With at most {@code size} samples, this objective itself.
     */
    @Override
    public SameDiffObjective minibatch(int size, java.util.random.RandomGenerator random) {
        if (size < 1) {
            throw new IllegalArgumentException("minibatch size must be ≥ 1, got " + size);
        }
        if (size >= samples) {
            return this;
        }
        int[] order = new int[samples];
        for (int i = 0; i < samples; i++) {
            order[i] = i;
        }
        for (int i = 0; i < size; i++) {
            int j = i + random.nextInt(samples - i);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        int[] rows = Arrays.copyOf(order, size);
        int[] batchClasses = null;
        if (classes != null) {
            batchClasses = new int[size];
            for (int i = 0; i < size; i++) {
                batchClasses[i] = classes[rows[i]];
            }
        }
        SameDiffObjective root = parent == null ? this : parent;
        int[] rootRows = rows;
        if (parent != null) {
            rootRows = new int[size];
            for (int i = 0; i < size; i++) {
                rootRows[i] = this.rows[rows[i]];
            }
        }
        SameDiffObjective batch = new SameDiffObjective(replicas, parameters, input, logits, placeholders, batchClasses, entropy,
                size, root, rootRows);
        batch.layerInputs = layerInputs;
        batch.layerOrientations = layerOrientations;
        return batch;
    }

    /**
     * The arrays of {@code replica} for a batch of these rows (of this full objective), filled; the replica's
     * lock held. A batch array per step, left to the GC, held native memory that grew with FW-soft's steps.
     */
    private Map<String, INDArray> fill(int[] picked, Replica replica) {
        Map<String, double[][]> hostRows = hostRows();
        Map<String, INDArray> arrays = replica.batchArrays().computeIfAbsent(picked.length, n -> {
            Map<String, INDArray> a = new LinkedHashMap<>();
            placeholders.forEach((name, all) -> {
                long[] shape = all.shape();
                shape[0] = n;
                a.put(name, Nd4j.create(all.dataType(), shape));
            });
            return a;
        });
        arrays.forEach((name, dst) -> {
            double[][] src = hostRows.get(name);
            int width = src[0].length;
            if (dst.dataType() == DataType.FLOAT) {
                // The values came from a FLOAT array: narrowing them back is exact.
                float[] flat = new float[picked.length * width];
                for (int i = 0; i < picked.length; i++) {
                    for (int c = 0; c < width; c++) {
                        flat[i * width + c] = (float) src[picked[i]][c];
                    }
                }
                // One bulk copy into the fresh c-order array (DataBuffer.setData puts element by element:
                // a tenth of FW-soft's time on the demo's zoo).
                new FloatPointer(dst.data().addressPointer()).put(flat, 0, flat.length);
                return;
            }
            double[] flat = new double[picked.length * width];
            for (int i = 0; i < picked.length; i++) {
                System.arraycopy(src[picked[i]], 0, flat, i * width, width);
            }
            if (dst.dataType() == DataType.DOUBLE) {
                dst.data().setData(flat);
            } else {
                try (INDArray values = Nd4j.createFromArray(flat)) {
                    dst.assign(values.reshape(dst.shape()));
                }
            }
        });
        return arrays;
    }

    /** This full objective's samples as rows in Java memory, made on first use. */
    private synchronized Map<String, double[][]> hostRows() {
        if (hostRows == null) {
            Map<String, double[][]> m = new LinkedHashMap<>();
            placeholders.forEach((name, all) -> m.put(name, all.reshape(all.size(0), -1).toDoubleMatrix()));
            hostRows = m;
        }
        return hostRows;
    }

    /**
     * The fraction of calibration samples whose arg-max logit is the true class, at {@code x}
     * (ties go to the lowest class index).
     *
     * @throws IllegalStateException if the objective has no labels (prediction entropy)
     */
    public double accuracy(Model x) {
        Objects.requireNonNull(x, "x");
        if (classes == null) {
            throw new IllegalStateException("accuracy needs labels; this objective uses prediction entropy");
        }
        INDArray z;
        synchronized (sd) {
            assign(sd, x);
            INDArray raw = sd.output(feed(0, 1), logits).get(logits);
            z = raw.castTo(DataType.DOUBLE);
            if (z != raw) {
                raw.close();
            }
        }
        int correct = 0;
        for (int i = 0; i < samples; i++) {
            int best = 0;
            for (int c = 1; c < z.columns(); c++) {
                if (z.getDouble(i, c) > z.getDouble(i, best)) {
                    best = c;
                }
            }
            if (best == classes[i]) {
                correct++;
            }
        }
        return (double) correct / samples;
    }

    /** The layers given by {@link Builder#layerInput} (none by default), in the order they were given. */
    @Override
    public Map<String, Orientation> layers() {
        return layerOrientations;
    }

    /**
     * XᵀX / N of each {@linkplain Builder#layerInput configured layer}'s input variable at {@code x}, over this
     * objective's samples (a rank-3 input [samples, positions, features] counts every position as a row), in
     * double.
     *
     * @throws IllegalArgumentException if the tensors of {@code x} do not match the mapped variables
     */
    @Override
    public Map<String, org.fwmerge.tensor.Matrix> grams(Model x) {
        Objects.requireNonNull(x, "x");
        Map<String, INDArray> values = new LinkedHashMap<>();
        synchronized (sd) {
            assign(sd, x);
            Map<String, INDArray> feed = feed(0, 1);
            List<String> computed = new ArrayList<>();
            for (String v : layerInputs.values()) {
                if (feed.containsKey(v)) {
                    values.put(v, feed.get(v).castTo(DataType.DOUBLE));
                } else if (!computed.contains(v)) {
                    computed.add(v);
                }
            }
            if (!computed.isEmpty()) {
                Map<String, INDArray> out = sd.output(feed, computed.toArray(new String[0]));
                for (String v : computed) {
                    values.put(v, out.get(v).castTo(DataType.DOUBLE));
                }
            }
        }
        Map<String, org.fwmerge.tensor.Matrix> grams = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : layerInputs.entrySet()) {
            INDArray a = values.get(e.getValue());
            long features = a.size(a.rank() - 1);
            INDArray rows = a.reshape('c', a.length() / features, features);
            INDArray g = rows.transpose().mmul(rows).divi(rows.size(0));
            grams.put(e.getKey(), new org.fwmerge.tensor.Matrix((int) features, (int) features, g.data().asDouble()));
        }
        return grams;
    }

    /** The mapping checkpoint tensor name → SameDiff variable name (unmodifiable, in insertion order). */
    public Map<String, String> parameters() {
        return parameters;
    }

    @Override
    public String toString() {
        return "SameDiffObjective[" + (entropy ? "prediction entropy" : "cross-entropy") + " on " + samples
                + " samples, input '" + input + "', logits '" + logits + "', parameters " + parameters + "]";
    }

    /** Copies x's tensors into the mapped variables of {@code graph}. Called with the graph's lock held. */
    private void assign(SameDiff graph, Model x) {
        Set<String> names = new HashSet<>(x.names());
        if (!names.equals(parameters.keySet())) {
            throw new IllegalArgumentException("the point has tensors " + x.names()
                    + " but the objective maps " + parameters.keySet());
        }
        for (Map.Entry<String, String> e : parameters.entrySet()) {
            Tensor t = x.tensor(e.getKey());
            INDArray target = graph.getArrForVarName(e.getValue());
            if (!Arrays.equals(target.shape(), t.shape())) {
                throw new IllegalArgumentException("tensor '" + e.getKey() + "' has shape " + Arrays.toString(t.shape())
                        + " but variable '" + e.getValue() + "' has shape " + Arrays.toString(target.shape()));
            }
            if (t instanceof Nd4jTensor) {
                target.assign(Nd4jBackend.array(t)); // reads only; casts to the variable's type
            } else {
                INDArray values = Nd4j.createFromArray(t.backend().toFloats(t));
                target.assign(values.reshape(target.shape()));
                values.close();
            }
        }
    }

    private static Tensor toTensor(INDArray g, TensorBackend backend, long[] shape) {
        // A private FLOAT copy in c order: the caller owns it, and evaluate closes SameDiff's array.
        INDArray copy = g.dataType() == DataType.FLOAT ? g.dup('c') : g.castTo(DataType.FLOAT);
        if (copy == g) {
            copy = g.dup('c');
        }
        INDArray shaped = copy.reshape(shape);
        if (backend instanceof Nd4jBackend nd) {
            return nd.wrap(shaped == copy ? copy : shaped.dup('c'));
        }
        try {
            return backend.fromFloats(copy.data().asFloat(), shape);
        } finally {
            copy.close();
        }
    }

    /**
     * Builds a {@link SameDiffObjective}. Setters check their argument at once; setting a property
     * twice is an {@link IllegalStateException}; {@link #build()} validates the whole configuration
     * against the graph (names exist, shapes and labels fit) by running it once. The builder may be
     * reused; each objective built gets its own copy of the graph.
     */
    public static final class Builder {
        private SameDiff graph;
        private final Map<String, String> parameters = new LinkedHashMap<>();
        private String input;
        private INDArray inputs;
        private String logits;
        private int[] classes;
        private boolean entropy;
        private final Map<String, String> layerInputs = new LinkedHashMap<>();
        private final Map<String, Orientation> layerOrientations = new LinkedHashMap<>();
        private int replicas = 1;

        private Builder() {
        }

        /**
         * Splits the samples of every loss and gradient into {@code n} contiguous shards (at most one per
         * sample), each evaluated on its own copy of the graph, side by side on the common pool; the loss and
         * gradient are the shards' sample-weighted means, added in shard order, so a result depends on
         * {@code n} (by float rounding) but never on the cores or the scheduling. Default 1.
         *
         * <p>For small graphs, whose calls are bound by SameDiff's per-op overhead rather than by arithmetic,
         * ND4J's own threads gain little; shards use the cores instead (the demo's MLP zoo, 2 shards on 2
         * cores: its FW-soft 1.2× faster). Costs {@code n − 1} more copies of the graph's arrays. ND4J's native
         * threads per call are lowered so that the shards together use the cores once ({@link Nd4jThreads}).
         *
         * @throws IllegalArgumentException if {@code n < 1}
         */
        public Builder replicas(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("replicas must be ≥ 1, got " + n);
            }
            this.replicas = n;
            return this;
        }

        /**
         * Declares a linear layer for {@link SameDiffObjective#grams}: the mapped weight tensor and the graph
         * variable (or the input placeholder) holding the layer's input, with how the weight multiplies it
         * ({@code mmul(x, W)} is {@link Orientation#IN_BY_OUT}). What RegMean needs from this objective.
         *
         * @throws IllegalStateException if the weight was already declared
         */
        public Builder layerInput(String weightTensor, String inputVariable, Orientation orientation) {
            Objects.requireNonNull(weightTensor, "weightTensor");
            Objects.requireNonNull(inputVariable, "inputVariable");
            Objects.requireNonNull(orientation, "orientation");
            if (layerInputs.containsKey(weightTensor)) {
                throw new IllegalStateException("layer '" + weightTensor + "' was already declared with input '"
                        + layerInputs.get(weightTensor) + "'");
            }
            layerInputs.put(weightTensor, inputVariable);
            layerOrientations.put(weightTensor, orientation);
            return this;
        }

        /**
         * The SameDiff graph mapping the input placeholder to the logits. It is copied by
         * {@link #build()}; later changes to it do not affect built objectives.
         */
        public Builder graph(SameDiff graph) {
            Objects.requireNonNull(graph, "graph");
            if (this.graph != null) {
                throw new IllegalStateException("graph was already set");
            }
            this.graph = graph;
            return this;
        }

        /**
         * Maps a merged checkpoint tensor to the graph variable that receives it.
         *
         * @param tensorName   name of the tensor in the point being merged
         * @param variableName name of a trainable SameDiff variable of the same shape
         */
        public Builder parameter(String tensorName, String variableName) {
            Objects.requireNonNull(tensorName, "tensorName");
            Objects.requireNonNull(variableName, "variableName");
            if (parameters.containsKey(tensorName)) {
                throw new IllegalStateException("tensor '" + tensorName + "' is already mapped to '"
                        + parameters.get(tensorName) + "'");
            }
            if (parameters.containsValue(variableName)) {
                throw new IllegalArgumentException("variable '" + variableName + "' is already mapped");
            }
            parameters.put(tensorName, variableName);
            return this;
        }

        /** Maps several tensors at once; see {@link #parameter(String, String)}. */
        public Builder parameters(Map<String, String> tensorToVariable) {
            Objects.requireNonNull(tensorToVariable, "tensorToVariable").forEach(this::parameter);
            return this;
        }

        /**
         * The input placeholder and the calibration inputs fed to it (first dimension: samples).
         * The inputs are copied, converted to the placeholder's type.
         */
        public Builder input(String placeholderName, INDArray calibrationInputs) {
            Objects.requireNonNull(placeholderName, "placeholderName");
            Objects.requireNonNull(calibrationInputs, "calibrationInputs");
            if (input != null) {
                throw new IllegalStateException("input was already set");
            }
            if (calibrationInputs.rank() < 1 || calibrationInputs.size(0) < 1) {
                throw new IllegalArgumentException("calibration inputs need at least one sample, shape "
                        + Arrays.toString(calibrationInputs.shape()));
            }
            this.input = placeholderName;
            this.inputs = calibrationInputs.dup();
            return this;
        }

        /** The graph variable holding the logits, shape {@code [samples, classes]}. */
        public Builder logits(String variableName) {
            Objects.requireNonNull(variableName, "variableName");
            if (logits != null) {
                throw new IllegalStateException("logits was already set");
            }
            this.logits = variableName;
            return this;
        }

        /**
         * Cross-entropy loss with one class label per calibration sample.
         *
         * @param labels class indices in {@code [0, classes)}, one per sample
         */
        public Builder crossEntropy(int[] labels) {
            Objects.requireNonNull(labels, "labels");
            checkNoLoss();
            for (int i = 0; i < labels.length; i++) {
                if (labels[i] < 0) {
                    throw new IllegalArgumentException("label " + labels[i] + " of sample " + i + " is negative");
                }
            }
            this.classes = labels.clone();
            return this;
        }

        /**
         * Cross-entropy loss with one-hot labels.
         *
         * @param oneHot {@code [samples, classes]} with exactly one 1 per row, zeros elsewhere
         */
        public Builder crossEntropy(INDArray oneHot) {
            Objects.requireNonNull(oneHot, "oneHot");
            if (oneHot.rank() != 2) {
                throw new IllegalArgumentException("one-hot labels must be [samples, classes], got shape "
                        + Arrays.toString(oneHot.shape()));
            }
            int[] labels = new int[oneHot.rows()];
            for (int i = 0; i < labels.length; i++) {
                int hot = -1;
                for (int c = 0; c < oneHot.columns(); c++) {
                    double v = oneHot.getDouble(i, c);
                    if (v == 1.0 && hot < 0) {
                        hot = c;
                    } else if (v != 0.0) {
                        throw new IllegalArgumentException("row " + i + " of the one-hot labels is not one-hot: "
                                + oneHot.getRow(i));
                    }
                }
                if (hot < 0) {
                    throw new IllegalArgumentException("row " + i + " of the one-hot labels has no 1");
                }
                labels[i] = hot;
            }
            return crossEntropy(labels);
        }

        /** Prediction-entropy loss on the (unlabelled) calibration inputs. */
        public Builder predictionEntropy() {
            checkNoLoss();
            this.entropy = true;
            return this;
        }

        private void checkNoLoss() {
            if (classes != null || entropy) {
                throw new IllegalStateException("the loss was already chosen");
            }
        }

        /**
         * The objective. Runs the graph once to check the logits' shape against the labels.
         *
         * @throws IllegalStateException    if a required property is missing
         * @throws IllegalArgumentException if a name is not in the graph, a mapped variable is not a
         *                                  trainable variable, or the labels do not fit the logits
         */
        public SameDiffObjective build() {
            if (graph == null || input == null || logits == null || parameters.isEmpty()) {
                throw new IllegalStateException("graph, input, logits and at least one parameter are required");
            }
            if (classes == null && !entropy) {
                throw new IllegalStateException("choose a loss: crossEntropy(labels) or predictionEntropy()");
            }
            Nd4jThreads.apply();
            SameDiff sd = graph.dup();
            requireVariable(sd, input, VariableType.PLACEHOLDER);
            requireVariable(sd, logits, null);
            for (Map.Entry<String, String> e : parameters.entrySet()) {
                requireVariable(sd, e.getValue(), VariableType.VARIABLE);
            }
            if (sd.hasVariable(LOSS) || sd.hasVariable(LABELS)) {
                throw new IllegalArgumentException("the graph already has a variable named '" + LOSS + "' or '"
                        + LABELS + "', reserved for the objective");
            }
            int n = (int) inputs.size(0);
            Map<String, INDArray> ph = new LinkedHashMap<>();
            ph.put(input, inputs.castTo(sd.getVariable(input).dataType()));
            INDArray z = sd.output(ph, logits).get(logits);
            if (z.rank() != 2 || z.size(0) != n) {
                throw new IllegalArgumentException("logits '" + logits + "' must be [samples=" + n
                        + ", classes], got shape " + Arrays.toString(z.shape()));
            }
            int k = (int) z.size(1);
            DataType type = z.dataType();
            SDVariable zv = sd.getVariable(logits);
            // log-softmax written out: ND4J 1.0.0-M2.1's LogSoftMax op with a dimension cannot be copied by
            // createGradFunction ("Error setting property"). Subtracting the row maximum keeps exp finite;
            // its gradient contribution cancels (Σ_c ∂log p_c/∂max = 0).
            SDVariable shifted = zv.sub(zv.max(true, 1));
            SDVariable logP = shifted.sub(sd.math.log(sd.math.exp(shifted).sum(true, 1)));
            SDVariable perSample;
            if (entropy) {
                perSample = sd.math.exp(logP).mul(logP).sum(1).neg();
            } else {
                if (classes.length != n) {
                    throw new IllegalArgumentException(classes.length + " labels for " + n + " calibration samples");
                }
                INDArray oneHot = Nd4j.zeros(type, n, k);
                for (int i = 0; i < n; i++) {
                    if (classes[i] >= k) {
                        throw new IllegalArgumentException("label " + classes[i] + " of sample " + i
                                + " is not below the number of classes " + k);
                    }
                    oneHot.putScalar(i, classes[i], 1.0);
                }
                SDVariable y = sd.placeHolder(LABELS, type, -1, k);
                ph.put(LABELS, oneHot);
                perSample = y.mul(logP).sum(1).neg();
            }
            sd.math.mean(LOSS, perSample, 0);
            sd.setLossVariables(LOSS);
            // Build the gradient function now: doing it lazily from concurrent first calls fails.
            SameDiffOutput.quietlyRun(sd::createGradFunction);
            for (Map.Entry<String, String> e : layerInputs.entrySet()) {
                if (!parameters.containsKey(e.getKey())) {
                    throw new IllegalArgumentException("layer weight '" + e.getKey() + "' is not a mapped parameter "
                            + parameters.keySet());
                }
                requireVariable(sd, e.getValue(), null);
            }
            Replica[] copies = new Replica[replicas];
            copies[0] = new Replica(sd);
            for (int i = 1; i < replicas; i++) {
                SameDiff copy = sd.dup();
                SameDiffOutput.quietlyRun(copy::createGradFunction);
                copies[i] = new Replica(copy);
            }
            if (replicas > 1) {
                Nd4jThreads.shareAmong(replicas);
            }
            SameDiffObjective built = new SameDiffObjective(copies, Collections.unmodifiableMap(new LinkedHashMap<>(parameters)),
                    input, logits, Collections.unmodifiableMap(ph), classes == null ? null : classes.clone(), entropy, n);
            built.layerInputs = Collections.unmodifiableMap(new LinkedHashMap<>(layerInputs));
            built.layerOrientations = Collections.unmodifiableMap(new LinkedHashMap<>(layerOrientations));
            return built;
        }

        private static void requireVariable(SameDiff sd, String name, VariableType type) {
            if (!sd.hasVariable(name)) {
                throw new IllegalArgumentException("the graph has no variable '" + name + "'");
            }
            VariableType actual = sd.getVariable(name).getVariableType();
            if (type != null && actual != type) {
                throw new IllegalArgumentException("'" + name + "' is a " + actual + ", expected a " + type);
            }
        }
    }
}
