package org.fwmerge.examples.demo;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.ToDoubleFunction;
import org.fwmerge.CoefficientOptions;
import org.fwmerge.IterationRecord;
import org.fwmerge.baseline.AdaMerging;
import org.fwmerge.baseline.TaskArithmetic;
import org.fwmerge.examples.zoo.MisinitializedModel;
import org.fwmerge.examples.zoo.TaskModel;
import org.fwmerge.examples.zoo.VitZoo;
import org.fwmerge.examples.zoo.Zoo;
import org.fwmerge.io.AtomicFiles;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;

/** Collects the demo's tables and traces; writes {@code results.md} and the PNG charts. */
final class Report {
    /** Reference rows of experiments 1 and 5. */
    static final String PRETRAINED = "Pre-trained";
    static final String INDIVIDUAL = "Individual (upper bound)";

    /** The tables of experiments 1-3 on one zoo, with experiment 1's FW traces and AdaMerging's weights. */
    static final class Experiments {
        private final Map<String, List<IterationRecord>> traces = new LinkedHashMap<>();
        private List<String> adaBlocks = List.of();
        private double[] adaSums;
        private Map<String, Map<String, Double>> table1 = Map.of();
        private Map<String, Map<Integer, Double>> table2 = Map.of();
        private Map<String, Map<Integer, Double>> table3 = Map.of();
        private final List<String> fwStarts = new ArrayList<>();

        void trace(String method, List<IterationRecord> records) {
            traces.put(method, records);
        }

        /** Σ_i λ_{i,b} per block after AdaMerging in experiment 1 (1 at the start). */
        void adaMergingCoefficients(List<String> blocks, double[] sums) {
            adaBlocks = List.copyOf(blocks);
            adaSums = sums.clone();
        }

        void table1(Map<String, Map<String, Double>> t) {
            table1 = t;
        }

        /**
         * A baseline FW ran on top of in experiment 1: the data-free one with the lowest calibration loss,
         * then the data-informed one where its loss is lower still.
         */
        void onTopOf(String method) {
            fwStarts.add(method);
        }

        void table2(Map<String, Map<Integer, Double>> t) {
            table2 = t;
        }

        void table3(Map<String, Map<Integer, Double>> t) {
            table3 = t;
        }
    }

    private final Demo.DemoConfig cfg;
    private final Experiments mlp = new Experiments();
    private final Experiments vit = new Experiments();
    /** The ViT zoo's tasks: name → {pre-trained, fine-tuned} accuracy. */
    private final Map<String, double[]> vitZoo = new LinkedHashMap<>();
    private final Map<String, Map<Integer, Double>> millis = new LinkedHashMap<>();
    private final Map<String, Map<Integer, Double>> tensorMb = new LinkedHashMap<>();
    private final Map<String, Map<Integer, Double>> processMb = new LinkedHashMap<>();
    private MisinitializedModel misinitialized;
    private Map<String, Double> withoutMisinitialized = Map.of();
    private Map<String, Double> withMisinitialized = Map.of();
    private Map<String, Map<String, Double>> lora = Map.of();
    private final List<Path> charts = new ArrayList<>();

    Report(Demo.DemoConfig cfg) {
        this.cfg = cfg;
    }

    /** Experiments 1-3 on the MLP zoo. */
    Experiments mlp() {
        return mlp;
    }

    /** Experiments 1-3 on the ViT zoo (experiment 6). */
    Experiments vit() {
        return vit;
    }

    /** The ViT zoo's per-task accuracies. */
    void vitZoo(VitZoo zoo) {
        for (String t : zoo.taskNames()) {
            vitZoo.put(t, new double[] {zoo.pretrainedAccuracy(t), zoo.finetunedAccuracy(t)});
        }
    }

    /** Records one merge's cost (experiment 4). */
    void cost(String method, int poolSize, long ms, MemoryProbe.Peak peak) {
        put(millis, method, poolSize, ms);
        if (peak.tensorBytes() >= 0) {
            put(tensorMb, method, poolSize, peak.tensorBytes() / 1e6);
        }
        if (peak.processBytes() >= 0) {
            put(processMb, method, poolSize, peak.processBytes() / 1e6);
        }
    }

