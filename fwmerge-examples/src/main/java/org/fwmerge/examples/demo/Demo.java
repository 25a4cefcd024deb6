package org.fwmerge.examples.demo;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;
import org.fwmerge.CoefficientOptions;
import org.fwmerge.FrankWolfeMerger;
import org.fwmerge.InitialPoint;
import org.fwmerge.LayerInputs;
import org.fwmerge.Lmo;
import org.fwmerge.MergeResult;
import org.fwmerge.Merger;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.Objective;
import org.fwmerge.ParameterSelection;
import org.fwmerge.SoftOptions;
import org.fwmerge.Variant;
import org.fwmerge.examples.zoo.MisinitializedModel;
import org.fwmerge.examples.zoo.ProgressListener;
import org.fwmerge.examples.zoo.TaskModel;
import org.fwmerge.examples.zoo.VitZoo;
import org.fwmerge.examples.zoo.Zoo;
import org.fwmerge.examples.zoo.ZooConfig;
import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;

/**
 * The end-to-end demo: a zoo of 20 really fine-tuned MLPs (Fashion-MNIST and MNIST digits tasks),
 * merged with every method, in small-scale replicas of the paper's experiments:
 * <ol>
 * <li>merge all 20, evaluate on 4 tasks (paper Table 2);</li>
 * <li>4 relevant + k irrelevant models (Table 3 left);</li>
 * <li>4…20 relevant models, evaluated on all tasks (Table 3 right);</li>
 * <li>a misinitialised candidate joins the 4 relevant ones (Fig. 1c);</li>
 * <li>the tasks' LoRA adapters, read in PEFT's layout, merged (§4);</li>
 * <li>experiments 1-3 again on a zoo of small ViTs in Hugging Face's layout ({@link VitZoo}), whose
 *     objectives are exported gradient graphs run by ONNX Runtime;</li>
 * </ol>
 * and the time and peak memory of each method as the pool grows (the merges of experiment 2). Writes
 * {@code results.md}, {@code results.json} and PNG charts into the output directory.
 */
public final class Demo {

    /** The 4 evaluation tasks of experiments 1, 2, 4 and 5 (large fine-tuning gains, both datasets). */
    public static final List<String> EVAL_TASKS = List.of("digits_rot90", "digits_perm1", "fashion_vflip", "fashion_perm1");
    /** Calibration samples per task, as in the paper (~100). */
    static final int CALIBRATION = 100;
    /** FW-hard's iteration budget. */
    static final int FW_HARD_ITERATIONS = 10;
    /** FW-soft's iteration budget (each runs the coefficient descent's default 100 Adam steps). */
    static final int FW_SOFT_ITERATIONS = 5;
    /**
     * The data-informed methods experiment 3 runs by default beside the data-free ones: FW-soft, the
     * subject, and RegMean, which costs no more than a data-free merge.
     */
    static final List<String> EXPERIMENT_3_DEFAULT = List.of("FW-soft", Baselines.REGMEAN, Baselines.REGMEAN_PLUS_PLUS);
    /**
     * FW-soft's coefficients as the authors' code optimises them, unconstrained: on the library's default
     * capped simplex the merge stays in the convex hull of the checkpoints, where n task vectors share a
     * total weight of 1, so adding relevant models dilutes each one (experiment 3 measured 0.570 → 0.596
     * from 4 to 20 models, against 0.566 → 0.665 unconstrained).
     */
    static final CoefficientOptions FW_SOFT_COEFFICIENTS = CoefficientOptions.defaults()
            .withConstraint(CoefficientOptions.Constraint.UNCONSTRAINED)
            // The zoos' models are small (2 MB, 80 kB): the selected directions stay in memory instead of being
            // read from the checkpoints at each of the 100 steps (FW-soft on the MLP zoo 12 % faster).
            .withResidentDirections(true);

    private final DemoConfig cfg;
    private final PrintStream out;
    private final TensorBackend backend = TensorBackends.get();
    private Zoo zoo;
    private long started;
    private final Map<String, Context> contexts = new LinkedHashMap<>();
    private final Map<String, LayerInputs> layerInputs = new LinkedHashMap<>();

