package org.fwmerge.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.fwmerge.Model;
import org.fwmerge.internal.ReferenceBackend;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Round trips, sharding and atomicity of the writer. */
class SafetensorsWriteTest {

    private static final ReferenceBackend REF = ReferenceBackend.INSTANCE;

    @TempDir
    Path tmp;

    private static final float[] SPECIAL = {0f, -0f, 1f, -1.5f, Float.NaN, Float.POSITIVE_INFINITY,
        Float.NEGATIVE_INFINITY, 0x1p-24f, 0x1p-133f, 6.1e-5f, 65504f, 3.0e38f, Float.MIN_VALUE, 0.1f};

    private static Model model() {
        Map<String, float[]> a = new LinkedHashMap<>();
        Random r = new Random(3);
        float[] w = new float[6 * 5];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian();
        }
        a.put("w", w);
        a.put("special", SPECIAL.clone());
        a.put("s", new float[] {2.75f});
        a.put("e", new float[0]);
        return Model.ofArrays("test", REF, a, Map.of("w", new long[] {6, 5}, "s", new long[0], "e", new long[] {0, 3}));
    }

    private static float[] read(Checkpoint c, String name) {
        try (Tensor t = c.load(name, REF)) {
            return REF.toFloats(t);
        }
    }

    private void roundTrip(DType dtype, java.util.function.UnaryOperator<Float> expected) throws IOException {
        Model m = model();
        Path f = tmp.resolve(dtype + ".safetensors");
        Safetensors.write(m, f, dtype, Map.of("k", "v \"quoted\" ü"));
        try (Checkpoint c = Safetensors.open(f)) {
            assertEquals(List.of("e", "s", "special", "w"), c.names());
            assertEquals(Map.of("k", "v \"quoted\" ü"), c.metadata());
            for (String n : m.names()) {
                assertEquals(dtype, c.info(n).dtype());
                assertArrayEquals(m.info(n).shape(), c.info(n).shape());
                float[] want = m.values(n);
                float[] got = read(c, n);
                for (int i = 0; i < want.length; i++) {
                    float e = expected.apply(want[i]);
                    assertEquals(Float.floatToIntBits(e), Float.floatToIntBits(got[i]), n + "[" + i + "] " + want[i]);
                }
            }
        }
        assertEquals(0, headerLen(f) % 8);
    }

    private static long headerLen(Path f) throws IOException {
        byte[] b = Files.readAllBytes(f);
        return java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
    }

    @Test
    void write_f32_roundTripsBitExact() throws IOException {
        roundTrip(DType.F32, x -> x);
    }

    @Test
    void write_f16_roundTripsThroughNearestHalf() throws IOException {
        // Independent expectation per special value; the random ones via the conversion pair.
        roundTrip(DType.F16, x -> HalfFloats.halfToFloat(HalfFloats.floatToHalf(x)));
        try (Checkpoint c = Safetensors.open(tmp.resolve("F16.safetensors"))) {
            float[] s = read(c, "special");
            assertTrue(Float.isNaN(s[4]));
            assertEquals(Float.POSITIVE_INFINITY, s[5]);
            assertEquals(0x1p-24f, s[7]); // smallest subnormal kept
            assertEquals(0f, s[8]); // underflow
            assertEquals(65504f, s[10]);
            assertEquals(Float.POSITIVE_INFINITY, s[11]); // overflow
            assertEquals(Float.floatToIntBits(-0f), Float.floatToIntBits(s[1]));
        }
    }

    @Test
    void write_bf16_roundTripsThroughNearestBf16() throws IOException {
        roundTrip(DType.BF16, x -> HalfFloats.bfloat16ToFloat(HalfFloats.floatToBFloat16(x)));
        try (Checkpoint c = Safetensors.open(tmp.resolve("BF16.safetensors"))) {
            float[] s = read(c, "special");
            assertTrue(Float.isNaN(s[4]));
            assertEquals(3.0e38f, s[11], 3.0e38f * 0x1p-8f); // in bf16 range
            assertEquals(0x1p-133f, s[8]); // bf16 subnormal, exact
            assertEquals(0.10009765625f, s[13]);
        }
    }

    @Test
    void write_paddedHeader_multipleOf8() throws IOException {
        Path f = tmp.resolve("p.safetensors");
        Safetensors.write(model(), f, DType.F32, Map.of("a", "b"));
        long n = headerLen(f);
        assertEquals(0, n % 8);
        String header = new String(Files.readAllBytes(f), 8, (int) n, java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(header.stripTrailing().endsWith("}") && header.stripTrailing().length() > n - 8, header);
    }

    @Test
    void write_unsupportedDtype_illegalArgument() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Safetensors.write(model(), tmp.resolve("x"), DType.F64, Map.of()));
        assertTrue(e.getMessage().contains("F64"));
        assertFalse(Files.exists(tmp.resolve("x")));
    }

    @Test
    void writeSharded_smallLimit_severalShardsReadBackAsOne() throws IOException {
        Model m = model();
        Path dir = tmp.resolve("out");
        // e (0 B), s (4 B), special (56 B), w (120 B) with a 60-byte limit: [e, s, special] [w] (w exceeds alone).
        Safetensors.writeSharded(m, dir, DType.F32, Map.of("by", "test"), 60);
        assertTrue(Files.exists(dir.resolve("model-00001-of-00002.safetensors")));
        assertTrue(Files.exists(dir.resolve("model-00002-of-00002.safetensors")));
        assertTrue(Files.readString(dir.resolve("model.safetensors.index.json")).contains("\"total_size\": 180"));
        try (Checkpoint c = Safetensors.open(dir)) {
            assertEquals(List.of("e", "s", "special", "w"), c.names());
            assertEquals(Map.of("by", "test", "format", "pt"), c.metadata());
            assertArrayEquals(m.values("w"), read(c, "w"));
            assertEquals(2.75f, read(c, "s")[0]);
        }
        Path dir4 = tmp.resolve("out4");
        Safetensors.writeSharded(m, dir4, DType.F32, Map.of(), 1);
        assertTrue(Files.exists(dir4.resolve("model-00004-of-00004.safetensors")));
        try (Checkpoint c = Safetensors.open(dir4)) {
            assertArrayEquals(m.values("special"), read(c, "special"));
        }
    }

    @Test
    void writeSharded_fitsInOneShard_singleFileAndStaleIndexRemoved() throws IOException {
        Path dir = tmp.resolve("one");
        Safetensors.writeSharded(model(), dir, DType.F32, Map.of(), 2);
        assertTrue(Files.exists(dir.resolve("model.safetensors.index.json")));
        Safetensors.writeSharded(model(), dir, DType.BF16, Map.of(), Safetensors.DEFAULT_MAX_SHARD_BYTES);
        assertTrue(Files.exists(dir.resolve("model.safetensors")));
        assertFalse(Files.exists(dir.resolve("model.safetensors.index.json")));
        try (Checkpoint c = Safetensors.open(dir)) {
            assertEquals(DType.BF16, c.info("w").dtype());
            assertEquals(Map.of("format", "pt"), c.metadata());
        }
    }

    /** A checkpoint whose second load fails, as a crash mid-write would. */
    private static Checkpoint failingOnSecondLoad(Model m) {
        return new Checkpoint() {
            int loads;

            @Override
            public String source() {
                return "failing";
            }

            @Override
            public List<String> names() {
                return m.names();
            }

            @Override
            public TensorInfo info(String name) {
                return m.info(name);
            }

            @Override
            public Tensor load(String name, TensorBackend backend) {
                if (++loads == 2) {
                    throw new IllegalStateException("disk on fire while loading " + name);
                }
                return m.load(name, backend);
            }

            @Override
            public Map<String, String> metadata() {
                return Map.of();
            }
        };
    }

    @Test
    void write_failureMidWrite_noTempFileAndNoOutput() throws IOException {
        Path f = tmp.resolve("new.safetensors");
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Safetensors.write(failingOnSecondLoad(model()), f, DType.F32, Map.of()));
        assertTrue(e.getMessage().contains("disk on fire"));
        try (var s = Files.list(tmp)) {
            assertEquals(List.of(), s.toList());
        }
    }

    @Test
    void write_failureMidWrite_existingOutputUnchanged() throws IOException {
        Path f = tmp.resolve("existing.safetensors");
        Safetensors.write(model(), f, DType.F32, Map.of("v", "1"));
        byte[] before = Files.readAllBytes(f);
        assertThrows(IllegalStateException.class,
                () -> Safetensors.write(failingOnSecondLoad(model()), f, DType.BF16, Map.of()));
        assertArrayEquals(before, Files.readAllBytes(f));
        try (var s = Files.list(tmp)) {
            assertEquals(List.of(f), s.toList());
        }
        Path dir = tmp.resolve("sh");
        assertThrows(IllegalStateException.class,
                () -> Safetensors.writeSharded(failingOnSecondLoad(model()), dir, DType.F32, Map.of(), 1));
        try (var s = Files.list(dir)) {
            // Shard 1 (one load) completed; shard 2 failed; no temporary file and no index.
            assertEquals(List.of(dir.resolve("model-00001-of-00004.safetensors")), s.toList());
        }
    }

    @Test
    void write_fromOpenedFile_readsItAndRewritesIdentically() throws IOException {
        Path f = tmp.resolve("copy.safetensors");
        try (Checkpoint c = Safetensors.open(Fixtures.path("small_f32.safetensors"))) {
            Safetensors.write(c, f, DType.F32, c.metadata());
        }
        assertArrayEquals(Files.readAllBytes(Fixtures.path("small_f32.safetensors")), Files.readAllBytes(f));
    }
    private static List<String> listing(Path dir) throws IOException {
        try (java.util.stream.Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void writeSharded_overAnEarlierShardedWrite_leavesOneConsistentModel() throws IOException {
        Path dir = tmp.resolve("again");
        Safetensors.writeSharded(model(), dir, DType.F32, Map.of(), 40); // 3 shards
        Files.writeString(dir.resolve("README.md"), "not ours");
        assertTrue(listing(dir).contains("model-00003-of-00003.safetensors"), listing(dir).toString());
        Safetensors.writeSharded(model(), dir, DType.F32, Map.of(), 64); // 2 shards
        assertEquals(List.of("README.md", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                "model.safetensors.index.json"), listing(dir));
        Safetensors.writeSharded(model(), dir, DType.F32, Map.of(), Long.MAX_VALUE); // one file
        assertEquals(List.of("README.md", "model.safetensors"), listing(dir));
        Safetensors.writeSharded(model(), dir, DType.F32, Map.of(), 64);
        assertEquals(List.of("README.md", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                "model.safetensors.index.json"), listing(dir), "the earlier single file is gone too");
        try (Checkpoint c = Safetensors.open(dir)) {
            assertArrayEquals(SPECIAL, read(c, "special"));
        }
    }

    @Test
    void write_temporaryFilesOfDeadWriters_areRemoved_liveOnesKept() throws IOException {
        Path f = tmp.resolve("m.safetensors");
        Path dead = Files.writeString(tmp.resolve(".m.safetensors.fwmerge-2147483646-1a2b.tmp"), "half");
        Path live = Files.writeString(tmp.resolve(".m.safetensors.fwmerge-" + ProcessHandle.current().pid() + "-ff.tmp"), "x");
        Path other = Files.writeString(tmp.resolve(".other.safetensors.fwmerge-2147483646-1.tmp"), "other target");
        Safetensors.write(model(), f, DType.F32, Map.of());
        assertFalse(Files.exists(dead), "left by a process that no longer runs");
        assertTrue(Files.exists(live), "its writer still runs");
        assertTrue(Files.exists(other), "belongs to another target");
        assertEquals(List.of(".m.safetensors.fwmerge-" + ProcessHandle.current().pid() + "-ff.tmp",
                ".other.safetensors.fwmerge-2147483646-1.tmp", "m.safetensors"), listing(tmp));
    }

    @Test
    void write_failure_namesTheRequestedFileNotTheTemporaryOne() {
        Path f = tmp.resolve("missing").resolve("m.safetensors");
        IOException e = assertThrows(IOException.class, () -> Safetensors.write(model(), f, DType.F32, Map.of()));
        assertTrue(e.getMessage().startsWith("cannot write " + f.toAbsolutePath()), e.getMessage());
        assertFalse(e.getMessage().contains(".tmp"), e.getMessage());
    }
}