    /** Several merges of one size (experiment 2 with k beyond the pool) keep the largest figure. */
    private static void put(Map<String, Map<Integer, Double>> table, String method, int poolSize, double value) {
        table.computeIfAbsent(method, m -> new TreeMap<>()).merge(poolSize, value, Math::max);
    }

    /** Experiment 4: each method's mean accuracy on the 4 relevant models without and with the misinitialised one. */
    void misinitialized(MisinitializedModel model, Map<String, Double> without, Map<String, Double> with) {
        misinitialized = model;
        withoutMisinitialized = without;
        withMisinitialized = with;
    }

    /** Experiment 5: per-task accuracies of the LoRA merges, with reference rows. */
    void lora(Map<String, Map<String, Double>> t) {
        lora = t;
    }

    List<Path> charts() {
        return charts;
    }

    Path write(Zoo zoo, double seconds) throws IOException {
        StringBuilder md = new StringBuilder("# fwmerge demo results\n\n");
        double modelMb = zoo.baseTrunk().values().stream().mapToLong(v -> v.length).sum() * (double) Float.BYTES / 1e6;
        md.append(String.format("Run: %s, seed %d, %.0f s, data: %s, zoo: %s.%n%n", cfg.full() ? "--full" : "default",
                cfg.seed(), seconds,
                zoo.dataOrigin(), cfg.zoo().provenance()));
        md.append(String.format("Settings: calibration %d samples per task (training split, seed %d); objectives are "
                + "the mean over the evaluated tasks, cross-entropy for FW, prediction entropy for AdaMerging. FW-hard: layer-wise, line search, %d iterations. FW-soft: "
                + "layer-wise, one vertex per task, %d iterations × %d Adam steps (lr %s, minibatches of %d samples per task) on "
                + "unconstrained coefficients, as the authors' code (the library's default projects them onto {λ ≥ 0, Σλ ≤ 1}, "
                + "which keeps the merge in the checkpoints' convex hull). AdaMerging: layer-wise, λ from 1/n, %d Adam steps (lr %s). TA, TIES, DARE: λ = %s.%n%n",
                Demo.CALIBRATION, cfg.seed(), Demo.FW_HARD_ITERATIONS, Demo.FW_SOFT_ITERATIONS,
                CoefficientOptions.DEFAULT_STEPS, CoefficientOptions.DEFAULT_LEARNING_RATE,
                CoefficientOptions.DEFAULT_BATCH_SIZE, Baselines.ADAMERGING_STEPS,
                AdaMerging.DEFAULT_LEARNING_RATE, TaskArithmetic.DEFAULT_SCALING));
        md.append("## The zoo: accuracy on each task's test split\n\n");
        md.append("| task | classes | pre-trained (zero-shot head) | fine-tuned | LoRA |\n|---|---|---|---|---|\n");
        for (TaskModel t : zoo.tasks()) {
            md.append(String.format("| %s | %d | %.3f | %.3f | %s |%n", t.task().name(), t.task().classes(),
                    t.pretrainedAccuracy(), t.finetunedAccuracy(),
                    t.adapter().map(a -> String.format("%.3f", a.accuracy())).orElse("")));
        }
        md.append(String.format("| mean | | %.3f | %.3f | %s |%n",
                zoo.tasks().stream().mapToDouble(TaskModel::pretrainedAccuracy).average().orElse(Double.NaN),
                zoo.tasks().stream().mapToDouble(TaskModel::finetunedAccuracy).average().orElse(Double.NaN),
                lora.isEmpty() ? "" : String.format("%.3f", zoo.tasks().stream()
                        .mapToDouble(t -> t.adapter().orElseThrow().accuracy()).average().orElse(Double.NaN))));
        appendExperiments(md, mlp, "", new String[] {
            "## Experiment 1: merge all " + zoo.tasks().size() + " models, accuracy on 4 tasks (cf. paper Table 2)",
            "## Experiment 2: 4 relevant + k irrelevant models, mean accuracy on the 4 tasks (cf. Table 3 left)",
            "## Experiment 3: n relevant models, mean accuracy on all tasks (cf. Table 3 right)"});
        if (misinitialized != null) {
            md.append(String.format("%n## Experiment 4: a misinitialised model joins the 4 relevant ones (cf. Fig. 1c)%n%n"
                    + "A model of %s fine-tuned from a differently initialised pre-trained trunk (%.3f on its task with "
                    + "its own head). Mean accuracy on the 4 tasks:%n%n| method | without | with | change |%n|---|---|---|---|%n",
                    misinitialized.task(), misinitialized.accuracy()));
            withMisinitialized.forEach((m, with) -> {
                double without = withoutMisinitialized.get(m);
                md.append(String.format("| %s | %.3f | %.3f | %+.3f |%n", m, without, with, with - without));
            });
        }
        if (!lora.isEmpty()) {
            md.append(String.format("%n## Experiment 5: merging the %d tasks' LoRA adapters (cf. §4)%n%n"
                    + "Rank-%d adapters on both trunk weights, written in PEFT's layout and read through the pool's "
                    + "LoRA path (each candidate is base + scaling·BA). Individual = each task's own adapter.%n%n",
                    zoo.tasks().size(), zoo.tasks().get(0).adapter().orElseThrow().rank()));
            appendTaskTable(md, lora);
        }
        appendVit(md);
        md.append("\n## Cost by pool size (merges of experiment 2)\n\nExperiment 1 ran every method "
                + "first, so one-time start-up costs (JIT, heap growth, ND4J set-up) are not in these figures.\n\n"
                + "Wall time (ms), one merge, building the merger included:\n\n");
        appendSeries(md, millis, "pool size", "%.0f");
        if (!tensorMb.isEmpty()) {
            md.append(String.format("%nPeak tensor memory (MB): the most the backend's open tensors held during the "
                    + "merge, above the level before it; exact (checkpoints are read in chunks, not held). One model is %.1f MB."
                    + "%n%n", modelMb));
            appendSeries(md, tensorMb, "pool size", "%.1f");
        }
        if (!processMb.isEmpty()) {
            md.append("\nPeak process memory growth (MB, Linux VmHWM above the pre-merge resident set): adds what the "
                    + "JVM and ND4J keep until a GC (SameDiff's temporaries, young heap) and "
                    + "misses memory reused from earlier work.\n\n");
            appendSeries(md, processMb, "pool size", "%.1f");
        }
        md.append("\n## FW loss and gap per iteration (experiment 1)\n\n");
        appendTraces(md, mlp);
        charts.add(traceChart("FW calibration loss per iteration", "loss (mean over the evaluated tasks)",
                IterationRecord::loss, false, cfg.outDir().resolve("fw-trace.png")));
        charts.add(traceChart("FW duality gap per iteration", "gap (log scale)", IterationRecord::gap, true,
                cfg.outDir().resolve("fw-gap.png")));
        md.append("\n![accuracy vs irrelevant models](accuracy-vs-irrelevant.png)\n![FW loss](fw-trace.png)\n"
                + "![FW gap](fw-gap.png)\n");
        md.append("![accuracy vs relevant models](accuracy-vs-relevant.png)\n");
        md.append("![ViT: accuracy vs irrelevant models](vit-accuracy-vs-irrelevant.png)\n"
                + "![ViT: accuracy vs relevant models](vit-accuracy-vs-relevant.png)\n");
        AtomicFiles.writeString(cfg.outDir().resolve("results.json"), json());
        Path file = cfg.outDir().resolve("results.md");
        AtomicFiles.writeString(file, md.toString());
        return file;
    }