    /**
     * Demo settings.
     *
     * @param full             run every experiment at full size (more points, every method in experiment 3)
     * @param outDir           where results.md, results.json and the charts go
     * @param cacheDir         the zoo cache
     * @param zoo              the zoo to build (its seed is the demo's: it also draws the calibration samples)
     * @param evalTasks        the tasks of experiments 1, 2, 4 and 5
     * @param irrelevantCounts the numbers of irrelevant models added in experiment 2
     * @param relevantCounts   the numbers of relevant models in experiment 3
     */
    public record DemoConfig(boolean full, Path outDir, Path cacheDir, ZooConfig zoo, List<String> evalTasks,
            List<Integer> irrelevantCounts, List<Integer> relevantCounts) {
        /** Copies the lists. */
        public DemoConfig {
            evalTasks = List.copyOf(evalTasks);
            irrelevantCounts = List.copyOf(irrelevantCounts);
            relevantCounts = List.copyOf(relevantCounts);
        }

        /**
         * The standard run for a seed (bundled data unless a directory is given); the zoo is cached in
         * {@code cacheRoot/seed-<seed>}, so runs of several seeds keep their zoos.
         */
        public static DemoConfig of(boolean full, long seed, Optional<Path> dataDir, Path outDir, Path cacheRoot) {
            return new DemoConfig(full, outDir, cacheRoot.resolve("seed-" + seed),
                    ZooConfig.defaults(seed).withDataDir(dataDir), EVAL_TASKS,
                    full ? List.of(0, 2, 4, 6, 8, 10, 12, 14, 16) : List.of(0, 8, 16),
                    full ? List.of(4, 6, 8, 10, 12, 14, 16, 18, 20) : List.of(4, 12, 20));
        }

        /** The seed of the zoo and of the calibration samples. */
        public long seed() {
            return zoo.seed();
        }
    }

    /**
     * A named merging method built for a pool and an objective over the evaluation tasks.
     *
     * @param dataFree whether it merges from the checkpoints alone (no calibration data)
     */
    record Method(String name, boolean dataFree, Function<Context, Merger> factory) {
    }

    /**
     * What a method may use: the objectives over the evaluated tasks, the tensors it merges, the tasks of
     * the pool's candidates (in its order) and each task's layer inputs on its own calibration samples
     * (RegMean's data).
     */
    record Context(Objective labelled, Objective unlabelled, ParameterSelection parameters, TensorBackend backend,
            List<String> poolTasks, RegMeanData regMean) {
        Context forPool(List<String> tasks) {
            return new Context(labelled, unlabelled, parameters, backend, List.copyOf(tasks), regMean);
        }

        int poolSize() {
            return poolTasks.size();
        }

        /** The pool's candidates' layer inputs, in its order. */
        List<LayerInputs> poolInputs() {
            return poolTasks.stream().map(regMean.inputs()).toList();
        }
    }

    /**
     * What RegMean needs from a zoo: a task's layer inputs on its own calibration samples, and the
     * layers' blocks in forward order (RegMean++ merges them one after another).
     */
    record RegMeanData(Function<String, LayerInputs> inputs, List<ParameterSelection> blocks) {
    }

    /**
     * A zoo as the experiments see it: its tasks, checkpoints, objectives and how a merge is scored. The
     * MLP zoo and the ViT zoo (experiment 6) are two.
     */
    interface ZooView {
        /** The task names in the zoo's order (experiment 3 adds models in it). */
        List<String> taskNames();

        /** The pre-trained checkpoint, base of every pool. */
        Path base();

        /** The task's fine-tuned checkpoint. */
        Path checkpoint(String task);

        /** The merged tensors of the pre-trained model (the "Pre-trained" row). */
        Model baseModel(TensorBackend backend) throws IOException;

        /** Test accuracy of merged tensors on a task (with the task's head); called for several tasks at once. */
        double accuracy(Model merged, String task);

        /** Test accuracy of the task's own fine-tuned model. */
        double finetunedAccuracy(String task);

        /** The objectives over {@code tasks} and the merged tensors (built once per task list). */
        Context context(List<String> tasks, TensorBackend backend);
    }

