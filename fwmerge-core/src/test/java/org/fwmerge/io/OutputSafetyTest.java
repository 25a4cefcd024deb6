package org.fwmerge.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.fwmerge.MergeResult;
import org.fwmerge.ModelPool;
import org.fwmerge.ParameterSelection;
import org.fwmerge.baseline.TaskArithmetic;
import org.fwmerge.tensor.TensorBackends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Outputs never destroy inputs, and tensors that cannot be merged are refused early by name or pass
 * through unchanged: on the reference fixtures (F64, I64, U8, BOOL and F32 in one file; a sharded
 * model; a LoRA adapter).
 */
class OutputSafetyTest {

    @TempDir
    Path tmp;

    private Path copy(String fixture, String as) throws IOException {
        Path to = tmp.resolve(as);
        Files.createDirectories(to.getParent());
        Files.copy(Fixtures.path(fixture), to);
        return to;
    }

    private static byte[] bytes(Checkpoint c, String name) {
        ByteBuffer b = c.storedBytes(name).orElseThrow();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    @Test
    void selectingATensorThatCannotBeMerged_failsBeforeAnyWork_namingFileTensorAndDtype() throws IOException {
        Path base = copy("mixed_dtypes.safetensors", "base.safetensors");
        Path cand = copy("mixed_dtypes.safetensors", "cand.safetensors");
        try (ModelPool pool = ModelPool.open(base, List.of(cand))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> TaskArithmetic.builder().backend(TensorBackends.reference()).build().merge(pool));
            assertEquals(base + ": tensor 'b_i64' has dtype I64, which cannot be merged (F32, F64, F16, BF16 only);"
                    + " leave it out of the parameter selection (it then passes through from the base unchanged)", e.getMessage());
        }
    }

    @Test
    void tensorsLeftOutOfTheMerge_passThroughWithTheirDtypeAndBytes() throws IOException {
        Path base = copy("mixed_dtypes.safetensors", "base.safetensors");
        Path cand = copy("mixed_dtypes.safetensors", "cand.safetensors");
        Path out = tmp.resolve("out.safetensors");
        try (ModelPool pool = ModelPool.open(base, List.of(cand))) {
            MergeResult r = TaskArithmetic.builder().parameters(ParameterSelection.include("a_f64", "e_f32"))
                    .backend(TensorBackends.reference()).build().merge(pool);
            Safetensors.write(r.withUnmerged(pool.base()), out, DType.BF16, Map.of());
            try (Checkpoint written = Safetensors.open(out)) {
                for (String name : List.of("b_i64", "c_u8", "d_bool")) {
                    assertEquals(pool.base().info(name), written.info(name), name + ": dtype and shape kept");
                    assertArrayEquals(bytes(pool.base(), name), bytes(written, name), name + ": bytes kept");
                }
                assertEquals(DType.BF16, written.info("e_f32").dtype(), "merged tensors take the requested dtype");
                assertEquals(DType.BF16, written.info("a_f64").dtype());
            }
        }
    }