    private static void appendAdaMerging(StringBuilder md, Experiments e) {
        if (e.adaSums != null) {
            md.append("\nAdaMerging raised the total task-vector weight Σᵢλᵢ from 1 to ");
            StringBuilder parts = new StringBuilder();
            for (int b = 0; b < e.adaSums.length; b++) {
                parts.append(parts.length() == 0 ? "" : ", ").append(String.format("%.2f (%s)", e.adaSums[b], e.adaBlocks.get(b)));
            }
            md.append(parts).append(": minimising prediction entropy rewards larger logits, right or wrong.\n");
        }
    }

    private static void appendTraces(StringBuilder md, Experiments e) {
        e.traces.forEach((m, recs) -> {
            md.append("- ").append(m).append(": ");
            for (IterationRecord r : recs) {
                md.append(String.format("t=%d loss %.4f gap %.3g; ", r.iteration(), r.loss(), r.gap()));
            }
            md.append('\n');
        });
    }

    /**
     * Experiments 1-3 of a zoo under the given headings, with their charts; a zoo other than the first is
     * named ({@code zoo}, e.g. "ViT") in the charts' titles and file names.
     */
    private void appendExperiments(StringBuilder md, Experiments e, String zoo, String[] headings)
            throws IOException {
        String title = zoo.isEmpty() ? "" : zoo + ": ";
        String chartPrefix = zoo.isEmpty() ? "" : zoo.toLowerCase(java.util.Locale.ROOT) + "-";
        md.append('\n').append(headings[0]).append("\n\n");
        appendTaskTable(md, e.table1);
        if (!e.fwStarts.isEmpty()) {
            md.append(String.format("%nFW on top: FW-hard and FW-soft also started from %s's merge, the data-free merge "
                    + "with the lowest calibration loss (FW's own objective; no test data in the choice)%s.%n", e.fwStarts.get(0),
                    e.fwStarts.size() < 2 ? "" : ", and from " + e.fwStarts.get(1) + "'s, the data-informed baseline whose "
                            + "calibration loss is lower still"));
        }
        appendAdaMerging(md, e);
        md.append('\n').append(headings[1]).append("\n\n");
        appendSeries(md, e.table2, "k irrelevant", "%.3f");
        charts.add(chart(e.table2, title + "Adding irrelevant models", "irrelevant models added to the 4 relevant ones",
                cfg.outDir().resolve(chartPrefix + "accuracy-vs-irrelevant.png")));
        md.append('\n').append(headings[2]).append("\n\n");
        appendSeries(md, e.table3, "n relevant", "%.3f");
        charts.add(chart(e.table3, title + "Adding relevant models", "relevant models in the pool",
                cfg.outDir().resolve(chartPrefix + "accuracy-vs-relevant.png")));
    }