    /**
     * @param cfg settings
     * @param out where progress and the tables are printed
     */
    public Demo(DemoConfig cfg, PrintStream out) {
        this.cfg = Objects.requireNonNull(cfg, "cfg");
        this.out = Objects.requireNonNull(out, "out");
    }

    /** The methods compared on a zoo, in table order. */
    static List<Method> methods(ZooView z) {
        List<Method> m = new ArrayList<>(Baselines.methods());
        m.add(new Method("FW-hard", false, c -> fwHard(c, InitialPoint.base())));
        m.add(new Method("FW-soft", false, c -> fwSoft(c, InitialPoint.base())));
        return m;
    }

    private static Merger fwHard(Context c, InitialPoint start) {
        return FrankWolfeMerger.builder().objective(c.labelled()).lmo(Lmo.layerWise()).maxIterations(FW_HARD_ITERATIONS)
                .initialPoint(start).parameters(c.parameters()).backend(c.backend()).build();
    }

    private static Merger fwSoft(Context c, InitialPoint start) {
        return FrankWolfeMerger.builder().objective(c.labelled()).lmo(Lmo.layerWise())
                .variant(Variant.soft(SoftOptions.perTask().withCoefficients(FW_SOFT_COEFFICIENTS))).maxIterations(FW_SOFT_ITERATIONS)
                .initialPoint(start).parameters(c.parameters()).backend(c.backend()).build();
    }

    /**
     * FW-hard and FW-soft started from a data-free method's merge (the paper's "orthogonal" use: FW on top of
     * another method), named "FW-hard (from TSV-M)" and so on.
     */
    static List<Method> onTopOf(Method start) {
        return List.of(
                new Method("FW-hard (from " + start.name() + ")", false,
                        c -> fwHard(c, InitialPoint.from(start.factory().apply(c)))),
                new Method("FW-soft (from " + start.name() + ")", false,
                        c -> fwSoft(c, InitialPoint.from(start.factory().apply(c)))));
    }

