package org.fwmerge.examples.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.fwmerge.Objective;
import org.fwmerge.ParameterSelection;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.Safetensors;
import org.fwmerge.nd4j.SameDiffObjective;
import org.fwmerge.onnx.OnnxObjective;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.VariableType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The {@code objective:} of a {@code frank_wolfe} configuration: one entry, or a list whose losses are
 * summed (one term per task, so FW-soft's per-task selection applies). An entry is either
 * <ul>
 * <li>{@code {class: NAME, ...}}: an {@link ObjectiveProvider} on the class path, given the other keys; or</li>
 * <li>{@code {onnx: GRAPH.onnx, calibration: FILE, fixed: CHECKPOINT, threads: N}}: a real architecture's
 *     loss-and-gradient graph exported by {@code tools/export-gradients} ({@link OnnxObjective}), its
 *     calibration samples (safetensors, one tensor per data input) and, optionally, the checkpoint (file
 *     or folder) its weights that are not merged are read from (a task's head); or</li>
 * <li>{@code {graph: FILE, calibration: FILE, input: NAME, logits: NAME, parameters: {TENSOR: VARIABLE}}}:
 *     a SameDiff graph saved with {@code SameDiff.save} and a safetensors file with the calibration
 *     {@code inputs} (first dimension: samples) and, optionally, {@code labels} (class indices stored as
 *     F32): cross-entropy with labels, prediction entropy without. {@code input} and {@code logits}
 *     default to {@code input} and {@code logits}; {@code parameters} defaults to every checkpoint
 *     tensor that names a variable of the graph.</li>
 * </ul>
 * Every form may say which tensors are merged with {@code tensors: [REGEX, ...]} (default: the mapped
 * tensors for a SameDiff graph, the mergeable tensors that are weights of an ONNX graph, every mergeable
 * tensor for a provider); every entry of a list must merge the same tensors. What an entry opens is
 * registered in {@code resources}, which the caller closes after the merge.
 */
final class ConfigObjectives {

    /** The objective and the tensors it is a function of. */
    record Built(Objective objective, ParameterSelection tensors, Set<String> names) {
    }

    private static final Set<String> GRAPH_KEYS = Set.of("graph", "calibration", "input", "logits", "parameters", "tensors");
    private static final Set<String> ONNX_KEYS = Set.of("onnx", "calibration", "fixed", "threads", "tensors");

    private ConfigObjectives() {
    }

    static Built build(Object spec, Checkpoint base, List<String> mergeable, List<AutoCloseable> resources)
            throws IOException {
        if (spec instanceof List<?> list) {
            if (list.isEmpty()) {
                throw new IllegalArgumentException("objective: the list is empty");
            }
            List<Objective> terms = new ArrayList<>();
            Built first = null;
            for (int i = 0; i < list.size(); i++) {
                Built b = entry(MergeConfig.map(list.get(i), "objective[" + i + "]"), "objective[" + i + "]", base, mergeable,
                        resources);
                if (first != null && !first.names().equals(b.names())) {
                    throw new IllegalArgumentException("objective[" + i + "] is a function of tensors " + b.names()
                            + ", objective[0] of " + first.names() + ": every term must take the same tensors");
                }
                first = first == null ? b : first;
                terms.add(b.objective());
            }
            return new Built(Objective.sum(terms), first.tensors(), first.names());
        }
        return entry(MergeConfig.map(spec, "objective"), "objective", base, mergeable, resources);
    }

    private static Built entry(Map<String, Object> m, String where, Checkpoint base, List<String> mergeable,
            List<AutoCloseable> resources) throws IOException {
        long kinds = Stream.of("class", "graph", "onnx").filter(m::containsKey).count();
        if (kinds != 1) {
            throw new IllegalArgumentException(where + " needs exactly one of 'class' (an " + ObjectiveProvider.class.getSimpleName()
                    + "), 'onnx' (a graph exported by tools/export-gradients) or 'graph' (a saved SameDiff graph)");
        }
        if (m.containsKey("onnx")) {
            return onnx(m, where, base, mergeable, resources);
        }
        return m.containsKey("class") ? provider(m, where, mergeable) : graph(m, where, base, mergeable);
    }

    private static Built onnx(Map<String, Object> m, String where, Checkpoint base, List<String> mergeable,
            List<AutoCloseable> resources) throws IOException {
        unknownKeys(m, where, ONNX_KEYS);
        OnnxObjective.Builder b = OnnxObjective.builder()
                .graph(Path.of(MergeConfig.string(m.get("onnx"), where + ".onnx")))
                .calibration(Path.of(MergeConfig.string(m.get("calibration"), where + ".calibration")));
        if (m.containsKey("fixed")) {
            Checkpoint fixed = Safetensors.open(Path.of(MergeConfig.string(m.get("fixed"), where + ".fixed")));
            resources.add(fixed);
            b.fixed(fixed);
        }
        if (m.containsKey("threads")) {
            Object t = m.get("threads");
            if (!(t instanceof Integer n) || n < 1) {
                throw new IllegalArgumentException(where + ".threads must be a whole number ≥ 1, got " + t);
            }
            b.threads(n);
        }
        OnnxObjective objective = b.build();
        resources.add(objective);
        List<String> names;
        if (m.containsKey("tensors")) {
            names = matching(m.get("tensors"), where, mergeable);
        } else {
            names = new ArrayList<>(mergeable);
            names.retainAll(objective.weights().keySet());
            if (names.isEmpty()) {
                throw new IllegalArgumentException(where + ": no mergeable tensor of " + base.source()
                        + " is a weight of the graph (its weights: " + objective.weights().keySet() + ")");
            }
        }
        try {
            objective.checkMerged(names);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
        }
        return new Built(objective, exactly(names), Set.copyOf(names));
    }

    private static void unknownKeys(Map<String, Object> m, String where, Set<String> known) {
        for (String key : m.keySet()) {
            if (!known.contains(key)) {
                throw new IllegalArgumentException(where + ": unknown key '" + key + "' (known: " + new java.util.TreeSet<>(known) + ")");
            }
        }
    }

    private static Built provider(Map<String, Object> m, String where, List<String> mergeable) {
        String name = MergeConfig.string(m.get("class"), where + ".class");
        Object instance;
        try {
            instance = Class.forName(name).getConstructor().newInstance();
        } catch (ClassNotFoundException e) {
            throw new IllegalArgumentException(where + ".class: no class " + name + " on the class path", e);
        } catch (ReflectiveOperationException e) {
            throw new IllegalArgumentException(where + ".class: cannot create " + name
                    + " (it needs a public no-argument constructor): " + e, e);
        }
        if (!(instance instanceof ObjectiveProvider p)) {
            throw new IllegalArgumentException(where + ".class: " + name + " does not implement "
                    + ObjectiveProvider.class.getName());
        }
        Map<String, Object> settings = new LinkedHashMap<>(m);
        settings.remove("class");
        settings.remove("tensors");
        Objective objective = p.create(Collections.unmodifiableMap(settings));
        if (objective == null) {
            throw new IllegalArgumentException(where + ": " + name + ".create returned no objective");
        }
        List<String> names = m.containsKey("tensors") ? matching(m.get("tensors"), where, mergeable) : mergeable;
        return new Built(objective, exactly(names), Set.copyOf(names));
    }

    private static Built graph(Map<String, Object> m, String where, Checkpoint base, List<String> mergeable)
            throws IOException {
        unknownKeys(m, where, GRAPH_KEYS);
        Path graphFile = Path.of(MergeConfig.string(m.get("graph"), where + ".graph"));
        Path calibration = Path.of(MergeConfig.string(m.get("calibration"), where + ".calibration"));
        if (!Files.isRegularFile(graphFile)) {
            throw new IllegalArgumentException(where + ".graph: no such file " + graphFile);
        }
        SameDiff sd;
        try {
            sd = SameDiff.load(graphFile.toFile(), false);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(where + ".graph: " + graphFile + " is not a graph saved with SameDiff.save ("
                    + e.getMessage() + ")", e);
        }
        String input = m.containsKey("input") ? MergeConfig.string(m.get("input"), where + ".input") : "input";
        String logits = m.containsKey("logits") ? MergeConfig.string(m.get("logits"), where + ".logits") : "logits";
        Map<String, String> mapping = new LinkedHashMap<>();
        if (m.containsKey("parameters")) {
            MergeConfig.map(m.get("parameters"), where + ".parameters")
                    .forEach((t, v) -> mapping.put(t, MergeConfig.string(v, where + ".parameters." + t)));
        } else {
            for (String name : mergeable) {
                if (sd.hasVariable(name) && sd.getVariable(name).getVariableType() == VariableType.VARIABLE) {
                    mapping.put(name, name);
                }
            }
            if (mapping.isEmpty()) {
                throw new IllegalArgumentException(where + ": no tensor of " + base.source() + " names a variable of "
                        + graphFile + "; map them with parameters: {TENSOR: VARIABLE}");
            }
        }
        for (String t : mapping.keySet()) {
            if (!mergeable.contains(t)) {
                throw new IllegalArgumentException(where + ".parameters: the base " + base.source()
                        + " has no mergeable tensor '" + t + "'");
            }
        }
        SameDiffObjective.Builder b = SameDiffObjective.builder().graph(sd).parameters(mapping).logits(logits);
        try (Checkpoint cal = Safetensors.open(calibration)) {
            if (!cal.contains("inputs")) {
                throw new IllegalArgumentException(where + ".calibration: " + calibration + " has no tensor 'inputs'");
            }
            b.input(input, array(cal, "inputs"));
            if (cal.contains("labels")) {
                b.crossEntropy(labels(array(cal, "labels"), calibration));
            } else {
                b.predictionEntropy();
            }
        }
        List<String> names = m.containsKey("tensors") ? matching(m.get("tensors"), where, mergeable)
                : new ArrayList<>(mapping.keySet());
        return new Built(b.build(), exactly(names), Set.copyOf(names));
    }

    private static INDArray array(Checkpoint c, String name) {
        TensorBackend ref = TensorBackends.reference();
        try (Tensor t = c.load(name, ref)) {
            return Nd4j.create(ref.toFloats(t), t.shape());
        }
    }

    private static int[] labels(INDArray a, Path file) {
        int[] out = new int[(int) a.length()];
        for (int i = 0; i < out.length; i++) {
            double v = a.getDouble(i);
            if (v != Math.rint(v) || v < 0) {
                throw new IllegalArgumentException(file + ": label " + i + " is " + v + ", not a class index");
            }
            out[i] = (int) v;
        }
        return out;
    }

    private static List<String> matching(Object patterns, String where, List<String> mergeable) {
        if (!(patterns instanceof List<?> list) || list.isEmpty()) {
            throw new IllegalArgumentException(where + ".tensors must be a non-empty list of regular expressions");
        }
        List<String> names = new ArrayList<>();
        for (String n : mergeable) {
            for (Object p : list) {
                if (Pattern.compile(MergeConfig.string(p, where + ".tensors")).matcher(n).matches()) {
                    names.add(n);
                    break;
                }
            }
        }
        if (names.isEmpty()) {
            throw new IllegalArgumentException(where + ".tensors " + list + " matches no mergeable tensor");
        }
        return names;
    }

    /** A selection of exactly these names. */
    static ParameterSelection exactly(List<String> names) {
        String[] quoted = names.stream().map(Pattern::quote).toArray(String[]::new);
        return ParameterSelection.include(quoted);
    }
}
