package org.fwmerge.examples.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.fwmerge.examples.zoo.Task;
import org.fwmerge.examples.zoo.ZooConfig;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole demo pipeline on a tiny zoo (3 tasks, a few epochs, 2 evaluated tasks), run once; each test
 * checks one of its outputs.
 */
class DemoSmokeTest {

    @TempDir
    static Path dir;
    private static String md;
    private static String json;

    @BeforeAll
    static void runTheDemo() throws Exception {
        List<String> names = List.of("digits_rot90", "digits_perm1", "fashion_vflip");
        List<Task> tasks = Task.standard(42L).stream().filter(t -> names.contains(t.name())).toList();
        ZooConfig zoo = ZooConfig.defaults(42L).withTasks(tasks).withSamples(60, 30).withEpochs(2, 10, 6)
                .withMisinitializedTask(Optional.of("digits_rot90")).withDataDir(Optional.empty());
        // full = true runs every method in experiment 3.
        Demo.DemoConfig cfg = new Demo.DemoConfig(true, dir.resolve("out"), dir.resolve("zoo"), zoo,
                List.of("digits_rot90", "digits_perm1"), List.of(0, 1), List.of(2, 3));
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        Path results = new Demo(cfg, new PrintStream(console, true, StandardCharsets.UTF_8)).run();
        md = Files.readString(results);
        json = Files.readString(dir.resolve("out/results.json"));
    }

    @Test
    void table1_listsEveryMethod() {
        for (String method : List.of("Pre-trained", "Individual (upper bound)", "Weight averaging", "Task arithmetic",
                "TIES", "DARE (TA)", "TSV-M", "Iso-C", "Iso-CTS", "RegMean", "RegMean++", "AdaMerging", "FW-hard", "FW-soft")) {
            assertTrue(md.contains("| " + method + " |"), "table 1 lists " + method);
        }
        // RegMean runs on both zoos (the ViT's Grams come from its exported graph), and in experiment 3 by default.
        String vit = md.substring(md.indexOf("## Experiment 6"), md.indexOf("## Cost by pool size"));
        assertTrue(vit.contains("| RegMean |") && vit.contains("| RegMean++ |"), "RegMean rows in the ViT zoo's tables:\n" + vit);
        String exp3 = md.substring(md.indexOf("## Experiment 3"), md.indexOf("## Experiment 4"));
        assertTrue(exp3.contains("| RegMean++ |"), "experiment 3 has RegMean++:\n" + exp3);
    }

    /** Experiment 1 runs FW on top of the data-free merge with the lowest calibration loss, in both zoos. */
    @Test
    void table1_hasFwOnTopOfTheBestDataFreeMethod() {
        Matcher start = Pattern.compile("\"fw_starts\": \\[\"([^\"]+)\"(?:, \"([^\"]+)\")?\\]").matcher(json);
        for (int zoo = 0; zoo < 2; zoo++) {
            assertTrue(start.find(), "fw_starts for zoo " + zoo + " in\n" + json);
            String from = start.group(1);
            assertTrue(List.of("Weight averaging", "Task arithmetic", "TIES", "DARE (TA)", "TSV-M", "Iso-C", "Iso-CTS")
                    .contains(from), from);
            List<String> starts = start.group(2) == null ? List.of(from) : List.of(from, start.group(2));
            if (starts.size() == 2) {
                assertTrue(List.of("RegMean", "RegMean++", "AdaMerging").contains(starts.get(1)), starts.get(1));
            }
            for (String s : starts) {
                for (String fw : List.of("FW-hard", "FW-soft")) {
                    assertTrue(md.contains("| " + fw + " (from " + s + ") |"), fw + " from " + s);
                }
            }
        }
    }

