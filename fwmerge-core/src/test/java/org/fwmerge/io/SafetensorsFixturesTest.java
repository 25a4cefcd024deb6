package org.fwmerge.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.fwmerge.Model;
import org.fwmerge.internal.ReferenceBackend;
import org.fwmerge.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Files written by the reference Python implementation, read and reproduced. */
class SafetensorsFixturesTest {

    private static final ReferenceBackend REF = ReferenceBackend.INSTANCE;

    @TempDir
    Path tmp;

    private static void assertMatchesExpected(Checkpoint c, String fixture) {
        Map<?, ?> expected = Fixtures.expected();
        List<String> names = new ArrayList<>(Fixtures.tensors(expected, fixture));
        names.sort(null);
        assertEquals(names, c.names());
        for (String n : names) {
            assertArrayEquals(Fixtures.shape(expected, fixture, n), c.info(n).shape(), n);
            if (!c.info(n).dtype().isMergeable()) {
                continue;
            }
            try (Tensor t = c.load(n, REF)) {
                assertTrue(t.isReadOnly());
                assertArrayEquals(Fixtures.values(expected, fixture, n), REF.toFloats(t), 0f, fixture + " " + n);
            }
        }
    }

    /**
     * Tensors are read in pieces of at most 256 KiB. Small read sizes split the tensors of these small
     * files into several reads, with pieces ending mid-tensor; every value must still match the
     * reference's.
     */
    @Test
    void open_smallReadSizes_valuesMatchReference() throws IOException {
        for (String f : List.of("small_f32.safetensors", "small_bf16.safetensors", "small_f16.safetensors",
                "mixed_dtypes.safetensors")) {
            for (int readBytes : new int[] {8, 12, 24, 64}) {
                try (SafetensorsFile c = SafetensorsFile.open(Fixtures.path(f), readBytes)) {
                    assertMatchesExpected(c, f);
                }
            }
        }
        assertThrows(IllegalArgumentException.class,
                () -> SafetensorsFile.open(Fixtures.path("small_f32.safetensors"), 4));
    }

    @Test
    void open_smallF32_valuesMatchReference() throws IOException {
        try (Checkpoint c = Safetensors.open(Fixtures.path("small_f32.safetensors"))) {
            assertMatchesExpected(c, "small_f32.safetensors");
            assertEquals(Map.of("format", "pt", "source", "python safetensors 0.8.0"), c.metadata());
            assertEquals(DType.F32, c.info("scalar").dtype());
        }
    }

    @Test
    void open_smallBf16_valuesMatchReference() throws IOException {
        try (Checkpoint c = Safetensors.open(Fixtures.path("small_bf16.safetensors"))) {
            assertEquals(DType.BF16, c.info("layer.0.weight").dtype());
            assertMatchesExpected(c, "small_bf16.safetensors");
        }
    }

    @Test
    void open_smallF16_valuesMatchReference() throws IOException {
        try (Checkpoint c = Safetensors.open(Fixtures.path("small_f16.safetensors"))) {
            assertEquals(DType.F16, c.info("layer.0.weight").dtype());
            assertMatchesExpected(c, "small_f16.safetensors");
        }
    }

