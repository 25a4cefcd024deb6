package org.fwmerge.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import org.fwmerge.internal.ReferenceBackend;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/**
 * A base checkpoint with a PEFT LoRA adapter applied: the tensors of the base, where each adapted
 * weight reads as W + (B·A)·scaling, formed per tensor when {@link #load} asks for it.
 *
 * <p>scaling = alpha / r, or alpha / √r with {@code use_rslora}; {@code rank_pattern} and
 * {@code alpha_pattern} override r and alpha per module (PEFT's rule: the pattern matches the module
 * name or a dotted suffix of it); {@code fan_in_fan_out} means the base stores W transposed, so the
 * delta is transposed too. DoRA and {@code modules_to_save} are not additive deltas and are refused.
 * The adapter does not own the base: closing it closes only the adapter file.
 */
final class LoraCheckpoint implements Checkpoint {

    static final String CONFIG = "adapter_config.json";
    static final String WEIGHTS = "adapter_model.safetensors";
    private static final String PREFIX = "base_model.model.";
    private static final String A_SUFFIX = ".lora_A.weight";
    private static final String B_SUFFIX = ".lora_B.weight";

    /** One adapted base tensor: where its factors are and the scaling that applies. */
    private record Delta(String aName, String bName, double scaling, boolean transpose) {
    }

    private final Checkpoint base;
    private final SafetensorsFile adapter;
    private final Map<String, Delta> deltas;
    private final String source;
    private final OpenInputs.Registration config;

    private LoraCheckpoint(Checkpoint base, SafetensorsFile adapter, Map<String, Delta> deltas, String source,
            OpenInputs.Registration config) {
        this.base = base;
        this.config = config;
        this.adapter = adapter;
        this.deltas = deltas;
        this.source = source;
    }

    static LoraCheckpoint open(Checkpoint base, Path dir) throws IOException {
        Objects.requireNonNull(base, "base");
        Objects.requireNonNull(dir, "adapterDir");
        Path configPath = dir.resolve(CONFIG);
        String cfgName = configPath.toString();
        Map<?, ?> cfg = config(configPath);
        Object peftType = cfg.get("peft_type");
        if (peftType != null && !"LORA".equals(peftType)) {
            throw new CheckpointException(cfgName + ": peft_type " + peftType + " is not supported (only LORA)");
        }
        if (Boolean.TRUE.equals(cfg.get("use_dora"))) {
            throw new CheckpointException(cfgName + ": use_dora is true: DoRA rescales weights by magnitude vectors,"
                    + " which is not an additive delta; merge DoRA adapters with PEFT first");
        }
        Object toSave = cfg.get("modules_to_save");
        if (toSave instanceof List<?> l && !l.isEmpty()) {
            throw new CheckpointException(cfgName + ": modules_to_save " + l + " replaces whole modules instead of adding"
                    + " a low-rank delta; not supported");
        }
        double r = number(cfgName, cfg, "r", 8);
        double alpha = number(cfgName, cfg, "lora_alpha", 8);
        boolean rslora = bool(cfgName, cfg, "use_rslora");
        boolean fanInFanOut = bool(cfgName, cfg, "fan_in_fan_out");
        Map<?, ?> rankPattern = pattern(cfgName, cfg, "rank_pattern");
        Map<?, ?> alphaPattern = pattern(cfgName, cfg, "alpha_pattern");

        SafetensorsFile adapter = SafetensorsFile.open(dir.resolve(WEIGHTS));
        try {
            String file = adapter.source();
            TreeMap<String, Delta> deltas = new TreeMap<>();
            for (String key : adapter.names()) {
                if (key.contains("lora_magnitude_vector")) {
                    throw new CheckpointException(file + ": tensor '" + key + "' is a DoRA magnitude vector;"
                            + " DoRA is not an additive delta and is not supported");
                }
                if (key.endsWith(B_SUFFIX)) {
                    continue; // paired with its A below
                }
                if (!key.startsWith(PREFIX) || !key.endsWith(A_SUFFIX)) {
                    throw new CheckpointException(file + ": tensor '" + key + "' is not a LoRA factor (expected "
                            + PREFIX + "<module>" + A_SUFFIX + " / " + B_SUFFIX + ")");
                }
                String module = key.substring(PREFIX.length(), key.length() - A_SUFFIX.length());
                String bKey = PREFIX + module + B_SUFFIX;
                String target = module + ".weight";
                if (!adapter.contains(bKey)) {
                    throw new CheckpointException(file + ": tensor '" + key + "' has no matching '" + bKey + "'");
                }
                TensorInfo a = adapter.info(key);
                TensorInfo b = adapter.info(bKey);
                if (!base.contains(target)) {
                    throw new CheckpointMismatchException(file + ": adapter tensor '" + key + "' of shape "
                            + Arrays.toString(a.shape()) + " targets '" + target + "', which base " + base.source()
                            + " lacks");
                }
                long[] w = base.info(target).shape();
                long[] as = a.shape();
                long[] bs = b.shape();
                double rank = lookup(rankPattern, module, r);
                double alphaM = lookup(alphaPattern, module, alpha);
                long out = fanInFanOut ? (w.length == 2 ? w[1] : -1) : (w.length == 2 ? w[0] : -1);
                long in = fanInFanOut ? (w.length == 2 ? w[0] : -1) : (w.length == 2 ? w[1] : -1);
                if (w.length != 2 || as.length != 2 || bs.length != 2 || as[0] != bs[1] || as[1] != in || bs[0] != out
                        || as[0] != rank) {
                    throw new CheckpointMismatchException(file + ": LoRA factors for '" + target + "' do not fit: "
                            + "lora_A " + Arrays.toString(as) + " and lora_B " + Arrays.toString(bs)
                            + " (rank " + fmt(rank) + ") against base " + base.source() + " shape " + Arrays.toString(w)
                            + (fanInFanOut ? " (fan_in_fan_out: base stored as [in, out])" : "")
                            + "; expected lora_A [r, in] and lora_B [out, r]");
                }
                if (!a.dtype().isMergeable() || !b.dtype().isMergeable()) {
                    throw new CheckpointException(file + ": LoRA factor of '" + target + "' has dtype "
                            + (a.dtype().isMergeable() ? b.dtype() : a.dtype()) + ", which cannot be merged");
                }
                double scaling = rslora ? alphaM / Math.sqrt(rank) : alphaM / rank;
                deltas.put(target, new Delta(key, bKey, scaling, fanInFanOut));
            }
            for (String key : adapter.names()) {
                if (key.endsWith(B_SUFFIX)
                        && !adapter.contains(key.substring(0, key.length() - B_SUFFIX.length()) + A_SUFFIX)) {
                    throw new CheckpointException(file + ": tensor '" + key + "' has no matching lora_A");
                }
            }
            return new LoraCheckpoint(base, adapter, Map.copyOf(deltas), base.source() + " + " + dir,
                    OpenInputs.register(configPath));
        } catch (IOException | RuntimeException e) {
            adapter.close();
            throw e;
        }
    }