    /**
     * Runs the demo and writes the report.
     *
     * @return the path of the results file
     */
    public Path run() throws IOException {
        long start = System.nanoTime();
        started = start;
        Files.createDirectories(cfg.outDir());
        out.println("[1/8] model zoo, seed " + cfg.seed() + " (cached in " + cfg.cacheDir() + ")");
        zoo = Zoo.build(cfg.zoo(), cfg.cacheDir(), ProgressListener.line(System.err));
        out.printf("  ready in %.0f s; %d tasks: pre-trained mean accuracy %.3f, fine-tuned %.3f; calibration: %d "
                + "samples per task%n", (System.nanoTime() - start) / 1e9, zoo.tasks().size(), zoo.tasks().stream().mapToDouble(TaskModel::pretrainedAccuracy).average().orElse(0),
                zoo.tasks().stream().mapToDouble(TaskModel::finetunedAccuracy).average().orElse(0), CALIBRATION);
        Report report = new Report(cfg);
        ZooView mlp = mlpView();
        List<String> taskNames = mlp.taskNames();
        List<Path> checkpoints = taskNames.stream().map(mlp::checkpoint).toList();
        List<Integer> relevant = cfg.evalTasks().stream().map(taskNames::indexOf).toList();
        Map<String, Double> without = new LinkedHashMap<>();
        Map<String, Map<Integer, Double>> table2 = experiments(mlp, report.mlp(), report, "[2/8]", "[3/8]", "[4/8]");
        for (Method m : methods(mlp)) {
            // Experiment 4's reference: the 4 relevant models alone (experiment 2's first point when it is 0).
            Double alone = table2.get(m.name()).get(0);
            if (alone == null) {
                try (ModelPool pool = ModelPool.open(mlp.base(), relevant.stream().map(checkpoints::get).toList())) {
                    alone = mergeAndScore(m, mlp, cfg.evalTasks(), pool, cfg.evalTasks(), "4 relevant", null);
                }
            }
            without.put(m.name(), alone);
        }

        MisinitializedModel mis = zoo.misinitialized().orElseThrow(() -> new IllegalStateException(
                "the demo's zoo configuration has no misinitialised model"));
        out.printf("[5/8] experiment 4: a model of %s fine-tuned from another initialisation (accuracy %.3f on its "
                + "own) joins the 4 relevant ones%s%n", mis.task(), mis.accuracy(), at());
        List<Path> withMis = new ArrayList<>(relevant.stream().map(checkpoints::get).toList());
        withMis.add(mis.checkpoint().orElseThrow());
        try (ModelPool pool = ModelPool.open(zoo.baseCheckpoint().orElseThrow(), withMis)) {
            Map<String, Double> with = new LinkedHashMap<>();
            List<String> poolTasks = new ArrayList<>(cfg.evalTasks());
            poolTasks.add(mis.task());
            for (Method m : methods(mlp)) {
                with.put(m.name(), mergeAndScore(m, mlp, cfg.evalTasks(), pool, poolTasks, "4 + misinit", null));
            }
            report.misinitialized(mis, without, with);
        }

        out.println("[6/8] experiment 5: the " + taskNames.size() + " tasks' LoRA adapters (PEFT layout) merged" + at());
        List<Path> adapters = zoo.tasks().stream().map(t -> t.adapter().orElseThrow(() -> new IllegalStateException(
                "the demo's zoo configuration has no LoRA adapters")).dir().orElseThrow()).toList();
        try (ModelPool pool = ModelPool.open(zoo.baseCheckpoint().orElseThrow(), adapters)) {
            report.lora(mergeAll(pool, taskNames, mlp, "LoRA " + pool.size(), t -> zoo.task(t).adapter().orElseThrow().accuracy(), null));
        }

        long vitStart = System.nanoTime();
        out.println("[7/8] experiment 6: a ViT zoo (Hugging Face ViTForImageClassification, trained in Java through"
                + " its exported gradient graph), experiments 1-3 on it (cached in " + cfg.cacheDir().resolve("vit") + ")" + at());
        try (VitZoo vit = VitZoo.build(cfg.zoo(), cfg.cacheDir().resolve("vit"), ProgressListener.line(System.err))) {
            out.printf("  ready in %.0f s; %d tasks: pre-trained mean accuracy %.3f, fine-tuned %.3f%n",
                    (System.nanoTime() - vitStart) / 1e9, vit.taskNames().size(),
                    vit.taskNames().stream().mapToDouble(vit::pretrainedAccuracy).average().orElse(0),
                    vit.taskNames().stream().mapToDouble(vit::finetunedAccuracy).average().orElse(0));
            report.vitZoo(vit);
            experiments(vitView(vit), report.vit(), null, "  6.1", "  6.2", "  6.3");
        }

        out.println("[8/8] report" + at());
        Path cli = exportMergeConfig(checkpoints);
        out.println("  FW-soft from the command line: java -jar fwmerge-examples/target/fwmerge.jar merge " + cli + " "
                + cfg.outDir().resolve("cli/merged"));
        Path results = report.write(zoo, (System.nanoTime() - start) / 1e9);
        out.printf("done in %.0f s%n  results: %s (and results.json)%n  charts:  %s%n", (System.nanoTime() - start) / 1e9,
                results.toAbsolutePath(), String.join(", ", report.charts().stream().map(p -> p.toAbsolutePath().toString()).toList()));
        return results;
    }

