package org.fwmerge.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.fwmerge.Evaluation;
import org.fwmerge.FrankWolfeMerger;
import org.fwmerge.Lmo;
import org.fwmerge.MergeResult;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.SoftOptions;
import org.fwmerge.Variant;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.DType;
import org.fwmerge.io.Safetensors;
import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * FW-hard and FW-soft end to end on the tiny Llama: a pool of Hugging Face folders written next to its
 * base — one F32 file, one sharded, one BF16, one LoRA adapter over the base — merged through the ONNX
 * objective. The same pool with every candidate rewritten as one F32 file (the BF16 values are exactly
 * representable, the adapter materialised) must give the same merge bit for bit.
 */
class FrankWolfeOnnxTest {

    private static final TensorBackend B = Fixtures.ND4J;
    private static final String ARCH = "llama";

    @TempDir
    static Path dir;
    static Path base;
    static List<Path> mixed;
    static List<Path> plain;

    @BeforeAll
    static void writePool() throws IOException {
        base = Fixtures.file(ARCH, "model.safetensors");
        String config = Files.readString(Fixtures.file(ARCH, "config.json"));
        try (Checkpoint b = Safetensors.open(base);
             OnnxObjective objective = Fixtures.objective(ARCH);
             Model theta = Model.load(b, b.names(), TensorBackends.reference());
             Evaluation g = objective.evaluate(theta)) {
            SplittableRandom random = new SplittableRandom(11);
            // A descent step along -∇ℓ (a "fine-tune" that helps on the calibration data), and noisier ones.
            Model descent = shifted(theta, g, -0.5, 0.0, random, false);
            Model noisy = shifted(theta, g, -0.2, 0.02, random, false);
            Model bf16 = shifted(theta, g, -0.3, 0.01, random, true);
            mixed = List.of(folder("plain", config), folder("sharded", config), folder("bf16", config), dir.resolve("lora"));
            plain = List.of(folder("plain-f32", config), folder("sharded-f32", config), folder("bf16-f32", config),
                    folder("lora-f32", config));
            Safetensors.write(descent, mixed.get(0).resolve("model.safetensors"), DType.F32, Map.of("format", "pt"));
            Safetensors.writeSharded(noisy, mixed.get(1), DType.F32, Map.of(), 4096);
            Safetensors.write(bf16, mixed.get(2).resolve("model.safetensors"), DType.BF16, Map.of("format", "pt"));
            writeAdapter(mixed.get(3), b, random);
            Safetensors.write(descent, plain.get(0).resolve("model.safetensors"), DType.F32, Map.of());
            Safetensors.write(noisy, plain.get(1).resolve("model.safetensors"), DType.F32, Map.of());
            Safetensors.write(bf16, plain.get(2).resolve("model.safetensors"), DType.F32, Map.of());
            try (Checkpoint adapted = Safetensors.openAdapter(b, mixed.get(3))) {
                Safetensors.write(adapted, plain.get(3).resolve("model.safetensors"), DType.F32, Map.of());
            }
            descent.close();
            noisy.close();
            bf16.close();
        }
        assertTrue(Files.list(mixed.get(1)).filter(p -> p.getFileName().toString().startsWith("model-0")).count() > 1,
                "the sharded candidate has several shards");
    }

    @Test
    void fwHardAndFwSoftLowerTheLossOverAMixedPoolAndMatchTheF32Pool() throws IOException {
        for (Variant variant : List.of(Variant.hard(), Variant.soft(SoftOptions.topK(2)))) {
            float[][] merged = new float[2][];
            for (int k = 0; k < 2; k++) {
                List<Path> candidates = k == 0 ? mixed : plain;
                try (ModelPool pool = ModelPool.open(base, candidates);
                     OnnxObjective objective = Fixtures.objective(ARCH);
                     Model start = Model.load(pool.base(), pool.base().names(), B)) {
                    double startLoss = objective.loss(start);
                    FrankWolfeMerger merger = FrankWolfeMerger.builder().objective(objective).lmo(Lmo.taskWise())
                            .variant(variant).maxIterations(4).backend(B).build();
                    try (MergeResult r = merger.merge(pool)) {
                        double recomputed = objective.loss(r.model());
                        assertEquals(recomputed, r.returnedLoss(), 1e-6 * recomputed, variant + ": returned loss");
                        assertTrue(r.returnedLoss() < startLoss - 1e-3, variant + ": loss " + r.returnedLoss()
                                + " not below the base's " + startLoss);
                        merged[k] = flatten(r.model());
                    }
                }
            }
            assertArrayEquals(merged[1], merged[0], variant + ": the mixed pool merges as its F32 rewrite");
        }
    }