    private static Map<?, ?> config(Path path) throws IOException {
        Object root;
        try {
            root = StrictJson.parse(StrictJson.decodeUtf8(Files.readAllBytes(path)));
        } catch (StrictJson.SyntaxException e) {
            throw new CheckpointException(path + ": invalid JSON: " + e.getMessage(), e);
        }
        if (!(root instanceof Map<?, ?> m)) {
            throw new CheckpointException(path + ": the adapter configuration is not a JSON object");
        }
        return m;
    }

    private static double number(String file, Map<?, ?> cfg, String key, double dflt) throws CheckpointException {
        Object v = cfg.get(key);
        if (v == null) {
            return dflt;
        }
        if (!(v instanceof StrictJson.Num n) || !(n.doubleValue() > 0) || Double.isInfinite(n.doubleValue())) {
            throw new CheckpointException(file + ": " + key + " is " + v + ", not a positive number");
        }
        return n.doubleValue();
    }

    private static boolean bool(String file, Map<?, ?> cfg, String key) throws CheckpointException {
        Object v = cfg.get(key);
        if (v == null || v == StrictJson.NULL) {
            return false;
        }
        if (!(v instanceof Boolean b)) {
            throw new CheckpointException(file + ": " + key + " is " + v + ", not a boolean");
        }
        return b;
    }

    private static Map<?, ?> pattern(String file, Map<?, ?> cfg, String key) throws CheckpointException {
        Object v = cfg.get(key);
        if (v == null || v == StrictJson.NULL) {
            return Map.of();
        }
        if (!(v instanceof Map<?, ?> m)) {
            throw new CheckpointException(file + ": " + key + " is " + v + ", not an object");
        }
        for (Map.Entry<?, ?> e : m.entrySet()) {
            number(file, m, (String) e.getKey(), 1);
            try {
                Pattern.compile((String) e.getKey());
            } catch (PatternSyntaxException ex) {
                throw new CheckpointException(file + ": " + key + " key '" + e.getKey() + "' is not a valid pattern", ex);
            }
        }
        return m;
    }

    /** PEFT's rule: the first key that equals the module name or matches a dotted suffix of it. */
    private static double lookup(Map<?, ?> patterns, String module, double dflt) {
        for (Map.Entry<?, ?> e : patterns.entrySet()) {
            String p = (String) e.getKey();
            if (p.equals(module) || Pattern.compile("(.*\\.)?(" + p + ")").matcher(module).matches()) {
                return ((StrictJson.Num) e.getValue()).doubleValue();
            }
        }
        return dflt;
    }