    /** Fine-tuning raises each task's own accuracy over the zero-shot head (zoo table rows). */
    @Test
    void zooTable_fineTuningHelpsEveryTask() {
        Matcher zooRow = Pattern.compile("\\| (\\w+) \\| \\d+ \\| ([0-9.]+) \\| ([0-9.]+) \\|").matcher(md);
        int rows = 0;
        while (zooRow.find()) {
            rows++;
            assertTrue(Double.parseDouble(zooRow.group(3)) > Double.parseDouble(zooRow.group(2)),
                    "fine-tuning helps " + zooRow.group(1));
        }
        assertEquals(3, rows, "three zoo rows");
    }

    @Test
    void experiments_allRan_andEveryAccuracyIsAProbability() {
        Matcher acc = Pattern.compile("\\| (\\d\\.\\d{3}) ")
                .matcher(md.substring(md.indexOf("## Experiment 1"), md.indexOf("## Cost by pool size")));
        int values = 0;
        while (acc.find()) {
            double a = Double.parseDouble(acc.group(1));
            assertTrue(a >= 0 && a <= 1, "accuracy " + a);
            values++;
        }
        assertTrue(values >= 9 * 3, "experiment tables filled, " + values + " values");
        assertTrue(md.contains("## Experiment 3") && md.contains("| n relevant=2 |"), "experiment 3 ran");
        assertTrue(md.contains("AdaMerging raised the total task-vector weight"), "AdaMerging's Σλ reported");
        assertTrue(md.contains("## Experiment 4") && md.contains("| FW-soft | "), "experiment 4 ran");
        assertTrue(md.contains("## Experiment 5"), "experiment 5 ran");
    }

    /** Experiment 6: the ViT zoo, trained through its ONNX graph, and experiments 1-3 on it. */
    @Test
    void vitZoo_isTrained_andExperimentsOneToThreeRunOnIt() {
        String vit = md.substring(md.indexOf("## Experiment 6"));
        Matcher row = Pattern.compile("\\| (\\w+) \\| ([0-9.]+) \\| ([0-9.]+) \\|\n").matcher(vit);
        int rows = 0;
        while (row.find() && !row.group(1).equals("mean")) {
            rows++;
        }
        assertEquals(3, rows, "three ViT zoo rows in\n" + vit);
        Matcher mean = Pattern.compile("\\| mean \\| ([0-9.]+) \\| ([0-9.]+) \\|").matcher(vit);
        assertTrue(mean.find(), vit);
        assertTrue(Double.parseDouble(mean.group(2)) > Double.parseDouble(mean.group(1)), "fine-tuning helps the ViTs");
        for (String part : List.of("### 6.1", "| FW-soft | ", "| AdaMerging | ", "### 6.2", "### 6.3", "| n relevant=3 |")) {
            assertTrue(vit.contains(part), part + " in\n" + vit);
        }
        for (String key : List.of("\"vit\": {", "\"zoo\": {\"pretrained\": ", "\"digits_perm1\": {\"pretrained\": ")) {
            assertTrue(json.contains(key), key + " in\n" + json);
        }
        Matcher jsonVitSoft = Pattern.compile("\"vit\": \\{.*?\"all\": \\{[^}]*\"methods\": \\{[^}]*\"FW-soft\": ([0-9.]+)",
                Pattern.DOTALL).matcher(json);
        assertTrue(jsonVitSoft.find(), json);
        Matcher tableVitSoft = Pattern.compile("\\| FW-soft \\| [0-9.]+ \\| [0-9.]+ \\| ([0-9.]+) \\|").matcher(vit);
        assertTrue(tableVitSoft.find(), vit);
        assertEquals(Double.parseDouble(tableVitSoft.group(1)), Double.parseDouble(jsonVitSoft.group(1)), 0.0005);
    }

    @Test
    void charts_areWritten() throws Exception {
        for (String chart : List.of("accuracy-vs-irrelevant.png", "accuracy-vs-relevant.png", "fw-trace.png", "fw-gap.png",
                "vit-accuracy-vs-irrelevant.png", "vit-accuracy-vs-relevant.png")) {
            Path png = dir.resolve("out").resolve(chart);
            assertTrue(Files.size(png) > 1000, chart);
            byte[] head = java.util.Arrays.copyOf(Files.readAllBytes(png), 8);
            assertEquals("\u0089PNG", new String(head, 0, 4, StandardCharsets.ISO_8859_1), chart + " is a PNG file");
        }
    }