    private static Path folder(String name, String config) throws IOException {
        Path d = Files.createDirectories(dir.resolve(name));
        Files.writeString(d.resolve("config.json"), config, StandardCharsets.UTF_8);
        return d;
    }

    /** θ + a·∇ℓ + noise·N(0,1)·rms(θ_t) per tensor; rounded to bfloat16-representable floats if asked. */
    private static Model shifted(Model theta, Evaluation g, double a, double noise, SplittableRandom random,
            boolean bf16) {
        Map<String, float[]> out = new LinkedHashMap<>();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        double gg = 0;
        for (String n : theta.names()) {
            float[] v = theta.backend().toFloats(g.gradient(n));
            for (float f : v) {
                gg += (double) f * f;
            }
        }
        double scale = a / Math.sqrt(gg);
        for (String n : theta.names()) {
            float[] w = theta.values(n);
            float[] d = theta.backend().toFloats(g.gradient(n));
            double rms = 0;
            for (float f : w) {
                rms += (double) f * f;
            }
            rms = Math.sqrt(rms / w.length);
            for (int i = 0; i < w.length; i++) {
                float v = (float) (w[i] + scale * d[i] + noise * rms * gaussian(random));
                w[i] = bf16 ? Float.intBitsToFloat(Float.floatToRawIntBits(v) & 0xFFFF0000) : v;
            }
            out.put(n, w);
            shapes.put(n, theta.tensor(n).shape());
        }
        return Model.ofArrays("shifted", TensorBackends.reference(), out, shapes);
    }

    private static double gaussian(SplittableRandom r) {
        return Math.sqrt(-2 * Math.log(1 - r.nextDouble())) * Math.cos(2 * Math.PI * r.nextDouble());
    }

    /** A PEFT LoRA adapter (r = 2, alpha = 4) on every attention projection of the base. */
    private static void writeAdapter(Path d, Checkpoint b, SplittableRandom random) throws IOException {
        Files.createDirectories(d);
        Files.writeString(d.resolve("adapter_config.json"), """
                {"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}
                """);
        Map<String, float[]> f = new LinkedHashMap<>();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (String n : b.names()) {
            if (n.matches(".*self_attn\\.[qkvo]_proj\\.weight")) {
                long[] s = b.info(n).shape();
                String module = "base_model.model." + n.substring(0, n.length() - ".weight".length());
                f.put(module + ".lora_A.weight", noise(random, (int) (2 * s[1]), 0.1));
                shapes.put(module + ".lora_A.weight", new long[] {2, s[1]});
                f.put(module + ".lora_B.weight", noise(random, (int) (s[0] * 2), 0.05));
                shapes.put(module + ".lora_B.weight", new long[] {s[0], 2});
            }
        }
        try (Model adapter = Model.ofArrays("adapter", TensorBackends.reference(), f, shapes)) {
            Safetensors.write(adapter, d.resolve("adapter_model.safetensors"), DType.F32, Map.of());
        }
    }

    private static float[] noise(SplittableRandom r, int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (scale * gaussian(r));
        }
        return v;
    }

    private static float[] flatten(Model m) {
        int n = (int) m.parameterCount();
        float[] out = new float[n];
        int off = 0;
        for (String name : m.names()) {
            float[] v = m.values(name);
            System.arraycopy(v, 0, out, off, v.length);
            off += v.length;
        }
        return out;
    }
}