    /**
     * Experiments 1-3 on a zoo: all models merged (accuracy on the evaluation tasks), 4 relevant + k
     * irrelevant, n relevant (evaluated on all tasks). With {@code costs}, experiment 2's merges are
     * timed into it.
     *
     * @return experiment 2's table (method → k → mean accuracy)
     */
    private Map<String, Map<Integer, Double>> experiments(ZooView z, Report.Experiments into, Report costs,
            String... steps) throws IOException {
        List<String> taskNames = z.taskNames();
        List<Path> checkpoints = taskNames.stream().map(z::checkpoint).toList();
        List<Integer> relevant = cfg.evalTasks().stream().map(taskNames::indexOf).toList();
        try (ModelPool all = ModelPool.open(z.base(), checkpoints)) {
            out.println(steps[0] + " experiment 1: merge all " + all.size() + " models, evaluate on " + cfg.evalTasks() + at());
            into.table1(mergeAll(all, taskNames, z, "all " + all.size(), z::finetunedAccuracy, into));

            out.println(steps[1] + " experiment 2: 4 relevant + k irrelevant models" + at());
            List<Integer> irrelevant = new ArrayList<>();
            for (int i = 0; i < taskNames.size(); i++) {
                if (!relevant.contains(i)) {
                    irrelevant.add(i);
                }
            }
            Map<String, Map<Integer, Double>> table2 = new LinkedHashMap<>();
            for (int k : cfg.irrelevantCounts()) {
                List<Integer> idx = new ArrayList<>(relevant);
                idx.addAll(irrelevant.subList(0, Math.min(k, irrelevant.size())));
                for (Method m : methods(z)) {
                    table2.computeIfAbsent(m.name(), x -> new LinkedHashMap<>())
                            .put(k, mergeAndScore(m, z, cfg.evalTasks(), all.subset(idx), names(taskNames, idx), "4 + " + k, costs));
                }
            }
            into.table2(table2);

            out.println(steps[2] + " experiment 3: n relevant models, evaluated on all " + taskNames.size() + " tasks"
                    + (cfg.full() ? "" : " (" + String.join(", ", EXPERIMENT_3_DEFAULT) + " and the data-free baselines; --full runs every method)")
                    + at());
            Map<String, Map<Integer, Double>> table3 = new LinkedHashMap<>();
            for (int n : cfg.relevantCounts()) {
                List<Integer> idx = new ArrayList<>();
                for (int i = 0; i < Math.min(n, taskNames.size()); i++) {
                    idx.add(i);
                }
                for (Method m : methods(z)) {
                    if (cfg.full() || m.dataFree() || EXPERIMENT_3_DEFAULT.contains(m.name())) {
                        table3.computeIfAbsent(m.name(), x -> new LinkedHashMap<>())
                                .put(n, mergeAndScore(m, z, taskNames, all.subset(idx), names(taskNames, idx), n + " relevant", null));
                    }
                }
            }
            into.table3(table3);
            return table2;
        }
    }

    /** The MLP zoo: trunks merged, each task scored with its zero-shot head. */
    private ZooView mlpView() {
        return new ZooView() {
            @Override
            public List<String> taskNames() {
                return zoo.tasks().stream().map(t -> t.task().name()).toList();
            }

            @Override
            public Path base() {
                return zoo.baseCheckpoint().orElseThrow();
            }

            @Override
            public Path checkpoint(String task) {
                return zoo.task(task).checkpoint().orElseThrow();
            }

            @Override
            public Model baseModel(TensorBackend b) {
                return zoo.baseModel(b);
            }

            @Override
            public double accuracy(Model merged, String task) {
                return zoo.accuracy(merged, task);
            }

            @Override
            public double finetunedAccuracy(String task) {
                return zoo.task(task).finetunedAccuracy();
            }

            @Override
            public Context context(List<String> tasks, TensorBackend b) {
                return contexts.computeIfAbsent("mlp:" + tasks, k -> new Context(
                        zoo.calibrationObjective(tasks, CALIBRATION, cfg.seed(), false),
                        zoo.calibrationObjective(tasks, CALIBRATION, cfg.seed(), true), ParameterSelection.all(), b, List.of(),
                        new RegMeanData(t -> layerInputs.computeIfAbsent(t, x -> zoo.layerInputs(x, CALIBRATION, cfg.seed())),
                                List.of(ParameterSelection.include("trunk\\.0\\..*"), ParameterSelection.include("trunk\\.1\\..*")))));
            }

        };
    }

    /** The ViT zoo: encoders merged, each task calibrated and scored with its own head. */
    private ZooView vitView(VitZoo vit) {
        return new ZooView() {
            @Override
            public List<String> taskNames() {
                return vit.taskNames();
            }

            @Override
            public Path base() {
                return vit.baseDir();
            }

            @Override
            public Path checkpoint(String task) {
                return vit.taskDir(task);
            }

            @Override
            public Model baseModel(TensorBackend b) throws IOException {
                return vit.baseModel(b);
            }

            @Override
            public double accuracy(Model merged, String task) {
                return vit.accuracy(merged, task);
            }

            @Override
            public double finetunedAccuracy(String task) {
                return vit.finetunedAccuracy(task);
            }

            @Override
            public Context context(List<String> tasks, TensorBackend b) {
                return new Context(vit.objective(tasks, false), vit.objective(tasks, true), VitZoo.encoder(), b, List.of(),
                        new RegMeanData(vit::layerInputs, VitZoo.blocks()));
            }

        };
    }

