package org.fwmerge.examples.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import org.fwmerge.CoefficientOptions;
import org.fwmerge.FrankWolfeMerger;
import org.fwmerge.Lmo;
import org.fwmerge.MergeResult;
import org.fwmerge.Merger;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.ParameterSelection;
import org.fwmerge.SoftOptions;
import org.fwmerge.StepSizeRule;
import org.fwmerge.Tolerance;
import org.fwmerge.Variant;
import org.fwmerge.baseline.GeneralizedTaskArithmetic;
import org.fwmerge.baseline.Karcher;
import org.fwmerge.baseline.ModelStock;
import org.fwmerge.baseline.MultiSlerp;
import org.fwmerge.baseline.NuSlerp;
import org.fwmerge.baseline.Sce;
import org.fwmerge.baseline.NearSwap;
import org.fwmerge.baseline.Slerp;
import org.fwmerge.baseline.WeightAveraging;
import org.fwmerge.examples.cli.MergeConfig.Method;
import org.fwmerge.examples.cli.MergeConfig.ModelRef;
import org.fwmerge.io.AtomicFiles;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.DType;
import org.fwmerge.io.Safetensors;
import org.fwmerge.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code fwmerge merge CONFIG.yaml OUT_DIR}: merges the models a mergekit-style YAML file names.
 *
 * <p>mergekit's {@code linear}, {@code task_arithmetic}, {@code ties}, {@code dare_linear} and
 * {@code dare_ties}, {@code breadcrumbs}, {@code breadcrumbs_ties}, {@code della}, {@code della_linear},
 * {@code slerp}, {@code nearswap},
 * {@code model_stock}, {@code sce}, {@code multislerp}, {@code nuslerp} and {@code karcher} follow mergekit's
 * definitions ({@link WeightAveraging}, {@link GeneralizedTaskArithmetic}, {@link Slerp}, {@link NearSwap},
 * {@link ModelStock}, {@link Sce}, {@link MultiSlerp}, {@link NuSlerp}, {@link Karcher}); {@code frank_wolfe} runs FW-Merging with the configuration's
 * objective. OUT_DIR receives {@code model.safetensors} (or shards and their index), the base
 * directory's non-weight files (config, tokenizer) and {@code fwmerge_config.yml}; the configuration
 * is also embedded in the safetensors metadata. Every file is written atomically; an OUT_DIR that
 * holds one of the inputs is refused before any work.
 */
@Command(name = "merge", mixinStandardHelpOptions = true,
        description = "Merge the models of a mergekit-style YAML configuration (linear, task_arithmetic, ties,"
                + " dare_linear, dare_ties, breadcrumbs, breadcrumbs_ties, della, della_linear, slerp, nuslerp, multislerp, karcher, nearswap, model_stock, sce, frank_wolfe) into OUT_DIR.")
final class MergeCommand implements Callable<Integer> {

