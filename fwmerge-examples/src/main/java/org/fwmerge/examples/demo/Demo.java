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
import org.fwmerge.FrankWolfeMerger;
import org.fwmerge.Lmo;
import org.fwmerge.MergeResult;
import org.fwmerge.Merger;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.Objective;
import org.fwmerge.SoftOptions;
import org.fwmerge.examples.zoo.ProgressListener;
import org.fwmerge.examples.zoo.Zoo;
import org.fwmerge.examples.zoo.ZooConfig;
import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;

/**
 * The end-to-end demo: a zoo of 20 really fine-tuned MLPs (Fashion-MNIST and MNIST digits tasks),
 * merged with every method, in small-scale replicas of the paper's experiments (DESIGN §7):
 * <ol>
 * <li>merge all 20, evaluate on 4 tasks (paper Table 2);</li>
 * <li>4 relevant + k irrelevant models (Table 3 left);</li>
 * <li>(--full) 4…20 relevant models, evaluated on all tasks (Table 3 right);</li>
 * <li>time and peak memory of each method as the pool grows.</li>
 * </ol>
 * Writes {@code results.md} and PNG charts into the output directory.
 */
public final class Demo {

    /** The 4 evaluation tasks of experiments 1 and 2 (large fine-tuning gains, both datasets). */
    public static final List<String> EVAL_TASKS = List.of("digits_rot180", "digits_perm", "fashion_vflip", "fashion_perm");
    /** Calibration samples per task, as in the paper (~100). */
    static final int CALIBRATION = 100;
    static final long SEED = 1;
    /** FW-hard's iteration budget. */
    static final int FW_HARD_ITERATIONS = 10;
    /** FW-soft's iteration budget (each runs the coefficient descent's default 100 Adam steps). */
    static final int FW_SOFT_ITERATIONS = 5;

    private final DemoConfig cfg;
    private final PrintStream out;
    private final TensorBackend backend = TensorBackends.get();
    private Zoo zoo;
    private final Map<String, Objective> labelled = new LinkedHashMap<>();
    private final Map<String, Objective> unlabelled = new LinkedHashMap<>();

    /**
     * Demo settings.
     *
     * @param full             run every experiment at full size
     * @param outDir           where results.md and the charts go
     * @param cacheDir         the zoo cache
     * @param zoo              the zoo to build
     * @param evalTasks        the tasks of experiments 1 and 2
     * @param irrelevantCounts the numbers of irrelevant models added in experiment 2
     */
    public record DemoConfig(boolean full, Path outDir, Path cacheDir, ZooConfig zoo, List<String> evalTasks,
            List<Integer> irrelevantCounts) {
        /** Copies the lists. */
        public DemoConfig {
            evalTasks = List.copyOf(evalTasks);
            irrelevantCounts = List.copyOf(irrelevantCounts);
        }

        /** The standard run (bundled data unless a directory is given). */
        public static DemoConfig of(boolean full, Optional<Path> dataDir, Path outDir, Path cacheDir) {
            return new DemoConfig(full, outDir, cacheDir, ZooConfig.defaults().withDataDir(dataDir), EVAL_TASKS,
                    full ? List.of(0, 2, 4, 6, 8, 10, 12, 14, 16) : List.of(0, 8, 16));
        }
    }

    /** A named merging method built for a pool and an objective over the evaluation tasks. */
    record Method(String name, Function<Context, Merger> factory) {
    }

    /** What a method may use: the objectives over the evaluated tasks, and the size of the pool it merges. */
    record Context(Objective labelled, Objective unlabelled, TensorBackend backend, int poolSize) {
        Context forPool(int size) {
            return new Context(labelled, unlabelled, backend, size);
        }
    }

    /**
     * @param cfg settings
     * @param out where progress and the tables are printed
     */
    public Demo(DemoConfig cfg, PrintStream out) {
        this.cfg = Objects.requireNonNull(cfg, "cfg");
        this.out = Objects.requireNonNull(out, "out");
    }

    /** The methods compared, in table order. */
    static List<Method> methods() {
        List<Method> m = new ArrayList<>(Baselines.methods());
        m.add(new Method("FW-hard", c -> FrankWolfeMerger.builder().objective(c.labelled()).lmo(Lmo.layerWise())
                .maxIterations(FW_HARD_ITERATIONS).backend(c.backend()).build()));
        m.add(new Method("FW-soft", c -> FrankWolfeMerger.builder().objective(c.labelled()).lmo(Lmo.layerWise())
                .soft(SoftOptions.perTask()).maxIterations(FW_SOFT_ITERATIONS).backend(c.backend()).build()));
        return m;
    }