    /** results.json: the schema, and the same figures as the tables. */
    @Test
    void resultsJson_hasTheSchema_andAgreesWithTheTables() {
        for (String key : List.of("\"seed\": 42", "\"calibration_samples_per_task\": 100", "\"all\": {",
                "\"irrelevant\": {\"x\": [0, 1], \"methods\": {", "\"relevant\": {\"x\": [2, 3], \"methods\": {",
                "\"misinitialized\": {\"task\": \"digits_rot90\", \"methods\": {", "\"lora\": {\"methods\": {")) {
            assertTrue(json.contains(key), key + " in\n" + json);
        }
        Matcher table1Soft = Pattern.compile("\\| FW-soft \\| [0-9.]+ \\| [0-9.]+ \\| ([0-9.]+) \\|").matcher(md);
        assertTrue(table1Soft.find(), "FW-soft row of table 1");
        Matcher jsonSoft = Pattern.compile("\"all\": \\{[^}]*\"methods\": \\{[^}]*\"FW-soft\": ([0-9.]+)").matcher(json);
        assertTrue(jsonSoft.find(), json);
        assertEquals(Double.parseDouble(table1Soft.group(1)), Double.parseDouble(jsonSoft.group(1)), 0.0005);
        Matcher mis = Pattern.compile("\"TIES\": \\{\"without\": ([0-9.]+), \"with\": ([0-9.]+)\\}").matcher(json);
        assertTrue(mis.find(), json);
    }

    /** The exported command-line configuration merges by FW-soft from files alone. */
    @Test
    void exportedConfiguration_mergesFromTheCommandLine() throws Exception {
        Path yaml = dir.resolve("out/cli/frank-wolfe.yaml");
        assertTrue(Files.readString(yaml).contains("merge_method: frank_wolfe"), Files.readString(yaml));
        java.io.StringWriter err = new java.io.StringWriter();
        int code = org.fwmerge.examples.cli.FwmergeCli.run(new String[] {"merge", yaml.toString(),
                dir.resolve("out/cli/merged").toString()}, new java.io.PrintWriter(new java.io.StringWriter()),
                new java.io.PrintWriter(err));
        assertEquals(0, code, err.toString());
        assertTrue(err.toString().contains("iteration 1/5"), err.toString());
        assertTrue(Files.exists(dir.resolve("out/cli/merged/model.safetensors")));
    }

    /**
     * Every method's time and tensor memory. Weight averaging holds its output (one trunk, 2.1 MB) and
     * streams one candidate tensor at a time, so its exact peak lies between 1 and 2 trunks.
     */
    @Test
    void costTable_listsEveryMethod_withWeightAveragingsPeakBetweenOneAndTwoTrunks() {
        String costs = md.substring(md.indexOf("## Cost by pool size"));
        for (String method : List.of("Weight averaging", "Task arithmetic", "TIES", "DARE (TA)", "AdaMerging", "FW-hard",
                "FW-soft")) {
            assertTrue(costs.contains("| " + method + " | "), "the cost table lists " + method);
        }
        int from = costs.indexOf("Peak tensor memory");
        assertTrue(from >= 0, "tensor-memory table:\n" + costs);
        Matcher wa = Pattern.compile("\\| Weight averaging \\| ([0-9.]+) \\| ([0-9.]+) \\|").matcher(costs.substring(from));
        assertTrue(wa.find(), "weight averaging in\n" + costs.substring(from));
        for (int g = 1; g <= 2; g++) {
            double mb = Double.parseDouble(wa.group(g));
            assertTrue(mb >= 2.0 && mb <= 4.3, "weight averaging's tensor peak " + mb + " MB");
        }
    }
}
