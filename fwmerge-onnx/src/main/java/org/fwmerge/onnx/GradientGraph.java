package org.fwmerge.onnx;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One ONNX Runtime session over a loss-and-gradient graph written by {@code tools/export-gradients}, and the
 * graph's contract read from the session itself: data inputs (first dimension = the batch), the per-sample
 * weight input {@value #SAMPLE_WEIGHT} of shape {@code [batch]}, one float32 input per model weight (named
 * as on disk) with a {@value #GRADIENT_PREFIX}{@code <name>} output of the same shape, and the scalar
 * {@value #LOSS} = Σ_b w_b·ℓ_b. Graphs exported with {@code --grams} also output, for each linear layer's weight
 * W (shape [out, in], as {@code torch.nn.Linear} keeps it), {@value #GRAM_PREFIX}{@code <W>} = Σ_b w_b Σ_r x xᵀ
 * over the rows r of sample b's input to the layer (shape [in, in]) and {@value #GRAM_COUNT_PREFIX}{@code <W>}
 * = Σ_b w_b·(rows of b), so that their sums over the batches give XᵀX / N.
 */
final class GradientGraph implements AutoCloseable {

    static final String SAMPLE_WEIGHT = "sample_weight";
    static final String LOSS = "loss_sum";
    static final String GRADIENT_PREFIX = "grad::";
    static final String METADATA_KEY = "fwmerge.graph";
    static final String LOGITS = "logits";
    static final String GRAM_PREFIX = "gram::";
    static final String GRAM_COUNT_PREFIX = "gram_count::";

    /** A data input of the graph: its element type and its shape for one batch. */
    record DataInput(String name, OnnxJavaType type, long[] shape) {
    }

    final Path file;
    final OrtSession session;
    final int batch;
    /** Weight name → shape, in the graph's input order. */
    final Map<String, long[]> weights;
    /** Data input name → description, in the graph's input order. */
    final Map<String, DataInput> data;
    final String task;
    final String loss;
    /** Whether the graph outputs the model's logits for the batch (first dimension = the batch). */
    final boolean hasLogits;
    /** The weights whose layer inputs' Gram matrices the graph outputs → their input features, in output order. */
    final Map<String, Integer> grams;

    private GradientGraph(Path file, OrtSession session, int batch, Map<String, long[]> weights,
            Map<String, DataInput> data, String task, String loss, boolean hasLogits, Map<String, Integer> grams) {
        this.file = file;
        this.session = session;
        this.batch = batch;
        this.weights = Collections.unmodifiableMap(weights);
        this.data = Collections.unmodifiableMap(data);
        this.task = task;
        this.loss = loss;
        this.hasLogits = hasLogits;
        this.grams = Collections.unmodifiableMap(grams);
    }

    static GradientGraph open(Path file, int threads) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("gradient graph " + file + " does not exist or is not a file");
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        OrtSession session;
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(threads);
            options.setInterOpNumThreads(1);
            options.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
            // Between calls the merge's own kernels (ND4J's OpenMP threads) need the cores: ONNX Runtime's
            // pool must not keep spinning on them after a run.
            options.addConfigEntry("session.intra_op.allow_spinning", "0");
            session = env.createSession(file.toString(), options);
        } catch (OrtException e) {
            throw new IllegalArgumentException("ONNX Runtime cannot load gradient graph " + file + ": " + e.getMessage(), e);
        }
        try {
            return describe(file, session);
        } catch (RuntimeException | OrtException e) {
            try {
                session.close();
            } catch (OrtException suppressed) {
                e.addSuppressed(suppressed);
            }
            if (e instanceof OrtException) {
                throw new IllegalArgumentException("ONNX Runtime cannot describe gradient graph " + file + ": "
                        + e.getMessage(), e);
            }
            throw (RuntimeException) e;
        }
    }

    private static GradientGraph describe(Path file, OrtSession session) throws OrtException {
        String contract = session.getMetadata().getCustomMetadataValue(METADATA_KEY).orElseThrow(() ->
                new IllegalArgumentException("graph " + file + " has no '" + METADATA_KEY + "' metadata: it was not"
                        + " written by tools/export-gradients (export_gradients.py), the only graphs this objective runs"));
        String format = field(contract, "format");
        if (!"1".equals(format)) {
            throw new IllegalArgumentException("graph " + file + " has contract format " + format
                    + "; this version of fwmerge reads format 1 (re-export it with tools/export-gradients)");
        }
        Map<String, NodeInfo> inputs = session.getInputInfo();
        Map<String, NodeInfo> outputs = session.getOutputInfo();
        TensorInfo lossInfo = tensorInfo(file, outputs, LOSS, "output");
        if (lossInfo.getNumElements() != 1 || lossInfo.type != OnnxJavaType.FLOAT) {
            throw new IllegalArgumentException("graph " + file + ": output '" + LOSS + "' must be a float32 scalar, is "
                    + lossInfo);
        }
        TensorInfo weightInfo = tensorInfo(file, inputs, SAMPLE_WEIGHT, "input");
        long[] ws = weightInfo.getShape();
        if (ws.length != 1 || ws[0] < 1 || weightInfo.type != OnnxJavaType.FLOAT) {
            throw new IllegalArgumentException("graph " + file + ": input '" + SAMPLE_WEIGHT + "' must be float32 of"
                    + " shape [batch] with a fixed batch, is " + weightInfo);
        }
        int batch = Math.toIntExact(ws[0]);
        Map<String, long[]> weights = new LinkedHashMap<>();
        Map<String, DataInput> data = new LinkedHashMap<>();
        for (String name : inputs.keySet()) {
            if (name.equals(SAMPLE_WEIGHT)) {
                continue;
            }
            TensorInfo in = tensorInfo(file, inputs, name, "input");
            long[] shape = in.getShape();
            if (Arrays.stream(shape).anyMatch(d -> d < 0)) {
                throw new IllegalArgumentException("graph " + file + ": input '" + name + "' has a symbolic shape "
                        + Arrays.toString(in.getDimensionNames()) + "; exported graphs have fixed shapes (batch and"
                        + " sequence length are chosen at export)");
            }
            if (outputs.containsKey(GRADIENT_PREFIX + name)) {
                TensorInfo grad = tensorInfo(file, outputs, GRADIENT_PREFIX + name, "output");
                if (in.type != OnnxJavaType.FLOAT || grad.type != OnnxJavaType.FLOAT
                        || !Arrays.equals(shape, grad.getShape())) {
                    throw new IllegalArgumentException("graph " + file + ": weight '" + name + "' (" + in
                            + ") and its gradient (" + grad + ") must both be float32 of one shape");
                }
                weights.put(name, shape);
            } else {
                if (shape.length == 0 || shape[0] != batch) {
                    throw new IllegalArgumentException("graph " + file + ": data input '" + name + "' has shape "
                            + Arrays.toString(shape) + ", whose first dimension is not the batch " + batch);
                }
                data.put(name, new DataInput(name, in.type, shape));
            }
        }
        if (weights.isEmpty()) {
            throw new IllegalArgumentException("graph " + file + " has no weight inputs (inputs with a '"
                    + GRADIENT_PREFIX + "<name>' output)");
        }
        boolean logits = false;
        if (outputs.containsKey(LOGITS)) {
            TensorInfo l = tensorInfo(file, outputs, LOGITS, "output");
            if (l.type != OnnxJavaType.FLOAT || l.getShape().length < 2 || l.getShape()[0] != batch) {
                throw new IllegalArgumentException("graph " + file + ": output '" + LOGITS + "' must be float32 of shape"
                        + " [batch, ...], is " + l);
            }
            logits = true;
        }
        return new GradientGraph(file, session, batch, weights, data, text(contract, "task"), text(contract, "loss"), logits,
                grams(file, outputs, weights));
    }

    /** The Gram outputs: each names a 2-D weight [out, in], is float32 [in, in] and has its scalar row count. */
    private static Map<String, Integer> grams(Path file, Map<String, NodeInfo> outputs, Map<String, long[]> weights) {
        Map<String, Integer> grams = new LinkedHashMap<>();
        for (String out : outputs.keySet()) {
            if (!out.startsWith(GRAM_PREFIX)) {
                continue;
            }
            String w = out.substring(GRAM_PREFIX.length());
            long[] shape = weights.get(w);
            if (shape == null || shape.length != 2) {
                throw new IllegalArgumentException("graph " + file + ": output '" + out + "' names no 2-D weight input"
                        + (shape == null ? "" : " (its shape is " + Arrays.toString(shape) + ")"));
            }
            TensorInfo g = tensorInfo(file, outputs, out, "output");
            TensorInfo count = tensorInfo(file, outputs, GRAM_COUNT_PREFIX + w, "output");
            if (g.type != OnnxJavaType.FLOAT || !Arrays.equals(g.getShape(), new long[] {shape[1], shape[1]})
                    || count.type != OnnxJavaType.FLOAT || count.getNumElements() != 1) {
                throw new IllegalArgumentException("graph " + file + ": the Gram of weight '" + w + "' " + Arrays.toString(shape)
                        + " must be float32 [" + shape[1] + ", " + shape[1] + "] with a float32 scalar row count; is " + g
                        + " and " + count);
            }
            grams.put(w, Math.toIntExact(shape[1]));
        }
        return grams;
    }

    private static TensorInfo tensorInfo(Path file, Map<String, NodeInfo> infos, String name, String kind) {
        NodeInfo info = infos.get(name);
        if (info == null) {
            throw new IllegalArgumentException("graph " + file + " has no " + kind + " '" + name + "' (its " + kind
                    + "s: " + abbreviate(new ArrayList<>(infos.keySet())) + ")");
        }
        if (!(info.getInfo() instanceof TensorInfo t)) {
            throw new IllegalArgumentException("graph " + file + ": " + kind + " '" + name + "' is not a tensor: "
                    + info.getInfo());
        }
        return t;
    }

    /** A top-level number of the contract JSON (the tool writes it with json.dumps; no nesting before it). */
    private static String field(String json, String key) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(key) + "\"\\s*:\\s*(-?[0-9]+)").matcher(json);
        return m.find() ? m.group(1) : "(none)";
    }

    private static String text(String json, String key) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(key) + "\"\\s*:\\s*\"([^\"]*)\"").matcher(json);
        return m.find() ? m.group(1) : "?";
    }

    static String abbreviate(List<String> names) {
        int shown = 12;
        if (names.size() <= shown) {
            return names.toString();
        }
        return names.subList(0, shown) + " and " + (names.size() - shown) + " more";
    }

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            throw new IllegalStateException("closing the ONNX Runtime session of " + file + " failed", e);
        }
    }
}