    /**
     * Runs the demo and writes the report.
     *
     * @return the path of the results file
     */
    public Path run() throws IOException {
        long start = System.nanoTime();
        Files.createDirectories(cfg.outDir());
        out.println("[1/4] model zoo (cached in " + cfg.cacheDir() + ")");
        zoo = Zoo.build(cfg.zoo(), cfg.cacheDir(), ProgressListener.line(System.err));
        Report report = new Report(cfg);
        List<String> taskNames = zoo.tasks().stream().map(t -> t.task().name()).toList();
        List<Path> checkpoints = zoo.tasks().stream().map(t -> t.checkpoint().orElseThrow()).toList();
        try (ModelPool all = ModelPool.open(zoo.baseCheckpoint().orElseThrow(), checkpoints)) {
            out.println("[2/4] experiment 1: merge all " + all.size() + " models, evaluate on " + cfg.evalTasks());
            Map<String, Map<String, Double>> table1 = new LinkedHashMap<>();
            try (Model base = zoo.baseModel(backend)) {
                table1.put("Pre-trained", accuracies(base, cfg.evalTasks()));
            }
            Map<String, Double> individual = new LinkedHashMap<>();
            for (String t : cfg.evalTasks()) {
                individual.put(t, zoo.task(t).finetunedAccuracy());
            }
            table1.put("Individual (upper bound)", individual);
            Context ctx = context(cfg.evalTasks());
            for (Method m : methods()) {
                // Not recorded for experiment 4: the first merge of each method also pays one-time costs
                // (JIT, the heap growing, ND4J and SameDiff set-up); experiment 2 has the same pool size.
                MergeResult r = measured(m, ctx, all, "all " + all.size(), null);
                table1.put(m.name(), accuracies(r.model(), cfg.evalTasks()));
                if (m.name().startsWith("FW")) {
                    report.trace(m.name(), r.iterations());
                }
                if (m.name().equals(Baselines.ADAMERGING)) {
                    report.adaMergingCoefficients(r.blocks(), Baselines.coefficientSums(r));
                }
                r.model().close();
            }
            report.table1(table1);
            printTable(table1);

            out.println("[3/4] experiment 2: 4 relevant + k irrelevant models");
            List<Integer> relevant = cfg.evalTasks().stream().map(taskNames::indexOf).toList();
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
                ModelPool pool = all.subset(idx);
                for (Method m : methods()) {
                    MergeResult r = measured(m, ctx, pool, "4 + " + k, report);
                    table2.computeIfAbsent(m.name(), x -> new LinkedHashMap<>()).put(k, mean(accuracies(r.model(), cfg.evalTasks())));
                    r.model().close();
                }
            }
            report.table2(table2);

            if (cfg.full()) {
                out.println("[3b/4] experiment 3: 4…20 relevant models, evaluated on all 20 tasks");
                Context all20 = context(taskNames);
                Map<String, Map<Integer, Double>> table3 = new LinkedHashMap<>();
                for (int n = cfg.evalTasks().size(); n <= taskNames.size(); n += 2) {
                    List<Integer> idx = new ArrayList<>();
                    for (int i = 0; i < n; i++) {
                        idx.add(i);
                    }
                    ModelPool pool = all.subset(idx);
                    for (Method m : methods()) {
                        MergeResult r = measured(m, all20, pool, n + " relevant", null);
                        table3.computeIfAbsent(m.name(), x -> new LinkedHashMap<>()).put(n, mean(accuracies(r.model(), taskNames)));
                        r.model().close();
                    }
                }
                report.table3(table3);
            }
        }
        out.println("[4/4] report");
        Path cli = exportMergeConfig(checkpoints);
        out.println("  FW-soft from the command line: java -jar fwmerge-examples/target/fwmerge.jar merge " + cli + " "
                + cfg.outDir().resolve("cli/merged"));
        Path results = report.write(zoo, (System.nanoTime() - start) / 1e9);
        out.printf("done in %.0f s%n  results: %s%n  charts:  %s%n", (System.nanoTime() - start) / 1e9,
                results.toAbsolutePath(), String.join(", ", report.charts().stream().map(p -> p.toAbsolutePath().toString()).toList()));
        return results;
    }

    /**
     * Merges with progress on stderr; with a report, records the time and peak memory (experiment 4)
     * of the merge. Builds the merger inside the measurement, so that what it sets up counts too.
     */
    private MergeResult measured(Method m, Context ctx, ModelPool pool, String label, Report report) {
        System.err.printf("\r  %-22s pool %-12s ...", m.name(), label);
        MemoryProbe probe = report == null ? null : MemoryProbe.start(backend);
        long t0 = System.nanoTime();
        MergeResult r = m.factory().apply(ctx.forPool(pool.size())).merge(pool);
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
        y.append("parameters:\n  variant: soft\n  lmo: layer_wise\n  iterations: ").append(FW_SOFT_ITERATIONS).append('\n');
        y.append("objective:   # one cross-entropy term per task: FW-soft picks one checkpoint per task\n");
        for (String t : cfg.evalTasks()) {
            List<Path> files = zoo.exportCalibrationObjective(t, CALIBRATION, SEED, dir);
            y.append("  - graph: ").append(files.get(0)).append('\n');
            y.append("    calibration: ").append(files.get(1)).append('\n');
        }
        y.append("dtype: float32\n");
        Path file = dir.resolve("frank-wolfe.yaml");
        Files.writeString(file, y.toString());
        return file;
    }

    /** Sum of per-task calibration losses (labelled and entropy), built once per task. */
    private Context context(List<String> tasks) {
        List<Objective> l = new ArrayList<>();
        List<Objective> u = new ArrayList<>();
        for (String t : tasks) {
            l.add(labelled.computeIfAbsent(t, x -> zoo.calibrationObjective(x, CALIBRATION, SEED, false)));
            u.add(unlabelled.computeIfAbsent(t, x -> zoo.calibrationObjective(x, CALIBRATION, SEED, true)));
        }
        return new Context(Objective.sum(l), Objective.sum(u), backend, 0);
    }

    private Map<String, Double> accuracies(Model trunk, List<String> tasks) {
        Map<String, Double> acc = new LinkedHashMap<>();
        for (String t : tasks) {
            acc.put(t, zoo.accuracy(trunk, t));
        }
        return acc;
    }

    static double mean(Map<String, Double> m) {
        return m.values().stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    }

    private void printTable(Map<String, Map<String, Double>> table) {
        out.printf("  %-26s", "method");
        cfg.evalTasks().forEach(t -> out.printf(" %14s", t));
        out.printf(" %8s%n", "mean");
        table.forEach((name, acc) -> {
            out.printf("  %-26s", name);
            cfg.evalTasks().forEach(t -> out.printf(" %14.3f", acc.get(t)));
            out.printf(" %8.3f%n", mean(acc));
        });
    }
}