    /** A hand-built safetensors file holding one tensor "t" of 4 elements in {@code dtype}. */
    private Path handBuilt(String name, String dtype, int width) throws IOException {
        String json = "{\"t\":{\"dtype\":\"" + dtype + "\",\"shape\":[4],\"data_offsets\":[0," + 4 * width + "]}}";
        while (json.length() % 8 != 0) {
            json += " ";
        }
        ByteBuffer b = ByteBuffer.allocate(8 + json.length() + 4 * width).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putLong(json.length()).put(json.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        Path f = tmp.resolve(name);
        Files.write(f, b.array());
        return f;
    }

    @Test
    void poolOpen_tensorMergeableInOneCheckpointOnly_isAMismatch() throws IOException {
        Path base = handBuilt("base.safetensors", "F32", 4);
        Path ints = handBuilt("ints.safetensors", "I32", 4);
        CheckpointMismatchException e = assertThrows(CheckpointMismatchException.class,
                () -> ModelPool.open(base, List.of(ints)));
        assertEquals("candidate " + ints + ": tensor 't' has dtype I32 but base " + base + " has F32; a tensor is merged"
                + " (a floating type) or passed through (any other) in every checkpoint alike", e.getMessage());
    }

    /** A pool's inputs in {@link #tmp}: a base, a single-file candidate, a sharded one and a LoRA adapter. */
    private record Inputs(Path base, Path cand, Path sharded, Path adapter) {
    }

    private Inputs inputs() throws IOException {
        Path sharded = tmp.resolve("sharded");
        for (String f : List.of("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                "model.safetensors.index.json")) {
            copy("sharded/" + f, "sharded/" + f);
        }
        copy("lora_adapter/adapter_config.json", "adapter/adapter_config.json");
        copy("lora_adapter/adapter_model.safetensors", "adapter/adapter_model.safetensors");
        return new Inputs(copy("small_f32.safetensors", "base.safetensors"), copy("small_bf16.safetensors", "cand.safetensors"),
                sharded, tmp.resolve("adapter"));
    }

    @Test
    void writingOverAnInput_isRefusedNamingBothPaths_andTheInputIsUntouched() throws IOException {
        Inputs in = inputs();
        Path base = in.base();
        Path cand = in.cand();
        Path sharded = in.sharded();
        Path adapter = in.adapter();
        Path link = Files.createSymbolicLink(tmp.resolve("link.safetensors"), cand);
        byte[] candBytes = Files.readAllBytes(cand);
        try (ModelPool pool = ModelPool.open(base, List.of(cand, sharded, adapter))) {
            MergeResult r = TaskArithmetic.builder().backend(TensorBackends.reference()).build().merge(pool);
            org.fwmerge.io.Checkpoint model = r.withUnmerged(pool.base());
            Files.createDirectories(tmp.resolve("x"));
            for (Path target : List.of(base, cand, link, tmp.resolve("x/../cand.safetensors"),
                    sharded.resolve("model-00002-of-00002.safetensors"), adapter.resolve("adapter_model.safetensors"))) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> Safetensors.write(model, target, DType.F32, Map.of()), target.toString());
                assertTrue(e.getMessage().startsWith("refusing to write " + target + ": it is "), e.getMessage());
            }
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Safetensors.writeSharded(model, sharded, DType.F32, Map.of(), 64));
            assertTrue(e.getMessage().startsWith("refusing to write " + sharded + ": it holds "), e.getMessage());
            Safetensors.write(model, tmp.resolve("merged.safetensors"), DType.F32, Map.of()); // a new path is fine
        }
        assertArrayEquals(candBytes, Files.readAllBytes(cand), "the candidate is untouched");
    }

    /**
     * A model that knows nothing of the pool (a plain {@link org.fwmerge.Model}, no files of its own) still
     * cannot replace a file an open checkpoint reads, by any spelling, nor can any other atomic write.
     */
    @Test
    void writingAPlainModelOverAnOpenInput_isRefused_untilTheInputIsClosed() throws IOException {
        Inputs in = inputs();
        Path base = in.base();
        Path cand = in.cand();
        Path sharded = in.sharded();
        Path adapter = in.adapter();
        Path symlink = Files.createSymbolicLink(tmp.resolve("link.safetensors"), cand);
        Path hardLink = Files.createLink(tmp.resolve("hard.safetensors"), cand);
        Files.createDirectories(tmp.resolve("x"));
        List<Path> inputs = List.of(base, cand, symlink, hardLink, tmp.resolve("x/../cand.safetensors"),
                sharded.resolve("model-00002-of-00002.safetensors"), sharded.resolve("model.safetensors.index.json"),
                adapter.resolve("adapter_model.safetensors"), adapter.resolve("adapter_config.json"));
        Map<Path, byte[]> before = new java.util.HashMap<>();
        for (Path p : inputs) {
            before.put(p, Files.readAllBytes(p));
        }
        try (ModelPool pool = ModelPool.open(base, List.of(cand, sharded, adapter))) {
            try (org.fwmerge.Model plain = org.fwmerge.Model.load(pool.base(), pool.base().names(),
                    TensorBackends.reference())) {
                for (Path target : inputs) {
                    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                            () -> Safetensors.write(plain, target, DType.F32, Map.of()), target.toString());
                    assertTrue(e.getMessage().startsWith("refusing to write " + target.toAbsolutePath() + ": it is "),
                            e.getMessage());
                    assertTrue(e.getMessage().contains("which an open checkpoint of this process reads"), e.getMessage());
                    assertThrows(IllegalArgumentException.class, () -> AtomicFiles.writeString(target, "{}"),
                            target.toString());
                }
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> Safetensors.writeSharded(plain, sharded, DType.F32, Map.of(), 64));
                assertTrue(e.getMessage().startsWith("refusing to write " + sharded + ": it holds "), e.getMessage());
                for (Path p : inputs) {
                    assertArrayEquals(before.get(p), Files.readAllBytes(p), p + " is untouched");
                }
                try (ModelPool sub = pool.subset(List.of(0))) {
                    assertEquals(1, sub.size());
                }
                assertThrows(IllegalArgumentException.class, () -> Safetensors.write(plain, cand, DType.F32, Map.of()),
                        "closing a subset does not close (or release) its parent's files");
            }
        }
        try (org.fwmerge.Model plain = org.fwmerge.Model.ofArrays("m", TensorBackends.reference(),
                Map.of("w", new float[] {1, 2}), Map.of())) {
            Safetensors.write(plain, cand, DType.F32, Map.of()); // closed: no longer an input
        }
    }

    @Test
    void writeString_replacesTheTargetWithExactlyTheUtf8Text_leavingNoTemporary() throws IOException {
        Path target = tmp.resolve("report.json");
        Files.writeString(target, "old content that is longer than the new one");
        String text = "{\"λ\": \"0.5 → 0.6\"}\n";
        AtomicFiles.writeString(target, text);
        assertArrayEquals(text.getBytes(java.nio.charset.StandardCharsets.UTF_8), Files.readAllBytes(target));
        try (var files = Files.list(tmp)) {
            assertEquals(List.of(target), files.toList(), "only the target remains");
        }
    }
}
