package org.fwmerge.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.fwmerge.Model;
import org.fwmerge.internal.ReferenceBackend;
import org.fwmerge.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PEFT LoRA adapters: the reference fixture and hand-computed 2×2 products. */
class LoraAdapterTest {

    private static final ReferenceBackend REF = ReferenceBackend.INSTANCE;

    @TempDir
    Path tmp;

    private static float[] read(Checkpoint c, String name) {
        try (Tensor t = c.load(name, REF)) {
            assertTrue(t.isReadOnly());
            return REF.toFloats(t);
        }
    }

    @Test
    void openAdapter_fixture_mergedWeightMatchesReference() throws IOException {
        Path adapter = Fixtures.path("lora_adapter");
        try (Checkpoint base = Safetensors.open(Fixtures.path("small_f32.safetensors"));
                Checkpoint c = Safetensors.openAdapter(base, adapter)) {
            assertEquals(base.source() + " + " + adapter, c.source());
            assertEquals(base.names(), c.names());
            float[] want = Fixtures.values(Fixtures.expected(), "lora_adapter/ merged onto small_f32.safetensors",
                    "layer.0.weight");
            assertArrayEquals(want, read(c, "layer.0.weight"), 1e-6f);
            assertArrayEquals(read(base, "layer.1.weight"), read(c, "layer.1.weight"), 0f);
        }
    }

    private Path base() throws IOException {
        Path p = tmp.resolve("base.safetensors");
        Map<String, float[]> a = new LinkedHashMap<>();
        a.put("m1.weight", new float[] {0, 0, 0, 0});
        a.put("m2.weight", new float[] {1, 2, 3, 4});
        a.put("m3.weight", new float[] {1, 1, 1, 1, 1, 1});
        Safetensors.write(Model.ofArrays("base", REF, a,
                Map.of("m1.weight", new long[] {2, 2}, "m2.weight", new long[] {2, 2}, "m3.weight", new long[] {2, 3})),
                p, DType.F32, Map.of());
        return p;
    }