    /** Experiment 6: the ViT zoo and experiments 1-3 on it. */
    private void appendVit(StringBuilder md) throws IOException {
        if (vitZoo.isEmpty()) {
            return;
        }
        md.append(String.format("%n## Experiment 6: a ViT zoo (Hugging Face ViTForImageClassification)%n%n"
                + "A small ViT (%s) pre-trained on the original images and fine-tuned per task, all in Java by Adam over "
                + "the gradients of one exported ONNX graph (tools/export-gradients); each task keeps its own head, the "
                + "encoders are merged. Objectives: the sum over the evaluated tasks of each one's mean cross-entropy "
                + "(FW) or prediction entropy (AdaMerging) on %d calibration samples, run by ONNX Runtime.%n%n",
                VitZoo.DESCRIPTION, VitZoo.CALIBRATION));
        md.append("| task | pre-trained (zero-shot head) | fine-tuned |\n|---|---|---|\n");
        vitZoo.forEach((t, a) -> md.append(String.format("| %s | %.3f | %.3f |%n", t, a[0], a[1])));
        md.append(String.format("| mean | %.3f | %.3f |%n", vitMean(0), vitMean(1)));
        appendExperiments(md, vit, "ViT", new String[] {
            "### 6.1 Experiment 1 on the ViT zoo: all merged, accuracy on 4 tasks",
            "### 6.2 Experiment 2 on the ViT zoo: 4 relevant + k irrelevant models",
            "### 6.3 Experiment 3 on the ViT zoo: n relevant models, accuracy on all tasks"});
        md.append("\nFW loss and gap per iteration (experiment 6.1):\n\n");
        appendTraces(md, vit);
    }

