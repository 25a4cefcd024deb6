package org.fwmerge.examples.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.fwmerge.io.DType;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * A merge configuration in mergekit's YAML format, read strictly: every key is known, every value has
 * its expected type, and mergekit features fwmerge does not implement are refused by name — nothing
 * is silently ignored. Values are checked here; the files they name are opened by {@link MergeCommand}.
 *
 * @param method     {@code merge_method}
 * @param base       {@code base_model}, if given
 * @param models     {@code models}, in order
 * @param parameters the global {@code parameters} (scalars)
 * @param dtype      {@code out_dtype}, else {@code dtype}, if given
 * @param objective  the {@code objective:} map or list ({@code frank_wolfe} only), else null
 */
record MergeConfig(String method, Optional<ModelRef> base, List<ModelRef> models, Map<String, Object> parameters,
        Optional<DType> dtype, Object objective) {

    /** The methods {@code fwmerge merge} implements, with the parameter keys each accepts (global; per model). */
    enum Method {
        LINEAR("linear", Set.of("weight", "normalize"), Set.of("weight")),
        TASK_ARITHMETIC("task_arithmetic", GTA_GLOBAL, GTA_MODEL),
        TIES("ties", GTA_GLOBAL, GTA_MODEL),
        DARE_LINEAR("dare_linear", GTA_GLOBAL, GTA_MODEL),
        DARE_TIES("dare_ties", GTA_GLOBAL, GTA_MODEL),
        BREADCRUMBS("breadcrumbs", BREADCRUMBS_GLOBAL, BREADCRUMBS_MODEL),
        BREADCRUMBS_TIES("breadcrumbs_ties", BREADCRUMBS_GLOBAL, BREADCRUMBS_MODEL),
        DELLA("della", DELLA_GLOBAL, DELLA_MODEL),
        DELLA_LINEAR("della_linear", DELLA_GLOBAL, DELLA_MODEL),
        SLERP("slerp", Set.of("t"), Set.of()),
        NEARSWAP("nearswap", Set.of("t"), Set.of()),
        MODEL_STOCK("model_stock", Set.of("filter_wise"), Set.of()),
        SCE("sce", Set.of("select_topk", "int8_mask"), Set.of()),
        MULTISLERP("multislerp", Set.of("weight", "normalize_weights"), Set.of("weight")),
        NUSLERP("nuslerp", Set.of("weight", "nuslerp_flatten", "nuslerp_row_wise"), Set.of("weight")),
        KARCHER("karcher", Set.of("max_iter", "tol"), Set.of()),
        FRANK_WOLFE("frank_wolfe", Set.of("variant", "lmo", "step_size", "gamma", "iterations", "tolerance",
                "relative_tolerance", "top_k", "batch_size", "coefficients"),
                Set.of());

        final String key;
        final Set<String> global;
        final Set<String> perModel;

        Method(String key, Set<String> global, Set<String> perModel) {
            this.key = key;
            this.global = global;
            this.perModel = perModel;
        }

        static Method of(String key) {
            for (Method m : values()) {
                if (m.key.equals(key)) {
                    return m;
                }
            }
            List<String> names = new ArrayList<>();
            for (Method m : values()) {
                names.add(m.key);
            }
            throw new IllegalArgumentException("merge_method '" + key + "' is not supported by fwmerge merge (supported: "
                    + String.join(", ", names) + ")");
        }
    }

    private static final Set<String> GTA_GLOBAL = Set.of("weight", "density", "normalize", "rescale", "lambda", "int8_mask");
    private static final Set<String> GTA_MODEL = Set.of("weight", "density");
    private static final Set<String> BREADCRUMBS_MODEL = Set.of("weight", "density", "gamma");
    private static final Set<String> BREADCRUMBS_GLOBAL = Set.of("weight", "density", "gamma", "normalize", "rescale",
            "lambda", "int8_mask");
    /** Parameters that are true or false, never a gradient or a condition. */
    private static final Set<String> DELLA_MODEL = Set.of("weight", "density", "epsilon");
    private static final Set<String> DELLA_GLOBAL = Set.of("weight", "density", "epsilon", "normalize", "rescale",
            "lambda", "int8_mask");
    private static final Set<String> FLAGS = Set.of("normalize", "rescale", "int8_mask", "filter_wise", "normalize_weights",
            "nuslerp_flatten", "nuslerp_row_wise");
    private static final Set<String> TOP_LEVEL = Set.of("merge_method", "base_model", "models", "parameters", "dtype",
            "out_dtype", "objective");
    /** Bytes read to tell a text file from a binary one before reading it whole. */
    private static final int SNIFF_BYTES = 1 << 16;
    /** The largest configuration read: mergekit's YAML files are a few KB. */
    private static final long MAX_CONFIG_BYTES = 16L << 20;

    /** mergekit keys fwmerge does not implement: refused by name rather than reported as unknown. */
    private static final Set<String> UNSUPPORTED = Set.of("slices", "modules", "tokenizer_source", "tokenizer",
            "chat_template");

    /**
     * A model reference: a checkpoint path, or {@code PATH+ADAPTER} for a PEFT LoRA adapter applied to
     * the model at PATH (mergekit's syntax).
     *
     * @param text       as written
     * @param path       the checkpoint (file or directory)
     * @param adapter    the adapter directory, if any
     * @param parameters the model's own parameters (scalars)
     */
    record ModelRef(String text, Path path, Optional<Path> adapter, Map<String, Object> parameters) {
    }

    /** The method, parsed. */
    Method methodKind() {
        return Method.of(method);
    }

    /**
     * A parameter of model {@code i} for tensor {@code tensor} at layer position {@code t}
     * ({@link #layerPosition}): its own setting, else the global one, else {@code fallback} (null:
     * required) — mergekit's order. A setting whose conditions all miss the tensor counts as absent.
     *
     * @throws IllegalArgumentException if required and absent
     */
    double number(int i, String key, Double fallback, String tensor, double t) {
        Double v = evaluate(models.get(i).parameters().get(key), tensor, t);
        if (v == null) {
            v = evaluate(parameters.get(key), tensor, t);
        }
        if (v == null) {
            if (fallback == null) {
                throw new IllegalArgumentException("models[" + i + "] (" + models.get(i).text() + ") has no '" + key
                        + "'" + (tensor == null ? "" : " for tensor '" + tensor + "'") + ": give it in the model's"
                        + " parameters or in the global parameters (mergekit requires it too)");
            }
            return fallback;
        }
        return v;
    }

    /** A global numeric parameter for {@code tensor} at layer position {@code t}, or {@code fallback} (null: absent). */
    Double number(String key, Double fallback, String tensor, double t) {
        Double v = evaluate(parameters.get(key), tensor, t);
        return v == null ? fallback : v;
    }

    /**
     * mergekit's {@code evaluate_setting}: a number; a gradient list [v₀ … v_m] interpolated linearly at
     * position t·m; or a list of {@code {filter, value}} conditions, the first whose filter is absent,
     * {@code *} or a substring of the tensor name giving the value. Null: no setting, or no condition matched.
     */
    static Double evaluate(Object setting, String tensor, double t) {
        if (setting == null) {
            return null;
        }
        if (setting instanceof Number n) {
            return n.doubleValue();
        }
        List<?> list = (List<?>) setting; // checked by setting() when parsed
        if (list.get(0) instanceof Number) {
            double scaled = t * (list.size() - 1);
            int i0 = (int) scaled;
            int i1 = Math.min(list.size() - 1, i0 + 1);
            double frac = scaled - i0;
            return (1 - frac) * ((Number) list.get(i0)).doubleValue() + frac * ((Number) list.get(i1)).doubleValue();
        }
        for (Object o : list) {
            Map<?, ?> cond = (Map<?, ?>) o;
            Object filter = cond.get("filter");
            if (filter == null || filter.equals("*") || (tensor != null && tensor.contains((String) filter))) {
                return evaluate(cond.get("value"), tensor, t);
            }
        }
        return null;
    }

    /**
     * Where tensor {@code name} sits among the layers, for gradient lists, as mergekit plans a merge: layer
     * k of L gives k/(L − 1) (1 when L = 1); tensors outside the layers (embeddings, final norm, head) 0. The
     * layer is the first all-digit segment of the name ({@code model.layers.7.mlp…}, {@code transformer.h.7…});
     * L is one more than the largest index under the same prefix among {@code names}.
     */
    static double layerPosition(String name, List<String> names) {
        String[] parts = name.split("\\.");
        for (int p = 0; p < parts.length; p++) {
            if (!parts[p].isEmpty() && parts[p].chars().allMatch(Character::isDigit) && parts[p].length() < 9) {
                String prefix = String.join(".", java.util.Arrays.copyOfRange(parts, 0, p)) + ".";
                int max = 0;
                for (String other : names) {
                    if (other.startsWith(prefix)) {
                        String rest = other.substring(prefix.length());
                        int dot = rest.indexOf('.');
                        String idx = dot < 0 ? rest : rest.substring(0, dot);
                        if (!idx.isEmpty() && idx.length() < 9 && idx.chars().allMatch(Character::isDigit)) {
                            max = Math.max(max, Integer.parseInt(idx));
                        }
                    }
                }
                return max == 0 ? 1 : Integer.parseInt(parts[p]) / (double) max;
            }
        }
        return 0;
    }

    /** A global boolean parameter, or {@code fallback}. */
    boolean flag(String key, boolean fallback) {
        Object v = parameters.get(key);
        if (v == null) {
            return fallback;
        }
        if (!(v instanceof Boolean b)) {
            throw new IllegalArgumentException("parameters." + key + " must be true or false, got '" + v + "'");
        }
        return b;
    }

    /** A global numeric parameter, or {@code fallback}. */
    double number(String key, double fallback) {
        Object v = parameters.get(key);
        return v == null ? fallback : toNumber(v, "parameters." + key);
    }

    /** A global string parameter, or {@code fallback}. */
    String string(String key, String fallback) {
        Object v = parameters.get(key);
        return v == null ? fallback : v.toString();
    }

    private static double toNumber(Object v, String where) {
        if (!(v instanceof Number n) || !Double.isFinite(n.doubleValue())) {
            throw new IllegalArgumentException(where + " must be a finite number, got '" + v + "'");
        }
        return n.doubleValue();
    }

    /**
     * The text of the configuration file {@code file}, for {@link #parse(String, String)}.
     *
     * @throws IllegalArgumentException naming the file if it is not a UTF-8 text file (NUL bytes or
     *                                  malformed UTF-8, which no YAML file holds: a checkpoint given as
     *                                  CONFIG, say)
     * @throws java.io.IOException      if the file cannot be read
     */
    static String readText(Path file) throws java.io.IOException {
        // A checkpoint given by mistake may be gigabytes: look at its start before reading it whole.
        long size = java.nio.file.Files.size(file);
        byte[] bytes;
        try (java.io.InputStream in = java.nio.file.Files.newInputStream(file)) {
            bytes = in.readNBytes((int) Math.min(size, SNIFF_BYTES));
        }
        refuseNul(bytes, size, file);
        if (size > MAX_CONFIG_BYTES) {
            throw new IllegalArgumentException(file + " is not a merge configuration: " + size + " bytes, over the "
                    + MAX_CONFIG_BYTES + " a YAML configuration may have; give the merge configuration as CONFIG");
        }
        if (size > bytes.length) {
            bytes = java.nio.file.Files.readAllBytes(file);
            refuseNul(bytes, bytes.length, file);
        }
        try {
            return java.nio.charset.StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                    .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(bytes)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new IllegalArgumentException(file + " is not a YAML text file (it is not valid UTF-8): give the merge"
                    + " configuration, e.g. config.yaml, as CONFIG", e);
        }
    }

    /** Refuses a NUL byte, which no YAML text holds (a safetensors file starts with several). */
    private static void refuseNul(byte[] bytes, long size, Path file) {
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == 0) {
                throw new IllegalArgumentException(file + " is not a YAML text file (byte " + i + " is NUL; "
                        + size + " bytes in all): give the merge configuration, e.g. config.yaml, as CONFIG");
            }
        }
    }

    /**
     * Parses and checks a configuration.
     *
     * @param text   the YAML text
     * @param source the file name, for messages
     * @throws IllegalArgumentException naming the file and the offending key
     */
    static MergeConfig parse(String text, String source) {
        try {
            return parse(text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(source + ": " + e.getMessage(), e);
        }
    }

    private static MergeConfig parse(String text) {
        LoaderOptions options = new LoaderOptions();
        options.setAllowDuplicateKeys(false);
        options.setMaxAliasesForCollections(0);
        Object root;
        try {
            root = new Yaml(new SafeConstructor(options)).load(text);
        } catch (YAMLException e) {
            throw new IllegalArgumentException("not valid YAML: " + e.getMessage().replace('\n', ' '), e);
        }
        Map<String, Object> top = map(root, "the document");
        for (String key : top.keySet()) {
            if (UNSUPPORTED.contains(key)) {
                throw new IllegalArgumentException("'" + key + "' is not supported by fwmerge merge (only 'models' merges"
                        + " of whole models)");
            }
            if (!TOP_LEVEL.contains(key)) {
                throw new IllegalArgumentException("unknown key '" + key + "' (known: " + new java.util.TreeSet<>(TOP_LEVEL) + ")");
            }
        }
        Object m = top.get("merge_method");
        if (!(m instanceof String methodName)) {
            throw new IllegalArgumentException("merge_method is required, e.g. 'merge_method: ties'");
        }
        Method method = Method.of(methodName);
        Map<String, Object> global = scalars(top.get("parameters") == null ? Map.of() : map(top.get("parameters"), "parameters"),
                "parameters", method.global, method);
        Optional<ModelRef> base = top.get("base_model") == null ? Optional.empty()
                : Optional.of(ref(string(top.get("base_model"), "base_model"), Map.of()));
        Object ms = top.get("models");
        if (!(ms instanceof List<?> list) || list.isEmpty()) {
            throw new IllegalArgumentException("models must be a non-empty list of {model: PATH, parameters: {...}}");
        }
        List<ModelRef> models = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            String where = "models[" + i + "]";
            Map<String, Object> entry = map(list.get(i), where);
            for (String key : entry.keySet()) {
                if (!key.equals("model") && !key.equals("parameters")) {
                    throw new IllegalArgumentException(where + ": unknown key '" + key + "' (known: model, parameters)");
                }
            }
            Map<String, Object> params = entry.get("parameters") == null ? Map.of()
                    : scalars(map(entry.get("parameters"), where + ".parameters"), where + ".parameters", method.perModel, method);
            models.add(ref(string(entry.get("model"), where + ".model"), params));
        }
        // linear, multislerp, nuslerp and karcher merge the models themselves without a base (mergekit's base_model
        // is optional for them)
        if (method != Method.LINEAR && method != Method.MULTISLERP && method != Method.NUSLERP && method != Method.KARCHER
                && method != Method.FRANK_WOLFE && base.isEmpty()) {
            throw new IllegalArgumentException("merge_method " + method.key + " needs base_model ("
                    + (method == Method.SLERP || method == Method.NEARSWAP ? "t is measured from it"
                    : "task vectors are θ_i − θ_base") + ")");
        }
        if (method == Method.FRANK_WOLFE && base.isEmpty()) {
            throw new IllegalArgumentException("merge_method frank_wolfe needs base_model (the first vertex and the start)");
        }
        Object objective = top.get("objective");
        if (method == Method.FRANK_WOLFE && objective == null) {
            throw new IllegalArgumentException("merge_method frank_wolfe needs an 'objective:' (an ONNX graph exported"
                    + " by tools/export-gradients or a SameDiff graph, with calibration data; or a class implementing " + ObjectiveProvider.class.getName() + ")");
        }
        if (method != Method.FRANK_WOLFE && objective != null) {
            throw new IllegalArgumentException("'objective' applies to merge_method frank_wolfe only, not " + method.key);
        }
        Optional<DType> dtype = Optional.empty();
        for (String key : List.of("dtype", "out_dtype")) { // out_dtype wins, as in mergekit
            if (top.get(key) != null) {
                dtype = Optional.of(dtype(string(top.get(key), key), key));
            }
        }
        return new MergeConfig(method.key, base, List.copyOf(models), global, dtype, objective);
    }

    private static DType dtype(String name, String key) {
        switch (name) {
            case "float32":
                return DType.F32;
            case "float16":
                return DType.F16;
            case "bfloat16":
                return DType.BF16;
            default:
                throw new IllegalArgumentException(key + " '" + name + "' is not supported (float32, float16 or bfloat16)");
        }
    }

    private static ModelRef ref(String text, Map<String, Object> params) {
        int plus = text.indexOf('+');
        if (plus == 0 || plus == text.length() - 1 || text.indexOf('+', plus + 1) >= 0) {
            throw new IllegalArgumentException("model reference '" + text + "' must be PATH or PATH+LORA_ADAPTER");
        }
        Path path = Path.of(plus < 0 ? text : text.substring(0, plus));
        Optional<Path> adapter = plus < 0 ? Optional.empty() : Optional.of(Path.of(text.substring(plus + 1)));
        return new ModelRef(text, path, adapter, params);
    }

    /** Checks the keys, and that values are scalars or (numeric parameters of mergekit's methods) settings. */
    private static Map<String, Object> scalars(Map<String, Object> params, String where, Set<String> allowed, Method method) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : params.entrySet()) {
            String key = e.getKey();
            Object v = e.getValue();
            if (!allowed.contains(key)) {
                throw new IllegalArgumentException(where + ": '" + key + "' is not a parameter of " + method.key
                        + (allowed.isEmpty() ? " (it takes none here)" : " (known: " + new java.util.TreeSet<>(allowed) + ")"));
            }
            if (v == null) {
                throw new IllegalArgumentException(where + "." + key + " has no value");
            }
            if (v instanceof List<?> || v instanceof Map<?, ?>) {
                if (method == Method.FRANK_WOLFE || FLAGS.contains(key)) {
                    throw new IllegalArgumentException(where + "." + key + ": gradient lists and conditional values"
                            + " (value/filter) apply to the numeric parameters of mergekit's methods; give one value here");
                }
                checkSetting(v, where + "." + key, true);
            }
            out.put(key, v);
        }
        return Collections.unmodifiableMap(out);
    }

    /** Checks a gradient list (numbers) or a list of {filter, value} conditions, as mergekit's ParameterSetting. */
    private static void checkSetting(Object v, String where, boolean conditionsAllowed) {
        if (v instanceof Number n) {
            toNumber(n, where);
            return;
        }
        if (!(v instanceof List<?> list) || list.isEmpty()) {
            throw new IllegalArgumentException(where + " must be a number, a gradient list of numbers or a list of"
                    + " {filter, value} conditions, got " + describe(v));
        }
        if (list.get(0) instanceof Number || !conditionsAllowed) {
            for (int k = 0; k < list.size(); k++) {
                toNumber(list.get(k), where + "[" + k + "]");
            }
            return;
        }
        for (int k = 0; k < list.size(); k++) {
            Map<String, Object> cond = map(list.get(k), where + "[" + k + "]");
            for (String key : cond.keySet()) {
                if (!key.equals("filter") && !key.equals("value")) {
                    throw new IllegalArgumentException(where + "[" + k + "]: unknown key '" + key + "' (known: filter, value)");
                }
            }
            if (cond.get("filter") != null) {
                string(cond.get("filter"), where + "[" + k + "].filter");
            }
            if (cond.get("value") == null) {
                throw new IllegalArgumentException(where + "[" + k + "] has no value");
            }
            checkSetting(cond.get("value"), where + "[" + k + "].value", false);
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Object o, String where) {
        if (!(o instanceof Map<?, ?> m)) {
            throw new IllegalArgumentException(where + " must be a mapping, got " + describe(o));
        }
        for (Object k : m.keySet()) {
            if (!(k instanceof String)) {
                throw new IllegalArgumentException(where + " has a key that is not a string: " + k);
            }
        }
        return (Map<String, Object>) m;
    }

    static String string(Object o, String where) {
        if (!(o instanceof String s) || s.isBlank()) {
            throw new IllegalArgumentException(where + " must be a non-empty string, got " + describe(o));
        }
        return s;
    }

    private static String describe(Object o) {
        return o == null ? "nothing" : "'" + o + "' (" + o.getClass().getSimpleName().toLowerCase(Locale.ROOT) + ")";
    }

    MergeConfig {
        Objects.requireNonNull(method, "method");
    }
}