    /**
     * Experiments 1 and 5: every method on the pool, accuracy on the evaluation tasks, with the
     * pre-trained model and the individual models ({@code individual}: a task's own model's accuracy)
     * as reference rows; with {@code traces}, FW's traces and AdaMerging's coefficients are recorded.
     */
    private Map<String, Map<String, Double>> mergeAll(ModelPool pool, List<String> poolTasks, ZooView z, String label,
            Function<String, Double> individual, Report.Experiments traces) throws IOException {
        Map<String, Map<String, Double>> table = new LinkedHashMap<>();
        try (Model base = z.baseModel(backend)) {
            table.put(Report.PRETRAINED, accuracies(z, base, cfg.evalTasks()));
        }
        Map<String, Double> ind = new LinkedHashMap<>();
        cfg.evalTasks().forEach(t -> ind.put(t, individual.apply(t)));
        table.put(Report.INDIVIDUAL, ind);
        Context ctx = z.context(cfg.evalTasks(), backend);
        // The starts for FW on top: the data-free merge with the lowest calibration loss (FW's own
        // objective, so the choice sees no test data), and a data-informed baseline if one does better still.
        Method bestFree = null;
        Method bestInformed = null;
        double freeLoss = Double.POSITIVE_INFINITY;
        double informedLoss = Double.POSITIVE_INFINITY;
        List<Method> methods = new ArrayList<>(methods(z));
        int plain = methods.size();
        int baselines = Baselines.methods().size();
        for (int i = 0; i < methods.size(); i++) {
            Method m = methods.get(i);
            // Not recorded for the cost table: the first merge of each method also pays one-time costs
            // (JIT, the heap growing, ND4J and SameDiff set-up); experiment 2 has the same pool size.
            MergeResult r = measured(m, ctx.forPool(poolTasks), pool, label, null);
            table.put(m.name(), accuracies(z, r.model(), cfg.evalTasks()));
            if (traces != null && (m.name().equals("FW-hard") || m.name().equals("FW-soft"))) {
                traces.trace(m.name(), r.iterations());
            }
            if (traces != null && m.name().equals(Baselines.ADAMERGING)) {
                traces.adaMergingCoefficients(r.blocks(), Baselines.coefficientSums(r));
            }
            if (traces != null && i < baselines) {
                double loss = ctx.labelled().loss(r.model());
                if (m.dataFree() && loss < freeLoss) {
                    freeLoss = loss;
                    bestFree = m;
                } else if (!m.dataFree() && loss < informedLoss) {
                    informedLoss = loss;
                    bestInformed = m;
                }
            }
            r.model().close();
            if (traces != null && bestFree != null && i == plain - 1) {
                out.printf("  FW on top of %s (lowest calibration loss of the data-free merges, %.4f)%n", bestFree.name(), freeLoss);
                traces.onTopOf(bestFree.name());
                methods.addAll(onTopOf(bestFree));
                if (bestInformed != null && informedLoss < freeLoss) {
                    out.printf("  and of %s (a data-informed baseline with a lower calibration loss, %.4f)%n",
                            bestInformed.name(), informedLoss);
                    traces.onTopOf(bestInformed.name());
                    methods.addAll(onTopOf(bestInformed));
                }
            }
        }
        printTable(table);
        return table;
    }

    /**
     * One merge, its mean accuracy over {@code tasks} (the objective's tasks too); with a report, its cost.
     * {@code poolTasks}: the task of each of the pool's candidates, in its order.
     */
    private double mergeAndScore(Method m, ZooView z, List<String> tasks, ModelPool pool, List<String> poolTasks, String label,
            Report report) {
        MergeResult r = measured(m, z.context(tasks, backend).forPool(poolTasks), pool, label, report);
        try (Model merged = r.model()) {
            return mean(accuracies(z, merged, tasks));
        }
    }

