package org.fwmerge.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.fwmerge.Evaluation;
import org.fwmerge.LayerInputs;
import org.fwmerge.Model;
import org.fwmerge.Objective;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.tensor.Matrix;
import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;
import org.fwmerge.testing.ObjectiveCheck;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class OnnxObjectiveTest {

    /** The bar: ONNX Runtime's float32 graph against torch in double. */
    private static final double TORCH_TOLERANCE = 1e-5;

    /**
     * The tiny random ViT is strongly curved along its gradient: at the default relative step of 10⁻³ the
     * central difference's truncation error is 1.2 % (over the 1 % allowed); at 3·10⁻⁴ and 10⁻⁴ every
     * architecture passes, as a truncation error (∝ step²) does — the gradient itself matches torch to 10⁻⁵.
     */
    private static final ObjectiveCheck.Options CHECK = ObjectiveCheck.Options.defaults().withStep(3e-4);

    static Stream<Arguments> cases() {
        return Fixtures.ARCHITECTURES.stream().flatMap(a -> Fixtures.BACKENDS.stream().map(b -> Arguments.of(a, b)));
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void lossAndGradientsAreTorchsAtTheCheckpointAndAtPerturbedWeights(String arch, TensorBackend backend) {
        try (Checkpoint model = Fixtures.open(arch, "model.safetensors");
             Checkpoint perturbed = Fixtures.open(arch, "perturbed.safetensors");
             Checkpoint expected = Fixtures.open(arch, "expected.safetensors");
             OnnxObjective objective = Fixtures.objective(arch)) {
            assertEquals(6, objective.samples());
            assertEquals(4, objective.batchSize());
            assertEquals(new TreeSet<>(model.names()), new TreeSet<>(objective.weights().keySet()));
            for (Checkpoint at : List.of(model, perturbed)) {
                String prefix = at == model ? "" : "perturbed.";
                try (Model x = Model.load(at, at.names(), backend); Evaluation e = objective.evaluate(x)) {
                    double worst = Fixtures.assertMatches(expected, prefix, e, backend, TORCH_TOLERANCE, arch + " " + prefix);
                    // The figure the README quotes per architecture.
                    System.out.printf("%s at the %s weights on %s: loss and gradients within %.1e of torch (relative)%n",
                            arch, prefix.isEmpty() ? "checkpoint's" : "perturbed", backend, worst);
                    assertEquals(e.loss(), objective.loss(x), 1e-7 * Math.abs(e.loss()), "loss() and evaluate()");
                    float[] want = TensorBackends.reference().toFloats(expected.load(prefix + "logits", TensorBackends.reference()));
                    float[][] rows = objective.logits(x);
                    assertEquals(6, rows.length);
                    double largest = 0;
                    for (float w : want) {
                        largest = Math.max(largest, Math.abs(w));
                    }
                    int width = want.length / 6;
                    for (int i = 0; i < 6; i++) {
                        assertEquals(width, rows[i].length);
                        for (int j = 0; j < width; j++) {
                            assertEquals(want[i * width + j], rows[i][j], TORCH_TOLERANCE * largest, arch + " logits " + i);
                        }
                    }
                }
            }
        }
    }

    /**
     * RegMean's data: each {@code torch.nn.Linear}'s input Gram XᵀX / N over the samples' rows (real tokens only),
     * batched and padded, against torch's in double. GPT-2's layers are Conv1D, not Linear: it has none.
     */
    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void gramsAreTorchsLayerInputGrams(String arch, TensorBackend backend) {
        try (Checkpoint model = Fixtures.open(arch, "model.safetensors");
             Checkpoint perturbed = Fixtures.open(arch, "perturbed.safetensors");
             Checkpoint expected = Fixtures.open(arch, "expected.safetensors");
             OnnxObjective objective = Fixtures.objective(arch)) {
            TreeSet<String> layers = new TreeSet<>();
            expected.names().stream().filter(n -> n.startsWith("gram.")).forEach(n -> layers.add(n.substring(5)));
            assertEquals(layers, new TreeSet<>(objective.layers().keySet()));
            assertEquals(arch.equals("gpt2"), layers.isEmpty(), arch + " layers " + layers);
            objective.layers().values().forEach(o -> assertSame(LayerInputs.Orientation.OUT_BY_IN, o));
            for (Checkpoint at : List.of(model, perturbed)) {
                String prefix = at == model ? "" : "perturbed.";
                try (Model x = Model.load(at, at.names(), backend)) {
                    if (layers.isEmpty()) {
                        assertThrows(IllegalStateException.class, () -> objective.grams(x));
                        continue;
                    }
                    Map<String, Matrix> grams = objective.grams(x);
                    for (String w : layers) {
                        float[] want = TensorBackends.reference().toFloats(expected.load(prefix + "gram." + w,
                                TensorBackends.reference()));
                        Matrix got = grams.get(w);
                        assertEquals(want.length, got.rows() * got.cols(), w);
                        double largest = 0;
                        for (float v : want) {
                            largest = Math.max(largest, Math.abs(v));
                        }
                        for (int i = 0; i < want.length; i++) {
                            assertEquals(want[i], got.values()[i], TORCH_TOLERANCE * largest, arch + " " + prefix + "gram " + w + "[" + i + "]");
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void passesObjectiveCheck(String arch, TensorBackend backend) {
        try (Checkpoint model = Fixtures.open(arch, "perturbed.safetensors");
             OnnxObjective objective = Fixtures.objective(arch);
             Model x = Model.load(model, model.names(), backend)) {
            ObjectiveCheck.verify(objective, x, CHECK);
        }
    }

    /**
     * Half the weights merged, the rest read from a fixed checkpoint — a file (fed from its F32 mapping)
     * or a model in memory (converted once): the gradients are those of the full evaluation.
     */
    @Test
    void weightsNotMergedComeFromTheFixedCheckpoint() {
        TensorBackend backend = Fixtures.ND4J;
        try (Checkpoint model = Fixtures.open("llama", "model.safetensors");
             Checkpoint expected = Fixtures.open("llama", "expected.safetensors")) {
            List<String> merged = new ArrayList<>();
            List<String> names = model.names();
            for (int i = 0; i < names.size(); i += 2) {
                merged.add(names.get(i));
            }
            try (Model inMemory = Model.load(model, names, TensorBackends.reference())) {
                for (Checkpoint fixed : List.of(model, inMemory)) {
                    try (OnnxObjective objective = OnnxObjective.builder().graph(Fixtures.file("llama", "graph.onnx"))
                            .calibration(Fixtures.file("llama", "calibration.safetensors")).fixed(fixed).build();
                         Model x = Model.load(model, merged, backend);
                         Evaluation e = objective.evaluate(x)) {
                        assertEquals(merged, new ArrayList<>(e.gradient().keySet()));
                        Fixtures.assertMatches(expected, "", e, backend, TORCH_TOLERANCE, "fixed " + fixed.source());
                    }
                }
            }
        }
    }

    /**
     * Each one-sample minibatch is one sample's loss: over enough draws all six appear, and their mean is
     * the full loss — so padding and sample weights make the loss exactly the mean over the samples given.
     */
    @Test
    void minibatchesAverageOverTheSamplesDrawn() {
        try (Checkpoint model = Fixtures.open("gpt2", "perturbed.safetensors");
             OnnxObjective objective = Fixtures.objective("gpt2");
             Model x = Model.load(model, model.names(), TensorBackends.reference())) {
            double full = objective.loss(x);
            TreeSet<Double> singles = new TreeSet<>();
            SplittableRandom random = new SplittableRandom(3);
            for (int i = 0; i < 200 && singles.size() < 6; i++) {
                singles.add(objective.minibatch(1, random).loss(x));
            }
            assertEquals(6, singles.size(), "distinct one-sample losses");
            double mean = singles.stream().mapToDouble(Double::doubleValue).sum() / 6;
            assertEquals(full, mean, 1e-6 * full);
            Objective five = objective.minibatch(5, new SplittableRandom(1));
            assertEquals(5, ((OnnxObjective) five).samples());
            try (Evaluation e = five.evaluate(x)) {
                assertEquals(e.loss(), five.loss(x), 1e-7 * e.loss());
            }
            ObjectiveCheck.verify(five, x, CHECK);
            assertSame(objective, objective.minibatch(6, random));
            assertThrows(IllegalArgumentException.class, () -> objective.minibatch(0, random));
        }
    }

    @Test
    void aPointThatDoesNotFitTheGraphIsRefusedWithBothLists() {
        try (Checkpoint model = Fixtures.open("vit", "model.safetensors");
             OnnxObjective objective = Fixtures.objective("vit")) {
            List<String> names = new ArrayList<>(model.names());
            names.remove("classifier.bias");
            Map<String, float[]> arrays = new LinkedHashMap<>();
            Map<String, long[]> shapes = new LinkedHashMap<>();
            for (String n : names) {
                arrays.put(n, TensorBackends.reference().toFloats(model.load(n, TensorBackends.reference())));
                shapes.put(n, model.info(n).shape());
            }
            arrays.put("classifier.extra", new float[] {1});
            shapes.put("classifier.extra", new long[] {1});
            try (Model x = Model.ofArrays("odd", TensorBackends.reference(), arrays, shapes)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> objective.loss(x));
                assertTrue(e.getMessage().contains("merged tensors without a graph input: [classifier.extra]"), e.getMessage());
                assertTrue(e.getMessage().contains("graph inputs found nowhere") && e.getMessage().contains(
                        "[classifier.bias]"), e.getMessage());
            }
            arrays.remove("classifier.extra");
            shapes.remove("classifier.extra");
            arrays.put("classifier.bias", new float[] {1, 2});
            shapes.put("classifier.bias", new long[] {2});
            try (Model x = Model.ofArrays("short", TensorBackends.reference(), arrays, shapes)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> objective.evaluate(x));
                assertTrue(e.getMessage().contains("'classifier.bias'") && e.getMessage().contains("[2]")
                        && e.getMessage().contains("[3]"), e.getMessage());
            }
        }
    }

    @Test
    void badCalibrationFilesAreNamed(@TempDir Path dir) throws IOException {
        Path graph = Fixtures.file("vit", "graph.onnx");
        ByteBuffer pixels = ByteBuffer.allocate(6 * 3 * 8 * 8 * 4);
        ByteBuffer labels = ByteBuffer.allocate(6 * 8);
        Path missing = write(dir.resolve("missing.safetensors"), Map.of("pixel_values", new Raw("F32", new long[] {6, 3, 8, 8}, pixels)));
        assertRefused(graph, missing, "has no tensor 'labels'", missing.toString());
        Path floatLabels = write(dir.resolve("dtype.safetensors"), Map.of("pixel_values", new Raw("F32",
                new long[] {6, 3, 8, 8}, pixels), "labels", new Raw("F32", new long[] {6}, ByteBuffer.allocate(24))));
        assertRefused(graph, floatLabels, "tensor 'labels' is F32", "INT64");
        Path shape = write(dir.resolve("shape.safetensors"), Map.of("pixel_values", new Raw("F32", new long[] {6, 3, 8, 4},
                ByteBuffer.allocate(6 * 3 * 8 * 4 * 4)), "labels", new Raw("I64", new long[] {6}, labels)));
        assertRefused(graph, shape, "'pixel_values' has shape [6, 3, 8, 4]", "[samples, 3, 8, 8]");
        Path counts = write(dir.resolve("counts.safetensors"), Map.of("pixel_values", new Raw("F32", new long[] {6, 3, 8, 8},
                pixels), "labels", new Raw("I64", new long[] {5}, ByteBuffer.allocate(40))));
        assertRefused(graph, counts, "samples", "first dimension counts samples");
        Path extra = write(dir.resolve("extra.safetensors"), Map.of("pixel_values", new Raw("F32", new long[] {6, 3, 8, 8},
                pixels), "labels", new Raw("I64", new long[] {6}, labels), "input_ids", new Raw("I64", new long[] {6}, labels)));
        try (Checkpoint model = Fixtures.open("vit", "model.safetensors");
             Model x = Model.load(model, model.names(), TensorBackends.reference());
             OnnxObjective withExtra = OnnxObjective.builder().graph(graph).calibration(extra).build();
             OnnxObjective plain = OnnxObjective.builder().graph(graph).calibration(write(dir.resolve("plain.safetensors"),
                     Map.of("pixel_values", new Raw("F32", new long[] {6, 3, 8, 8}, pixels), "labels",
                             new Raw("I64", new long[] {6}, labels)))).build()) {
            assertEquals(plain.loss(x), withExtra.loss(x), "a tensor that is no data input is ignored");
        }
        // I32 labels are widened: the same objective as the I64 file.
        ByteBuffer ints = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer longs = ByteBuffer.allocate(48).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 6; i++) {
            ints.putInt(i * 4, i % 3);
            longs.putLong(i * 8, i % 3);
        }
        Path i32 = write(dir.resolve("i32.safetensors"), Map.of("pixel_values", new Raw("F32", new long[] {6, 3, 8, 8}, pixels),
                "labels", new Raw("I32", new long[] {6}, ints)));
        Path i64 = write(dir.resolve("i64.safetensors"), Map.of("pixel_values", new Raw("F32", new long[] {6, 3, 8, 8}, pixels),
                "labels", new Raw("I64", new long[] {6}, longs)));
        try (Checkpoint model = Fixtures.open("vit", "model.safetensors");
             Model x = Model.load(model, model.names(), TensorBackends.reference());
             OnnxObjective a = OnnxObjective.builder().graph(graph).calibration(i32).build();
             OnnxObjective b = OnnxObjective.builder().graph(graph).calibration(i64).build()) {
            assertEquals(b.loss(x), a.loss(x));
        }
    }

    @Test
    void graphsNotWrittenByTheToolAndBadFixedCheckpointsAreRefused(@TempDir Path dir) throws IOException {
        Path notOnnx = Fixtures.file("vit", "model.safetensors");
        Path cal = Fixtures.file("vit", "calibration.safetensors");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> OnnxObjective.builder().graph(notOnnx).calibration(cal).build());
        assertTrue(e.getMessage().contains("cannot load gradient graph " + notOnnx), e.getMessage());
        Path none = dir.resolve("none.onnx");
        e = assertThrows(IllegalArgumentException.class, () -> OnnxObjective.builder().graph(none).calibration(cal).build());
        assertTrue(e.getMessage().contains(none + " does not exist"), e.getMessage());
        // ViT's calibration does not feed the BERT graph: refused, naming the graph's data inputs and the file's tensors.
        e = assertThrows(IllegalArgumentException.class, () -> OnnxObjective.builder()
                .graph(Fixtures.file("bert", "graph.onnx")).calibration(cal).build());
        assertTrue(e.getMessage().contains("has no tensor 'input_ids'") && e.getMessage().contains("[labels, pixel_values]"),
                e.getMessage());
        try (Model fixed = Model.ofArrays("fixed-heads", TensorBackends.reference(),
                Map.of("classifier.weight", new float[4]), Map.of("classifier.weight", new long[] {2, 2}))) {
            e = assertThrows(IllegalArgumentException.class, () -> OnnxObjective.builder()
                    .graph(Fixtures.file("vit", "graph.onnx")).calibration(cal).fixed(fixed).build());
            assertTrue(e.getMessage().contains("fixed checkpoint fixed-heads: tensor 'classifier.weight' has shape [2, 2]"),
                    e.getMessage());
        }
        OnnxObjective.Builder b = OnnxObjective.builder().graph(Fixtures.file("vit", "graph.onnx"));
        assertThrows(IllegalStateException.class, () -> b.graph(notOnnx));
        assertThrows(IllegalStateException.class, b::build);
        assertThrows(IllegalArgumentException.class, () -> OnnxObjective.builder().threads(0));
        OnnxObjective closed = Fixtures.objective("vit");
        closed.close();
        closed.close();
        try (Checkpoint model = Fixtures.open("vit", "model.safetensors");
             Model x = Model.load(model, model.names(), TensorBackends.reference())) {
            assertThrows(IllegalStateException.class, () -> closed.loss(x));
        }
    }

    private static void assertRefused(Path graph, Path calibration, String... parts) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> OnnxObjective.builder().graph(graph).calibration(calibration).build());
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), "'" + p + "' not in: " + e.getMessage());
        }
        assertTrue(e.getMessage().contains(calibration.toString()), e.getMessage());
    }

    /** A tensor as stored: dtype name, shape, little-endian bytes. */
    record Raw(String dtype, long[] shape, ByteBuffer bytes) {
    }

    /** A safetensors file written by hand (header JSON, then the data), independent of fwmerge's writer. */
    static Path write(Path file, Map<String, Raw> tensors) throws IOException {
        StringBuilder header = new StringBuilder("{");
        long offset = 0;
        List<ByteBuffer> data = new ArrayList<>();
        for (Map.Entry<String, Raw> t : new java.util.TreeMap<>(tensors).entrySet()) {
            long n = t.getValue().bytes().capacity();
            header.append(header.length() > 1 ? "," : "").append('"').append(t.getKey()).append("\":{\"dtype\":\"")
                    .append(t.getValue().dtype()).append("\",\"shape\":").append(java.util.Arrays.toString(t.getValue().shape())
                            .replace(" ", "")).append(",\"data_offsets\":[").append(offset).append(',').append(offset + n).append("]}");
            offset += n;
            data.add(t.getValue().bytes().duplicate().clear());
        }
        byte[] h = header.append('}').toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(8 + h.length + (int) offset).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(h.length).put(h);
        data.forEach(out::put);
        Files.write(file, out.array());
        return file;
    }
}