    /** Writes an adapter directory with the given factors (name → values, shape) and configuration. */
    private Path adapter(String dirName, String config, Map<String, float[]> values, Map<String, long[]> shapes)
            throws IOException {
        Path dir = tmp.resolve(dirName);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("adapter_config.json"), config);
        Safetensors.write(Model.ofArrays("adapter", REF, values, shapes), dir.resolve("adapter_model.safetensors"),
                DType.F32, Map.of("format", "pt"));
        return dir;
    }

    private static String key(String module, String ab) {
        return "base_model.model." + module + ".lora_" + ab + ".weight";
    }

    @Test
    void openAdapter_rsLoraPatternsFanInFanOut_handComputed() throws IOException {
        Map<String, float[]> v = new LinkedHashMap<>();
        Map<String, long[]> s = new LinkedHashMap<>();
        v.put(key("m1", "A"), new float[] {1, 2, 0, 1}); // A = [[1,2],[0,1]], rank 2
        s.put(key("m1", "A"), new long[] {2, 2});
        v.put(key("m1", "B"), new float[] {1, 0, 1, 1}); // B = [[1,0],[1,1]]
        s.put(key("m1", "B"), new long[] {2, 2});
        v.put(key("m2", "A"), new float[] {2, -1}); // rank 1 via rank_pattern
        s.put(key("m2", "A"), new long[] {1, 2});
        v.put(key("m2", "B"), new float[] {1, 0.5f});
        s.put(key("m2", "B"), new long[] {2, 1});
        String cfg = "{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":4,\"use_rslora\":true,\"fan_in_fan_out\":true,"
                + "\"rank_pattern\":{\"m2\":1},\"alpha_pattern\":{\"m2\":3},\"use_dora\":false,\"modules_to_save\":null}";
        Path dir = adapter("ad", cfg, v, s);
        try (Checkpoint base = Safetensors.open(base()); Checkpoint c = Safetensors.openAdapter(base, dir)) {
            // m1: B·A = [[1,2],[1,3]], transposed [[1,1],[2,3]], scaling 4/√2.
            double s1 = 4 / Math.sqrt(2);
            assertArrayEquals(new float[] {(float) s1, (float) s1, (float) (2 * s1), (float) (3 * s1)},
                    read(c, "m1.weight"), 1e-6f);
            // m2: B·A = [[2,-1],[1,-0.5]], transposed [[2,1],[-1,-0.5]], scaling 3/√1 → + [[6,3],[-3,-1.5]].
            assertArrayEquals(new float[] {7, 5, 0, 2.5f}, read(c, "m2.weight"), 0f);
            assertArrayEquals(new float[] {1, 1, 1, 1, 1, 1}, read(c, "m3.weight"), 0f);
        }
    }

    @Test
    void openAdapter_plainLoraNonSquare_handComputed() throws IOException {
        // m3 is [out=2, in=3]; A [1,3] = [1,0,-1], B [2,1] = [2,1]; alpha/r = 1/1... alpha 0.5 → B·A·0.5.
        Path dir = adapter("plain", "{\"r\":1,\"lora_alpha\":0.5}",
                Map.of(key("m3", "A"), new float[] {1, 0, -1}, key("m3", "B"), new float[] {2, 1}),
                Map.of(key("m3", "A"), new long[] {1, 3}, key("m3", "B"), new long[] {2, 1}));
        try (Checkpoint base = Safetensors.open(base()); Checkpoint c = Safetensors.openAdapter(base, dir)) {
            assertArrayEquals(new float[] {2, 1, 0, 1.5f, 1, 0.5f}, read(c, "m3.weight"), 0f);
        }
    }

    @Test
    void openAdapter_useDora_refused() throws IOException {
        Path dir = adapter("dora", "{\"r\":1,\"lora_alpha\":1,\"use_dora\":true}",
                Map.of(key("m1", "A"), new float[] {1, 1}, key("m1", "B"), new float[] {1, 1}),
                Map.of(key("m1", "A"), new long[] {1, 2}, key("m1", "B"), new long[] {2, 1}));
        try (Checkpoint base = Safetensors.open(base())) {
            CheckpointException e = assertThrows(CheckpointException.class, () -> Safetensors.openAdapter(base, dir));
            assertTrue(e.getMessage().contains("use_dora") && e.getMessage().contains("DoRA"), e.getMessage());
        }
    }

    @Test
    void openAdapter_magnitudeVector_refused() throws IOException {
        Path dir = adapter("dora2", "{\"r\":1,\"lora_alpha\":1}",
                Map.of(key("m1", "A"), new float[] {1, 1}, key("m1", "B"), new float[] {1, 1},
                        "base_model.model.m1.lora_magnitude_vector", new float[] {1, 1}),
                Map.of(key("m1", "A"), new long[] {1, 2}, key("m1", "B"), new long[] {2, 1}));
        try (Checkpoint base = Safetensors.open(base())) {
            CheckpointException e = assertThrows(CheckpointException.class, () -> Safetensors.openAdapter(base, dir));
            assertTrue(e.getMessage().contains("lora_magnitude_vector") && e.getMessage().contains("DoRA"));
        }
    }

    @Test
    void openAdapter_modulesToSave_refused() throws IOException {
        Path dir = adapter("mts", "{\"r\":1,\"lora_alpha\":1,\"modules_to_save\":[\"classifier\"]}",
                Map.of(key("m1", "A"), new float[] {1, 1}, key("m1", "B"), new float[] {1, 1}),
                Map.of(key("m1", "A"), new long[] {1, 2}, key("m1", "B"), new long[] {2, 1}));
        try (Checkpoint base = Safetensors.open(base())) {
            CheckpointException e = assertThrows(CheckpointException.class, () -> Safetensors.openAdapter(base, dir));
            assertTrue(e.getMessage().contains("modules_to_save") && e.getMessage().contains("classifier"));
        }
    }

    @Test
    void openAdapter_factorShapesDoNotFit_namesTensorAndShapes() throws IOException {
        Path dir = adapter("bad", "{\"r\":1,\"lora_alpha\":1}",
                Map.of(key("m1", "A"), new float[] {1, 1, 1}, key("m1", "B"), new float[] {1, 1}),
                Map.of(key("m1", "A"), new long[] {1, 3}, key("m1", "B"), new long[] {2, 1}));
        try (Checkpoint base = Safetensors.open(base())) {
            CheckpointMismatchException e = assertThrows(CheckpointMismatchException.class,
                    () -> Safetensors.openAdapter(base, dir));
            String m = e.getMessage();
            assertTrue(m.contains("'m1.weight'") && m.contains("[1, 3]") && m.contains("[2, 2]"), m);
        }
    }

    @Test
    void openAdapter_targetMissingFromBase_namesTensor() throws IOException {
        Path dir = adapter("miss", "{\"r\":1,\"lora_alpha\":1}",
                Map.of(key("m9", "A"), new float[] {1, 1}, key("m9", "B"), new float[] {1, 1}),
                Map.of(key("m9", "A"), new long[] {1, 2}, key("m9", "B"), new long[] {2, 1}));
        try (Checkpoint base = Safetensors.open(base())) {
            CheckpointMismatchException e = assertThrows(CheckpointMismatchException.class,
                    () -> Safetensors.openAdapter(base, dir));
            assertTrue(e.getMessage().contains("'m9.weight'") && e.getMessage().contains("[1, 2]"), e.getMessage());
        }
    }
}