    @Test
    void open_mixedDtypes_floatsLoadOthersListedButRefused() throws IOException {
        Path p = Fixtures.path("mixed_dtypes.safetensors");
        try (Checkpoint c = Safetensors.open(p)) {
            assertEquals(DType.F64, c.info("a_f64").dtype());
            assertEquals(DType.I64, c.info("b_i64").dtype());
            assertEquals(DType.U8, c.info("c_u8").dtype());
            assertEquals(DType.BOOL, c.info("d_bool").dtype());
            assertMatchesExpected(c, "mixed_dtypes.safetensors");
            UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> c.load("d_bool", REF));
            assertTrue(e.getCause().getMessage().contains("'d_bool'") && e.getCause().getMessage().contains("BOOL")
                    && e.getCause().getMessage().contains(p.toString()));
        }
    }

    @Test
    void open_shardedDirectory_readsAsOneModel() throws IOException {
        try (Checkpoint c = Safetensors.open(Fixtures.path("sharded"))) {
            assertMatchesExpected(c, "sharded/");
            assertEquals(Map.of("format", "pt"), c.metadata());
        }
    }

    @Test
    void open_readingFixtures_leavesBytesUnchanged() throws IOException {
        List<Path> files = List.of(Fixtures.path("small_f32.safetensors"), Fixtures.path("small_bf16.safetensors"),
                Fixtures.path("sharded/model-00001-of-00002.safetensors"));
        List<byte[]> before = new ArrayList<>();
        for (Path f : files) {
            before.add(Files.readAllBytes(f));
        }
        try (Checkpoint a = Safetensors.open(files.get(0)); Checkpoint b = Safetensors.open(files.get(1));
                Checkpoint s = Safetensors.open(Fixtures.path("sharded"))) {
            for (Checkpoint c : List.of(a, b, s)) {
                for (String n : c.names()) {
                    c.load(n, REF).close();
                }
            }
        }
        for (int i = 0; i < files.size(); i++) {
            assertArrayEquals(before.get(i), Files.readAllBytes(files.get(i)), files.get(i).toString());
        }
    }

    /** The small_f32 tensors as an in-memory model, values taken from expected.json (not from the file). */
    private static Model smallF32Model() {
        Map<?, ?> expected = Fixtures.expected();
        Map<String, float[]> arrays = new LinkedHashMap<>();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (String n : Fixtures.tensors(expected, "small_f32.safetensors")) {
            arrays.put(n, Fixtures.values(expected, "small_f32.safetensors", n));
            shapes.put(n, Fixtures.shape(expected, "small_f32.safetensors", n));
        }
        return Model.ofArrays("small_f32 from expected.json", REF, arrays, shapes);
    }

    @Test
    void write_smallF32WithSameMetadata_byteIdenticalToReferenceWriter() throws IOException {
        Path out = tmp.resolve("out.safetensors");
        Map<String, String> meta = new TreeMap<>(Map.of("source", "python safetensors 0.8.0", "format", "pt"));
        Safetensors.write(smallF32Model(), out, DType.F32, meta);
        assertArrayEquals(Files.readAllBytes(Fixtures.path("small_f32.safetensors")), Files.readAllBytes(out));
    }

    @Test
    void write_smallF32AsBf16AndF16_byteIdenticalToReferenceWriter() throws IOException {
        Model m = smallF32Model();
        Map<String, String> meta = Map.of(); // these fixtures were saved without metadata
        Path bf = tmp.resolve("bf.safetensors");
        Path h = tmp.resolve("h.safetensors");
        Safetensors.write(m, bf, DType.BF16, meta);
        Safetensors.write(m, h, DType.F16, meta);
        // The reference converted the same float32 values with torch's round-to-nearest-even.
        assertArrayEquals(Files.readAllBytes(Fixtures.path("small_bf16.safetensors")), Files.readAllBytes(bf));
        assertArrayEquals(Files.readAllBytes(Fixtures.path("small_f16.safetensors")), Files.readAllBytes(h));
    }

    @Test
    void writeSharded_sameSplitAsFixture_byteIdenticalShardsAndIndex() throws IOException {
        Path dir = tmp.resolve("sharded");
        // 60 bytes: empty + layer.0.bias + layer.0.weight fill the first shard, as in the fixture.
        Safetensors.writeSharded(smallF32Model(), dir, DType.F32, Map.of(), 60);
        for (String f : List.of("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                "model.safetensors.index.json")) {
            assertArrayEquals(Files.readAllBytes(Fixtures.path("sharded/" + f)), Files.readAllBytes(dir.resolve(f)), f);
        }
        try (var s = Files.list(dir)) {
            assertEquals(3, s.count());
        }
        assertFalse(Files.exists(dir.resolve("model.safetensors")));
    }
}
