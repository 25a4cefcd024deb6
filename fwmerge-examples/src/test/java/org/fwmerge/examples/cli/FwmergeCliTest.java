package org.fwmerge.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.fwmerge.Model;
import org.fwmerge.io.DType;
import org.fwmerge.io.Safetensors;
import org.fwmerge.tensor.TensorBackends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Runs {@code fwmerge inspect} in-process on real files. */
class FwmergeCliTest {

    @TempDir
    Path tmp;

    private record Result(int code, String out, String err) {
    }

    private static Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = FwmergeCli.run(args, new PrintWriter(out), new PrintWriter(err));
        return new Result(code, out.toString(), err.toString());
    }

    private Path model() throws IOException {
        Map<String, float[]> a = new LinkedHashMap<>();
        a.put("layer.0.weight", new float[12]);
        a.put("layer.0.bias", new float[3]);
        Path f = tmp.resolve("m.safetensors");
        Safetensors.write(Model.ofArrays("m", TensorBackends.reference(), a, Map.of("layer.0.weight", new long[] {3, 4})),
                f, DType.BF16, Map.of("format", "pt"));
        return f;
    }

    @Test
    void inspect_validFile_listsTensorsAndExitsZero() throws IOException {
        Path f = model();
        Result r = run("inspect", f.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("layer.0.weight") && r.out().contains("BF16") && r.out().contains("[3, 4]"), r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("layer.0.weight") && l.endsWith(" 24")), r.out());
        assertTrue(r.out().contains("format = pt"), r.out());
        assertTrue(r.out().contains("total: 2 tensors (2 mergeable), 15 parameters, 30 bytes"), r.out());
        assertEquals("", r.err());
    }

    @Test
    void inspect_truncatedFile_oneLineErrorExitsOne() throws IOException {
        Path f = model();
        byte[] b = Files.readAllBytes(f);
        Path bad = tmp.resolve("bad.safetensors");
        Files.write(bad, Arrays.copyOf(b, b.length - 2));
        Result r = run("inspect", bad.toString());
        assertEquals(1, r.code());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().contains(bad.toString()) && r.err().contains("truncated"), r.err());
        assertFalse(r.err().contains("\tat "), r.err());
        assertEquals("", r.out());
    }

    @Test
    void inspect_adapterWithBase_listsBaseTensors() throws IOException {
        Path f = model();
        Path dir = tmp.resolve("adapter");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("adapter_config.json"), "{\"r\":1,\"lora_alpha\":2}");
        Map<String, float[]> a = new LinkedHashMap<>();
        a.put("base_model.model.layer.0.lora_A.weight", new float[4]);
        a.put("base_model.model.layer.0.lora_B.weight", new float[3]);
        Safetensors.write(Model.ofArrays("ad", TensorBackends.reference(), a,
                Map.of("base_model.model.layer.0.lora_A.weight", new long[] {1, 4},
                        "base_model.model.layer.0.lora_B.weight", new long[] {3, 1})),
                dir.resolve("adapter_model.safetensors"), DType.F32, Map.of());
        Result r = run("inspect", dir.toString(), "--base", f.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains(f + " + " + dir) && r.out().contains("layer.0.weight"), r.out());
        Result noBase = run("inspect", dir.toString());
        assertEquals(2, noBase.code());
        assertTrue(noBase.err().contains("--base"), noBase.err());
    }

    @Test
    void inspect_missingFile_exitsOne() {
        Result r = run("inspect", tmp.resolve("nope.safetensors").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("no such file") && r.err().contains("nope.safetensors"), r.err());
    }
}