    private double vitMean(int column) {
        return vitZoo.values().stream().mapToDouble(a -> a[column]).average().orElse(Double.NaN);
    }

    /** A per-task table with a mean column (experiments 1 and 5). */
    private void appendTaskTable(StringBuilder md, Map<String, Map<String, Double>> table) {
        md.append("| method | ").append(String.join(" | ", cfg.evalTasks())).append(" | mean |\n|---|");
        cfg.evalTasks().forEach(t -> md.append("---|"));
        md.append("---|\n");
        table.forEach((name, acc) -> {
            md.append("| ").append(name).append(" | ");
            cfg.evalTasks().forEach(t -> md.append(String.format("%.3f | ", acc.get(t))));
            md.append(String.format("%.3f |%n", Demo.mean(acc)));
        });
    }

    /**
     * The findings as JSON: per experiment, each merging method's mean accuracy (a fraction) over the
     * experiment's evaluation tasks; experiment 1's reference rows apart, under {@code reference}.
     */
    String json() {
        StringBuilder j = new StringBuilder("{\n  \"seed\": ").append(cfg.seed())
                .append(",\n  \"calibration_samples_per_task\": ").append(Demo.CALIBRATION)
                .append(",\n  \"experiments\": {\n");
        j.append(experimentsJson(mlp, "    ")).append(",\n");
        j.append("    \"misinitialized\": {\"task\": ").append(misinitialized == null ? "null"
                : quote(misinitialized.task())).append(", \"methods\": {");
        String sep = "";
        for (Map.Entry<String, Double> e : withMisinitialized.entrySet()) {
            j.append(sep).append(quote(e.getKey())).append(": {\"without\": ").append(num(withoutMisinitialized.get(e.getKey())))
                    .append(", \"with\": ").append(num(e.getValue())).append('}');
            sep = ", ";
        }
        j.append("}},\n");
        j.append("    \"lora\": {\"methods\": ").append(means(lora, false)).append(", \"reference\": ")
                .append(means(lora, true)).append("}\n  }");
        if (!vitZoo.isEmpty()) {
            j.append(",\n  \"vit\": {\n    \"zoo\": {\"pretrained\": ").append(num(vitMean(0))).append(", \"finetuned\": ")
                    .append(num(vitMean(1))).append(", \"tasks\": {");
            String between = "";
            for (Map.Entry<String, double[]> e : vitZoo.entrySet()) {
                j.append(between).append(quote(e.getKey())).append(": {\"pretrained\": ").append(num(e.getValue()[0]))
                        .append(", \"finetuned\": ").append(num(e.getValue()[1])).append('}');
                between = ", ";
            }
            j.append("}},\n    \"experiments\": {\n").append(experimentsJson(vit, "      ")).append("\n    }\n  }");
        }
        return j.append("\n}\n").toString();
    }

    /** Experiments 1-3 of a zoo as the "all", "irrelevant" and "relevant" entries. */
    private String experimentsJson(Experiments e, String indent) {
        return indent + "\"all\": {\"tasks\": " + strings(cfg.evalTasks()) + ", \"methods\": " + means(e.table1, false)
                + ", \"reference\": " + means(e.table1, true) + ", \"fw_starts\": "
                + strings(e.fwStarts) + "},\n" + indent + "\"irrelevant\": " + series(e.table2)
                + ",\n" + indent + "\"relevant\": " + series(e.table3);
    }

    private static String means(Map<String, Map<String, Double>> table, boolean reference) {
        StringBuilder j = new StringBuilder("{");
        String sep = "";
        for (Map.Entry<String, Map<String, Double>> e : table.entrySet()) {
            boolean isReference = e.getKey().equals(PRETRAINED) || e.getKey().equals(INDIVIDUAL);
            if (isReference == reference) {
                j.append(sep).append(quote(e.getKey())).append(": ").append(num(Demo.mean(e.getValue())));
                sep = ", ";
            }
        }
        return j.append('}').toString();
    }

