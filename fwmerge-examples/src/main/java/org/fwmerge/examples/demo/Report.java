package org.fwmerge.examples.demo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.fwmerge.IterationRecord;
import org.fwmerge.examples.zoo.TaskModel;
import org.fwmerge.examples.zoo.Zoo;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;

/** Collects the demo's tables and traces; writes {@code results.md} and the PNG charts. */
final class Report {
    private final Demo.DemoConfig cfg;
    private final Map<String, List<IterationRecord>> traces = new LinkedHashMap<>();
    private final Map<String, Map<Integer, Long>> times = new LinkedHashMap<>();
    private Map<String, Map<String, Double>> table1 = Map.of();
    private Map<String, Map<Integer, Double>> table2 = Map.of();
    private Map<String, Map<Integer, Double>> table3 = Map.of();
    private final List<Path> charts = new ArrayList<>();

    Report(Demo.DemoConfig cfg) {
        this.cfg = cfg;
    }

    void trace(String method, List<IterationRecord> records) {
        traces.put(method, records);
    }

    void time(String method, int poolSize, long millis) {
        times.computeIfAbsent(method, m -> new TreeMap<>()).merge(poolSize, millis, Math::max);
    }

    void table1(Map<String, Map<String, Double>> t) {
        table1 = t;
    }

    void table2(Map<String, Map<Integer, Double>> t) {
        table2 = t;
    }

    void table3(Map<String, Map<Integer, Double>> t) {
        table3 = t;
    }

    List<Path> charts() {
        return charts;
    }

    Path write(Zoo zoo, double seconds) throws IOException {
        StringBuilder md = new StringBuilder("# fwmerge demo results\n\n");
        md.append(String.format("Run: %s, %.0f s, data: %s, zoo: %s.%n%n", cfg.full() ? "--full" : "default", seconds,
                zoo.dataOrigin(), cfg.zoo().provenance()));
        md.append("Settings: calibration ").append(Demo.CALIBRATION).append(" samples per task (training split, seed ")
                .append(Demo.SEED).append("), cross-entropy for FW, prediction entropy for AdaMerging; FW-hard layer-wise ")
                .append("with line search, 10 iterations; FW-soft layer-wise, one vertex per task, 5 iterations × 100 Adam ")
                .append("steps (lr 0.01) on coefficients projected onto {λ ≥ 0, Σλ ≤ 1}.\n\n");
        md.append("## The zoo: accuracy on each task's test split\n\n");
        md.append("| task | classes | pre-trained (zero-shot head) | fine-tuned |\n|---|---|---|---|\n");
        for (TaskModel t : zoo.tasks()) {
            md.append(String.format("| %s | %d | %.3f | %.3f |%n", t.task().name(), t.task().classes(),
                    t.pretrainedAccuracy(), t.finetunedAccuracy()));
        }
        md.append("\n## Experiment 1: merge all ").append(zoo.tasks().size()).append(" models, accuracy on 4 tasks (cf. paper Table 2)\n\n");
        md.append("| method | ").append(String.join(" | ", cfg.evalTasks())).append(" | mean |\n|---|");
        cfg.evalTasks().forEach(t -> md.append("---|"));
        md.append("---|\n");
        table1.forEach((name, acc) -> {
            md.append("| ").append(name).append(" | ");
            cfg.evalTasks().forEach(t -> md.append(String.format("%.3f | ", acc.get(t))));
            md.append(String.format("%.3f |%n", Demo.mean(acc)));
        });
        md.append("\n## Experiment 2: 4 relevant + k irrelevant models, mean accuracy on the 4 tasks (cf. Table 3 left)\n\n");
        appendSeries(md, table2, "k irrelevant", "%.3f");
        charts.add(chart(table2, "Adding irrelevant models", "irrelevant models added to the 4 relevant ones",
                cfg.outDir().resolve("accuracy-vs-irrelevant.png")));
        if (!table3.isEmpty()) {
            md.append("\n## Experiment 3: n relevant models, mean accuracy on all tasks (cf. Table 3 right)\n\n");
            appendSeries(md, table3, "n relevant", "%.3f");
            charts.add(chart(table3, "Adding relevant models", "relevant models in the pool",
                    cfg.outDir().resolve("accuracy-vs-relevant.png")));
        }
        md.append("\n## Experiment 4: merge time (ms) by pool size\n\n");
        Map<String, Map<Integer, Double>> t = new LinkedHashMap<>();
        times.forEach((m, byN) -> byN.forEach((n, ms) -> t.computeIfAbsent(m, x -> new TreeMap<>()).put(n, ms.doubleValue())));
        appendSeries(md, t, "pool size", "%.0f");
        md.append("\n## FW loss and gap per iteration (experiment 1)\n\n");
        traces.forEach((m, recs) -> {
            md.append("- ").append(m).append(": ");
            for (IterationRecord r : recs) {
                md.append(String.format("t=%d loss %.4f gap %.3g; ", r.iteration(), r.loss(), r.gap()));
            }
            md.append('\n');
        });
        charts.add(traceChart(cfg.outDir().resolve("fw-trace.png")));
        md.append("\n![accuracy vs irrelevant models](accuracy-vs-irrelevant.png)\n![FW trace](fw-trace.png)\n");
        Path file = cfg.outDir().resolve("results.md");
        Path tmp = cfg.outDir().resolve("results.md.tmp");
        Files.writeString(tmp, md);
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        return file;
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

    private Path traceChart(Path file) throws IOException {
        XYChart c = new XYChartBuilder().width(760).height(460).title("FW calibration loss per iteration")
                .xAxisTitle("iteration").yAxisTitle("loss (sum over 4 tasks)").build();
        c.getStyler().setLegendPosition(Styler.LegendPosition.InsideNE);
        traces.forEach((m, recs) -> c.addSeries(m, recs.stream().mapToDouble(IterationRecord::iteration).toArray(),
                recs.stream().mapToDouble(IterationRecord::loss).toArray()));
        BitmapEncoder.saveBitmap(c, file.toString(), BitmapEncoder.BitmapFormat.PNG);
        return file;
    }
}