    /**
     * Merges with progress on stderr; with a report, records the time and peak memory (experiment 4)
     * of the merge. Builds the merger inside the measurement, so that what it sets up counts too.
     */
    private MergeResult measured(Method m, Context ctx, ModelPool pool, String label, Report report) {
        System.err.printf("\r  %-22s pool %-12s ...", m.name(), label);
        MemoryProbe probe = report == null ? null : MemoryProbe.start(backend);
        long t0 = System.nanoTime();
        if (ctx.poolSize() != pool.size()) {
            throw new IllegalStateException(label + ": " + ctx.poolSize() + " tasks for a pool of " + pool.size());
        }
        MergeResult r = m.factory().apply(ctx).merge(pool);
        long nanos = System.nanoTime() - t0;
        System.err.printf("\r  %-22s pool %-12s %6.1f s%n", m.name(), label, nanos / 1e9);
        if (report != null) {
            report.cost(m.name(), pool.size(), nanos / 1_000_000, probe.stop());
        }
        return r;
    }

    /**
     * Writes {@code cli/frank-wolfe.yaml} and its objective files into the output directory: experiment
     * 1's FW-soft (all checkpoints, cross-entropy on the evaluation tasks' calibration samples) as a
     * configuration for {@code fwmerge merge}. Paths are as the demo was given them (relative to the
     * working directory, like mergekit's).
     */
    private Path exportMergeConfig(List<Path> checkpoints) throws IOException {
        Path dir = cfg.outDir().resolve("cli");
        StringBuilder y = new StringBuilder();
        y.append("# FW-soft over the demo's zoo, as experiment 1 runs it; written by the demo.\n");
        y.append("merge_method: frank_wolfe\n");
        y.append("base_model: ").append(zoo.baseCheckpoint().orElseThrow()).append('\n');
        y.append("models:\n");
        checkpoints.forEach(c -> y.append("  - model: ").append(c).append('\n'));
        y.append("parameters:\n  variant: soft\n  lmo: layer_wise\n  coefficients: unconstrained\n  iterations: ")
                .append(FW_SOFT_ITERATIONS).append('\n');
        y.append("objective:   # one cross-entropy term per task: FW-soft picks one checkpoint per task\n");
        for (String t : cfg.evalTasks()) {
            List<Path> files = zoo.exportCalibrationObjective(t, CALIBRATION, cfg.seed(), dir);
            y.append("  - graph: ").append(files.get(0)).append('\n');
            y.append("    calibration: ").append(files.get(1)).append('\n');
        }
        y.append("dtype: float32\n");
        Path file = dir.resolve("frank-wolfe.yaml");
        Files.writeString(file, y.toString());
        return file;
    }

    /** The time since the demo started, for the step headings. */
    private String at() {
        return String.format(" [%.0f s]", (System.nanoTime() - started) / 1e9);
    }

    private static List<String> names(List<String> taskNames, List<Integer> idx) {
        return idx.stream().map(taskNames::get).toList();
    }

    /** The merge's accuracy on each task, the tasks evaluated side by side (20 test sets in experiment 3). */
    private static Map<String, Double> accuracies(ZooView z, Model merged, List<String> tasks) {
        List<Double> values = tasks.parallelStream().map(t -> z.accuracy(merged, t)).toList();
        Map<String, Double> acc = new LinkedHashMap<>();
        for (int i = 0; i < tasks.size(); i++) {
            acc.put(tasks.get(i), values.get(i));
        }
        return acc;
    }

    static double mean(Map<String, Double> m) {
        return m.values().stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    }

    private void printTable(Map<String, Map<String, Double>> table) {
        String label = "  %-" + Math.max(26, table.keySet().stream().mapToInt(String::length).max().orElse(0)) + "s";
        out.printf(label, "method");
        cfg.evalTasks().forEach(t -> out.printf(" %14s", t));
        out.printf(" %8s%n", "mean");
        table.forEach((name, acc) -> {
            out.printf(label, name);
            cfg.evalTasks().forEach(t -> out.printf(" %14.3f", acc.get(t)));
            out.printf(" %8.3f%n", mean(acc));
        });
    }
}