    /** Name of the copy of the configuration written beside the model. */
    static final String CONFIG_COPY = "fwmerge_config.yml";
    /** Files of a base directory that are weights, not copied to the output. */
    private static final List<String> WEIGHT_SUFFIXES = List.of(".safetensors", ".safetensors.index.json", ".bin",
            ".bin.index.json", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".gguf", ".tmp");

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "CONFIG", description = "mergekit-style YAML configuration")
    Path config;

    @Parameters(index = "1", paramLabel = "OUT_DIR", description = "output directory (created if missing)")
    Path out;

    @Option(names = "--max-shard-size", paramLabel = "BYTES", defaultValue = "5000000000",
            description = "largest shard of tensor data (default ${DEFAULT-VALUE}); a smaller model is one file")
    long maxShardBytes;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "0",
            description = "seed of the random sparsification of dare_linear and dare_ties (default ${DEFAULT-VALUE})")
    long seed;

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        long start = System.nanoTime();
        String text = MergeConfig.readText(config);
        MergeConfig c = MergeConfig.parse(text, config.toString());
        Method method = c.methodKind();
        List<Checkpoint> opened = new ArrayList<>();
        List<AutoCloseable> resources = new ArrayList<>(); // what the objective opened, closed before the inputs
        try {
            ModelRef baseRef = c.base().orElse(c.models().get(0));
            Checkpoint base = open(baseRef, opened);
            List<Checkpoint> candidates = new ArrayList<>();
            List<Integer> indices = new ArrayList<>();
            for (int i = 0; i < c.models().size(); i++) {
                ModelRef m = c.models().get(i);
                // task vectors are differences to the base: mergekit skips the base where it is listed
                if (!averagesBase(method) && c.base().isPresent() && m.text().equals(baseRef.text())) {
                    continue;
                }
                candidates.add(open(m, opened));
                indices.add(i);
            }
            if (averagesBase(method) && c.base().isPresent() && c.models().stream().noneMatch(m -> m.text().equals(baseRef.text()))) {
                // mergekit's linear and karcher average every model they read, the base included (linear with the global weight)
                candidates.add(base);
                indices.add(BASE);
            }
            if (candidates.isEmpty()) {
                throw new IllegalArgumentException(config + ": no model to merge besides the base");
            }
            List<String> mergeable = new ArrayList<>();
            for (String name : base.names()) {
                if (base.info(name).dtype().isMergeable()) {
                    mergeable.add(name);
                }
            }
            try (ModelPool pool = ModelPool.of(base, candidates)) {
                refuseOverlap(pool);
                String header = String.format(Locale.ROOT, "fwmerge merge: %s over base %s, %d candidates, %d tensors",
                        method.key, baseRef.text(), candidates.size(), mergeable.size());
                MergeResult r;
                if (method == Method.FRANK_WOLFE) {
                    Merger merger = frankWolfe(c, base, mergeable, resources, err); // checks every setting first
                    err.println(header);
                    r = merger.merge(pool);
                } else {
                    r = dataFree(c, method, indices, mergeable, pool, header, err);
                }
                if (method == Method.FRANK_WOLFE) {
                    // the listener counts from 1, and x_t is the point iteration t + 1 starts from
                    int t = r.returnedIteration();
                    String which = t < r.iterations().size() ? "the point of iteration " + (t + 1) : "the final point";
                    err.printf(Locale.ROOT, "stopped: %s; returning %s, the lowest loss seen (loss %.6f, gap %.3e)%n",
                            r.stopReason(), which, r.returnedLoss(), r.returnedGap());
                }
                try {
                    write(c, text, r, pool.base(), baseRef, err);
                } finally {
                    r.model().close();
                }
            }
            err.printf(Locale.ROOT, "done in %.1f s: %s%n", (System.nanoTime() - start) / 1e9, out);
            return 0;
        } finally {
            closeAll(resources);
            for (int i = opened.size() - 1; i >= 0; i--) {
                opened.get(i).close();
            }
        }
    }

    /** Closes in reverse order of opening (an objective before the fixed checkpoint it reads). */
    private static void closeAll(List<AutoCloseable> resources) throws IOException {
        for (int i = resources.size() - 1; i >= 0; i--) {
            try {
                resources.get(i).close();
            } catch (IOException | RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IOException("closing " + resources.get(i) + " failed", e);
            }
        }
    }

    /** Whether the method takes base_model as one more model to average (mergekit's linear and karcher). */
    private static boolean averagesBase(Method method) {
        return method == Method.LINEAR || method == Method.KARCHER;
    }

    /** The index that stands for the base in a linear merge's candidates. */
    private static final int BASE = -1;

    /**
     * Runs a data-free method. Settings may vary by tensor (gradient lists over layers, filters), so the
     * tensors are grouped by the values they get and each group is merged by one merger; all mergers are
     * built, and so every setting checked, before any work.
     */
    private MergeResult dataFree(MergeConfig c, Method method, List<Integer> indices, List<String> mergeable,
            ModelPool pool, String header, PrintWriter err) {
        long start = System.nanoTime();
        Map<List<Double>, List<String>> groups = new LinkedHashMap<>();
        for (String name : mergeable) {
            double t = MergeConfig.layerPosition(name, mergeable);
            groups.computeIfAbsent(values(c, method, indices, name, t), k -> new ArrayList<>()).add(name);
        }
        List<Merger> mergers = new ArrayList<>();
        groups.forEach((v, names) -> mergers.add(merger(c, method, indices.size(), v, ConfigObjectives.exactly(names))));
        err.println(header + (groups.size() > 1 ? ", " + groups.size() + " groups of settings (gradients, filters)" : ""));
        if (mergers.size() == 1) {
            return mergers.get(0).merge(pool);
        }
        List<MergeResult> parts = new ArrayList<>();
        try {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (Merger m : mergers) {
                MergeResult part = m.merge(pool);
                parts.add(part);
                for (String name : part.model().names()) {
                    tensors.put(name, part.model().tensor(name));
                }
            }
            Map<String, Tensor> ordered = new LinkedHashMap<>();
            mergeable.forEach(name -> ordered.put(name, tensors.get(name)));
            Model all = Model.of(method.key, parts.get(0).model().backend(), ordered); // owns the parts' tensors now
            Map<String, String> settings = new LinkedHashMap<>(parts.get(0).configuration());
            settings.put("settingGroups", Integer.toString(parts.size()));
            return MergeResult.builder(all, parts.get(0).method()).settings(settings).pool(pool)
                    .elapsed(java.time.Duration.ofNanos(System.nanoTime() - start)).build();
        } catch (RuntimeException e) {
            parts.forEach(MergeResult::close);
            throw e;
        }
    }

    /** The numbers a data-free method takes for one tensor, in the order {@link #merger} reads them. */
    private static List<Double> values(MergeConfig c, Method method, List<Integer> indices, String tensor, double t) {
        List<Double> v = new ArrayList<>();
        switch (method) {
            case LINEAR -> indices.forEach(i -> v.add(i == BASE ? baseWeight(c, tensor, t) : c.number(i, "weight", null, tensor, t)));
            case MODEL_STOCK -> {
                // no numeric parameter: one group
            }
            case SCE -> v.add(c.number("select_topk", 1.0, tensor, t));
            case MULTISLERP -> indices.forEach(i -> v.add(c.number(i, "weight", null, tensor, t)));
            case KARCHER -> {
                v.add(c.number("max_iter", (double) Karcher.DEFAULT_MAX_ITERATIONS, tensor, t));
                v.add(c.number("tol", Karcher.DEFAULT_TOLERANCE, tensor, t));
            }
            case NUSLERP -> {
                if (indices.size() != 2) {
                    throw new IllegalArgumentException("merge_method nuslerp interpolates exactly two models (plus an optional"
                            + " base_model, which is not one of them); this configuration has " + indices.size());
                }
                indices.forEach(i -> v.add(c.number(i, "weight", null, tensor, t)));
            }
            case SLERP, NEARSWAP -> {
                Double st = c.number("t", null, tensor, t);
                if (indices.size() != 1 || st == null) {
                    throw new IllegalArgumentException("merge_method " + method.key + " " + (method == Method.SLERP
                            ? "interpolates from base_model to exactly one other model by parameters.t (0: the base, 1: the other)"
                            : "swaps in the entries of exactly one other model that lie within parameters.t of base_model's")
                            + "; this configuration has " + indices.size() + " other model(s)"
                            + (st == null ? " and no t for tensor '" + tensor + "'" : ""));
                }
                v.add(st);
            }
            default -> {
                indices.forEach(i -> v.add(c.number(i, "weight", null, tensor, t)));
                indices.forEach(i -> v.add(c.number(i, "density", 1.0, tensor, t)));
                v.add(c.number("lambda", 1.0, tensor, t));
                if (method == Method.BREADCRUMBS || method == Method.BREADCRUMBS_TIES) {
                    indices.forEach(i -> v.add(c.number(i, "gamma", GeneralizedTaskArithmetic.DEFAULT_GAMMA, tensor, t)));
                }
                if (method == Method.DELLA || method == Method.DELLA_LINEAR) {
                    indices.forEach(i -> v.add(c.number(i, "epsilon", GeneralizedTaskArithmetic.DEFAULT_EPSILON, tensor, t)));
                }
            }
        }
        return v;
    }

    /** The merger of {@code n} candidates for one group of tensors with the given {@link #values}. */
    private Merger merger(MergeConfig c, Method method, int n, List<Double> v, ParameterSelection tensors) {
        // the candidates' weights lead the values of linear and of the task-vector methods (read only by them)
        double[] w = v.size() < n ? null : v.subList(0, n).stream().mapToDouble(Double::doubleValue).toArray();
        switch (method) {
            case LINEAR -> {
                return WeightAveraging.builder().weights(w).normalizeWeights(c.flag("normalize", true)).parameters(tensors).build();
            }
            case SLERP -> {
                return Slerp.builder().t(v.get(0)).parameters(tensors).build();
            }
            case NEARSWAP -> {
                return NearSwap.builder().t(v.get(0)).parameters(tensors).build();
            }
            case MODEL_STOCK -> {
                if (c.flag("filter_wise", false)) {
                    throw new IllegalArgumentException("parameters.filter_wise: true (one ratio per row) is not supported"
                            + " by fwmerge merge; model_stock runs per tensor (mergekit's default)");
                }
                return ModelStock.builder().parameters(tensors).build();
            }
            case KARCHER -> {
                double iterations = v.get(0);
                if (iterations != Math.rint(iterations) || iterations < 0) {
                    throw new IllegalArgumentException("parameters.max_iter must be a whole number ≥ 0, got " + iterations);
                }
                return Karcher.builder().maxIterations((int) iterations).tolerance(v.get(1)).parameters(tensors).build();
            }
            case MULTISLERP -> {
                return MultiSlerp.builder().weights(w).normalizeWeights(c.flag("normalize_weights", true))
                        .fromBase(c.base().isPresent()).parameters(tensors).build();
            }
            case NUSLERP -> {
                NuSlerp.Vectors vectors = c.flag("nuslerp_flatten", true) ? NuSlerp.Vectors.TENSOR
                        : c.flag("nuslerp_row_wise", false) ? NuSlerp.Vectors.COLUMNS : NuSlerp.Vectors.ROWS;
                return NuSlerp.builder().weights(w[0], w[1]).vectors(vectors).fromBase(c.base().isPresent()).parameters(tensors)
                        .build();
            }
            case SCE -> {
                c.flag("int8_mask", false); // mergekit's memory option: fwmerge never materialises the masks
                return Sce.builder().selectTopK(v.get(0)).parameters(tensors).build();
            }
            default -> {
                double[] rho = new double[n];
                for (int k = 0; k < n; k++) {
                    rho[k] = v.get(n + k);
                }
                c.flag("int8_mask", false); // mergekit's memory option: fwmerge never materialises the masks
                GeneralizedTaskArithmetic.Builder b = GeneralizedTaskArithmetic
                        .builder(GeneralizedTaskArithmetic.Method.valueOf(method.name())).weights(w).densities(rho)
                        .lambda(v.get(2 * n)).seed(seed).parameters(tensors);
                if (method == Method.BREADCRUMBS || method == Method.BREADCRUMBS_TIES) {
                    b.gammas(java.util.Arrays.copyOfRange(v.stream().mapToDouble(Double::doubleValue).toArray(),
                            2 * n + 1, 3 * n + 1));
                }
                if (method == Method.DELLA || method == Method.DELLA_LINEAR) {
                    b.epsilons(java.util.Arrays.copyOfRange(v.stream().mapToDouble(Double::doubleValue).toArray(),
                            2 * n + 1, 3 * n + 1));
                }
                if (c.parameters().containsKey("normalize")) {
                    b.normalize(c.flag("normalize", false));
                }
                if (c.parameters().containsKey("rescale")) {
                    b.rescale(c.flag("rescale", false));
                }
                return b.build();
            }
        }
    }

    /** The weight of a linear merge's base_model that is not among the models: the global one, as in mergekit. */
    private static double baseWeight(MergeConfig c, String tensor, double t) {
        Double w = c.number("weight", null, tensor, t);
        if (w == null) {
            throw new IllegalArgumentException("merge_method linear averages base_model " + c.base().orElseThrow().text()
                    + " in with the global parameters.weight (as mergekit does), and there is none: give"
                    + " 'parameters: {weight: W}', or list the base among the models, or drop base_model");
        }
        return w;
    }

    private static Merger frankWolfe(MergeConfig c, Checkpoint base, List<String> mergeable, List<AutoCloseable> resources,
            PrintWriter err) throws IOException {
        ConfigObjectives.Built objective = ConfigObjectives.build(c.objective(), base, mergeable, resources);
        double requested = c.number("iterations", FrankWolfeMerger.DEFAULT_MAX_ITERATIONS);
        int iterations = (int) requested;
        if (iterations != requested) {
            throw new IllegalArgumentException("parameters.iterations must be a whole number, got " + c.parameters().get("iterations"));
        }
        FrankWolfeMerger.Builder b = FrankWolfeMerger.builder().objective(objective.objective())
                .parameters(objective.tensors()).maxIterations(iterations)
                .listener((it, max) -> err.printf(Locale.ROOT, "  iteration %d/%d: loss %.6f, gap %.3e%n",
                        it.iteration() + 1, max, it.loss(), it.gap()));
        if (c.parameters().containsKey("tolerance") && c.parameters().containsKey("relative_tolerance")) {
            throw new IllegalArgumentException("parameters: give tolerance (absolute) or relative_tolerance, not both");
        }
        if (c.parameters().containsKey("tolerance")) {
            b.tolerance(Tolerance.absolute(c.number("tolerance", 0)));
        } else if (c.parameters().containsKey("relative_tolerance")) {
            b.tolerance(Tolerance.relative(c.number("relative_tolerance", 0)));
        }
        String lmo = c.string("lmo", "layer_wise");
        switch (lmo) {
            case "layer_wise" -> b.lmo(Lmo.layerWise());
            case "task_wise" -> b.lmo(Lmo.taskWise());
            default -> throw new IllegalArgumentException("parameters.lmo must be layer_wise or task_wise, got '" + lmo + "'");
        }
        String variant = c.string("variant", "hard");
        switch (variant) {
            case "hard" -> b.variant(Variant.hard(stepSize(c)));
            case "soft" -> {
                int k = (int) c.number("top_k", 0);
                SoftOptions soft = k > 0 ? SoftOptions.topK(k) : c.objective() instanceof List<?> l && l.size() > 1
                        ? SoftOptions.perTask() : SoftOptions.topK(3);
                double batch = c.number("batch_size", CoefficientOptions.DEFAULT_BATCH_SIZE);
                if (batch < 0 || batch != Math.rint(batch)) {
                    throw new IllegalArgumentException("parameters.batch_size must be a whole number ≥ 0 (0: every "
                            + "calibration sample at every step), got " + batch);
                }
                String constraint = c.string("coefficients", "capped_simplex");
                CoefficientOptions.Constraint feasible = switch (constraint) {
                    case "capped_simplex" -> CoefficientOptions.Constraint.CAPPED_SIMPLEX;
                    case "simplex" -> CoefficientOptions.Constraint.SIMPLEX;
                    case "unconstrained" -> CoefficientOptions.Constraint.UNCONSTRAINED;
                    default -> throw new IllegalArgumentException("parameters.coefficients must be capped_simplex, simplex "
                            + "or unconstrained, got '" + constraint + "'");
                };
                b.variant(Variant.soft(soft.withCoefficients(soft.coefficients().withBatchSize((int) batch).withConstraint(feasible))));
                if (c.parameters().containsKey("step_size") || c.parameters().containsKey("gamma")) {
                    throw new IllegalArgumentException("parameters.step_size and gamma apply to variant hard only");
                }
            }
            default -> throw new IllegalArgumentException("parameters.variant must be hard or soft, got '" + variant + "'");
        }
        for (String softOnly : List.of("top_k", "batch_size", "coefficients")) {
            if (variant.equals("hard") && c.parameters().containsKey(softOnly)) {
                throw new IllegalArgumentException("parameters." + softOnly + " applies to variant soft only");
            }
        }
        return b.build();
    }

    private static StepSizeRule stepSize(MergeConfig c) {
        String rule = c.string("step_size", "line_search");
        return switch (rule) {
            case "line_search" -> StepSizeRule.lineSearch();
            case "harmonic" -> StepSizeRule.harmonic(c.number("gamma", 1.0));
            case "constant" -> {
                if (!c.parameters().containsKey("gamma")) {
                    throw new IllegalArgumentException("parameters.step_size constant needs parameters.gamma");
                }
                yield StepSizeRule.constant(c.number("gamma", 0));
            }
            default -> throw new IllegalArgumentException("parameters.step_size must be line_search, harmonic or constant,"
                    + " got '" + rule + "'");
        };
    }

    private static Checkpoint open(ModelRef ref, List<Checkpoint> opened) throws IOException {
        Checkpoint c = Safetensors.open(ref.path());
        opened.add(c);
        if (ref.adapter().isPresent()) {
            Checkpoint a = Safetensors.openAdapter(c, ref.adapter().get());
            opened.add(a);
            return a;
        }
        return c;
    }

    /**
     * Refuses an OUT_DIR that is, or holds, one of the files the pool reads (shards and adapter files
     * included), before any merging: the library would refuse the write itself, but only at the end.
     */
    private void refuseOverlap(ModelPool pool) throws IOException {
        Path o = canonical(out);
        for (Path p : pool.files()) {
            if (canonical(p).startsWith(o)) {
                throw new IllegalArgumentException("the output directory " + out + " holds the input " + p
                        + "; writing there could replace it: choose another OUT_DIR");
            }
        }
    }

    /** The real path where the file exists; else the real path of its nearest existing parent plus the rest. */
    private static Path canonical(Path p) throws IOException {
        Path abs = p.toAbsolutePath().normalize();
        Path existing = abs;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        return existing == null ? abs : existing.toRealPath().resolve(existing.relativize(abs));
    }

    private void write(MergeConfig c, String text, MergeResult r, Checkpoint base, ModelRef baseRef, PrintWriter err)
            throws IOException {
        Files.createDirectories(out);
        DType dtype = c.dtype().orElseGet(() -> defaultDType(base));
        Map<String, String> meta = new LinkedHashMap<>(r.configuration());
        meta.put("fwmerge.config", text);
        err.printf(Locale.ROOT, "writing %s as %s%n", out, dtype);
        Safetensors.writeSharded(r.withUnmerged(base), out, dtype, meta, maxShardBytes);
        if (Files.isDirectory(baseRef.path())) {
            try (Stream<Path> files = Files.list(baseRef.path())) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    String name = f.getFileName().toString();
                    if (Files.isRegularFile(f) && WEIGHT_SUFFIXES.stream().noneMatch(name::endsWith) && !name.startsWith(".")
                            && !name.equals(CONFIG_COPY) && !name.startsWith("adapter_")) {
                        AtomicFiles.copy(f, out.resolve(name));
                    }
                }
            }
        }
        AtomicFiles.writeString(out.resolve(CONFIG_COPY), text);
    }

    /** The base's dtype where it is a half or single precision, else float32. */
    private static DType defaultDType(Checkpoint base) {
        for (String name : base.names()) {
            DType d = base.info(name).dtype();
            if (d == DType.F16 || d == DType.BF16 || d == DType.F32) {
                return d;
            }
        }
        return DType.F32;
    }
}