    private static String fmt(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }

    @Override
    public String source() {
        return source;
    }

    @Override
    public List<String> names() {
        return base.names();
    }

    @Override
    public TensorInfo info(String name) {
        return base.info(name);
    }

    @Override
    public boolean contains(String name) {
        return base.contains(name);
    }

    /** Names of the base tensors the adapter changes. */
    List<String> adaptedNames() {
        return List.copyOf(new TreeMap<>(deltas).keySet());
    }

    @Override
    public Tensor load(String name, TensorBackend backend) {
        Objects.requireNonNull(backend, "backend");
        if (!deltas.containsKey(name)) {
            return base.load(name, backend);
        }
        try (TensorReader r = reader(name)) {
            return backend.seal(r.toTensor(backend, base.info(name).shape()));
        }
    }

    /**
     * The base's reader for tensors the adapter leaves alone; for an adapted weight, each range of W
     * + scaling·B·A is formed as it is read (B·A accumulated in double), holding only A and B.
     */
    @Override
    public TensorReader reader(String name) {
        Delta d = deltas.get(name);
        if (d == null) {
            return base.reader(name);
        }
        TensorBackend ref = ReferenceBackend.INSTANCE;
        long[] wShape = base.info(name).shape();
        float[] a = floats(adapter, d.aName(), ref);
        float[] b = floats(adapter, d.bName(), ref);
        long[] as = adapter.info(d.aName()).shape();
        int rank = (int) as[0];
        int in = (int) as[1];
        int out = rank == 0 ? (int) (d.transpose() ? wShape[1] : wShape[0]) : b.length / rank;
        // Both factors laid out so that one element of the delta is a contiguous rank-length dot (the
        // same products in the same order as Σ_r B[o,r]·A[r,i]): row factor [rows, rank] along the slow
        // axis of W, column factor [cols, rank] along the fast one; no division per element.
        boolean t = d.transpose();
        double scaling = d.scaling();
        int cols = t ? out : in;
        double[] rowFactor = new double[(t ? in : out) * rank];
        double[] colFactor = new double[cols * rank];
        for (int r = 0; r < rank; r++) {
            for (int i = 0; i < in; i++) {
                (t ? rowFactor : colFactor)[i * rank + r] = a[r * in + i];
            }
            for (int o = 0; o < out; o++) {
                (t ? colFactor : rowFactor)[o * rank + r] = b[o * rank + r];
            }
        }
        TensorReader w = base.reader(name);
        return new TensorReader() {
            @Override
            public long size() {
                return w.size();
            }

            @Override
            public void read(long offset, float[] dst, int dstOffset, int length) {
                w.read(offset, dst, dstOffset, length);
                long end = offset + length;
                for (long at = offset; at < end; ) {
                    int row = (int) (at / cols);
                    int col = (int) (at % cols);
                    int n = (int) Math.min(cols - col, end - at);
                    int base = dstOffset + (int) (at - offset);
                    int ro = row * rank;
                    for (int k = 0; k < n; k++) {
                        int co = (col + k) * rank;
                        double s = 0;
                        for (int r = 0; r < rank; r++) {
                            s += rowFactor[ro + r] * colFactor[co + r];
                        }
                        dst[base + k] = (float) (dst[base + k] + s * scaling);
                    }
                    at += n;
                }
            }

            @Override
            public void close() {
                w.close();
            }
        };
    }

    /** The base's bytes for tensors the adapter leaves alone; an adapted weight exists only as float32. */
    @Override
    public java.util.Optional<java.nio.ByteBuffer> storedBytes(String name) {
        return deltas.containsKey(name) ? java.util.Optional.empty() : base.storedBytes(name);
    }

    /** The adapter's weights and configuration, and the base's files. */
    @Override
    public List<java.nio.file.Path> files() {
        List<java.nio.file.Path> out = new java.util.ArrayList<>(adapter.files());
        out.add(adapter.path().resolveSibling(CONFIG));
        out.addAll(base.files());
        return List.copyOf(out);
    }

    private static float[] floats(Checkpoint c, String name, TensorBackend ref) {
        try (Tensor t = c.load(name, ref)) {
            return ref.toFloats(t);
        }
    }

    @Override
    public Map<String, String> metadata() {
        return base.metadata();
    }

    /** Closes the adapter file (the base belongs to the caller). */
    @Override
    public void close() {
        config.close();
        adapter.close();
    }

    @Override
    public String toString() {
        return "LoraCheckpoint[" + source + ", " + deltas.size() + " adapted tensors]";
    }
}