    private static String series(Map<String, Map<Integer, Double>> table) {
        List<Integer> xs = table.values().stream().flatMap(m -> m.keySet().stream()).distinct().sorted().toList();
        StringBuilder j = new StringBuilder("{\"x\": ").append(xs).append(", \"methods\": {");
        String sep = "";
        for (Map.Entry<String, Map<Integer, Double>> e : table.entrySet()) {
            j.append(sep).append(quote(e.getKey())).append(": [");
            String s2 = "";
            for (int x : xs) {
                Double v = e.getValue().get(x);
                j.append(s2).append(v == null ? "null" : num(v));
                s2 = ", ";
            }
            j.append(']');
            sep = ", ";
        }
        return j.append("}}").toString();
    }

    private static String strings(List<String> l) {
        return "[" + String.join(", ", l.stream().map(Report::quote).toList()) + "]";
    }

    private static String num(double v) {
        return Double.isFinite(v) ? String.format(java.util.Locale.ROOT, "%.4f", v) : "null";
    }

    private static String quote(String s) {
        StringBuilder q = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                q.append('\\').append(c);
            } else if (c < 0x20) {
                q.append(String.format("\\u%04x", (int) c));
            } else {
                q.append(c);
            }
        }
        return q.append('"').toString();
    }

    private static void appendSeries(StringBuilder md, Map<String, Map<Integer, Double>> table, String column,
            String format) {
        List<Integer> xs = table.values().stream().flatMap(m -> m.keySet().stream()).distinct().sorted().toList();
        md.append("| method | ");
        xs.forEach(x -> md.append(column).append('=').append(x).append(" | "));
        md.append("\n|---|");
        xs.forEach(x -> md.append("---|"));
        md.append('\n');
        table.forEach((name, byX) -> {
            md.append("| ").append(name).append(" | ");
            xs.forEach(x -> md.append(byX.containsKey(x) ? String.format(format, byX.get(x)) : "").append(" | "));
            md.append('\n');
        });
    }

    private static Path chart(Map<String, Map<Integer, Double>> table, String title, String xTitle, Path file)
            throws IOException {
        XYChart c = new XYChartBuilder().width(760).height(460).title(title).xAxisTitle(xTitle)
                .yAxisTitle("mean accuracy").build();
        c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        table.forEach((name, byX) -> {
            if (byX.size() > 0) {
                c.addSeries(name, byX.keySet().stream().mapToDouble(Integer::doubleValue).toArray(),
                        byX.values().stream().mapToDouble(Double::doubleValue).toArray());
            }
        });
        BitmapEncoder.saveBitmap(c, file.toString(), BitmapEncoder.BitmapFormat.PNG);
        return file;
    }

    private Path traceChart(String title, String yTitle, ToDoubleFunction<IterationRecord> value, boolean log,
            Path file) throws IOException {
        XYChart c = new XYChartBuilder().width(760).height(460).title(title).xAxisTitle("iteration").yAxisTitle(yTitle)
                .build();
        c.getStyler().setLegendPosition(Styler.LegendPosition.InsideNE);
        c.getStyler().setYAxisLogarithmic(log);
        mlp.traces.forEach((m, recs) -> {
            // A log axis cannot show a zero gap (an exact optimum); such points are left out.
            List<IterationRecord> shown = recs.stream().filter(r -> !log || value.applyAsDouble(r) > 0).toList();
            if (!shown.isEmpty()) {
                c.addSeries(m, shown.stream().mapToDouble(IterationRecord::iteration).toArray(),
                        shown.stream().mapToDouble(value).toArray());
            }
        });
        BitmapEncoder.saveBitmap(c, file.toString(), BitmapEncoder.BitmapFormat.PNG);
        return file;
    }
}
