package org.fwmerge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.DType;
import org.fwmerge.io.Safetensors;
import org.fwmerge.tensor.TensorBackends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's builder example, verbatim apart from the file locations, on real safetensors files. */
class ReadmeExampleTest {

    static Model model(String name, float w0, float w1, float head) {
        Map<String, float[]> m = new LinkedHashMap<>();
        m.put("layer.weight", new float[] {w0, w1, w0 - w1});
        m.put("head.weight", new float[] {head});
        return Model.ofArrays(name, TensorBackends.reference(), m, Map.of());
    }

    @Test
    void readmeExample_mergesFilesAndWritesResult(@TempDir Path dir) throws Exception {
        Safetensors.write(model("base", 0, 0, 9), dir.resolve("base.safetensors"), DType.F32, Map.of());
        Safetensors.write(model("math", 2, 0, 1), dir.resolve("math.safetensors"), DType.F32, Map.of());
        Safetensors.write(model("code", 0, 2, 2), dir.resolve("code.safetensors"), DType.BF16, Map.of());
        Files.createDirectories(dir.resolve("chat"));
        Safetensors.writeSharded(model("chat", -1, -1, 3), dir.resolve("chat"), DType.F16, Map.of(), 16);
        Map<String, float[]> target = new LinkedHashMap<>();
        target.put("layer.weight", new float[] {1, 1, 0});
        Objective objective = new QuadraticObjective(Model.ofArrays("c", TensorBackends.reference(), target, Map.of()));
        Path base = dir.resolve("base.safetensors");
        Path math = dir.resolve("math.safetensors");
        Path code = dir.resolve("code.safetensors");
        Path chat = dir.resolve("chat");
        Path merged = dir.resolve("merged.safetensors");

        // ---- README example (paths substituted) ----
        try (ModelPool pool = ModelPool.open(base, List.of(math, code, chat))) {
            FrankWolfeMerger merger = FrankWolfeMerger.builder()
                    .objective(objective)                     // ℓ(θ) and ∇ℓ(θ) on calibration data
                    .lmo(Lmo.layerWise())                     // each layer picks its own checkpoint
                    .stepSize(StepSizeRule.lineSearch())      // FW-hard; or .soft(SoftOptions.topK(3))
                    .maxIterations(10)
                    .parameters(ParameterSelection.exclude("head\\..*"))
                    .listener((it, max) -> System.out.printf("%d/%d loss %.4f gap %.2e%n", it.iteration() + 1, max, it.loss(), it.gap()))
                    .build();
            MergeResult result = merger.merge(pool);
            Safetensors.write(result.withUnmerged(pool.base()), merged, DType.BF16, result.configuration());
        }
        // ---- end of example ----

        try (Checkpoint out = Safetensors.open(merged)) {
            // The target (1, 1, 0) is the midpoint of math and code; the base (0, 0, 0) is at squared
            // distance 2 from it. Ten vanilla FW steps get most of the way (the optimum lies on a face).
            float[] w = TensorBackends.reference().toFloats(out.load("layer.weight", TensorBackends.reference()));
            double d2 = (w[0] - 1) * (w[0] - 1) + (w[1] - 1) * (w[1] - 1) + w[2] * w[2];
            assertTrue(d2 < 0.2, "squared distance to the optimum " + d2);
            assertEquals(w[0] - w[1], w[2], 2e-2, "the merge stays in the hull: w2 = w0 − w1 for every vertex");
            assertEquals(9f, TensorBackends.reference().toFloats(out.load("head.weight", TensorBackends.reference()))[0],
                    "the head is not merged: it comes from the base");
            assertEquals("fw-hard", out.metadata().get("method"));
            assertTrue(out.metadata().get("candidate.3").contains("chat"), out.metadata().get("candidate.3"));
        }
    }
}
