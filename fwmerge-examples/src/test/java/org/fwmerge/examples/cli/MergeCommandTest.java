package org.fwmerge.examples.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fwmerge.MergeResult;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.ParameterSelection;
import org.fwmerge.baseline.GeneralizedTaskArithmetic;
import org.fwmerge.baseline.Karcher;
import org.fwmerge.baseline.MultiSlerp;
import org.fwmerge.baseline.NuSlerp;
import org.fwmerge.baseline.Sce;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.DType;
import org.fwmerge.io.Safetensors;
import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/** {@code fwmerge merge} on real files: mergekit's methods and keys, frank_wolfe, outputs and errors. */
class MergeCommandTest {

    private static final TensorBackend REF = TensorBackends.reference();
    private static final float[][] W = {{0, 0, 0, 0, 0, 0}, {1, -2, 0.5f, 3, -1, 0.25f}, {-1, 1, 2, 0.5f, 0.5f, -3},
            {2, 0.5f, -0.5f, 1, 1, 1}};

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

    private static Model model(String name, float[] w, float bias) {
        Map<String, float[]> a = new LinkedHashMap<>();
        a.put("w", w);
        a.put("b", new float[] {bias, -bias, 2 * bias});
        return Model.ofArrays(name, REF, a, Map.of("w", new long[] {2, 3}));
    }

    /** base/ (a model directory with config and tokenizer files) and m1..m3.safetensors. */
    private void models() throws IOException {
        Path base = Files.createDirectories(tmp.resolve("base"));
        Safetensors.write(model("base", W[0], 0), base.resolve("model.safetensors"), DType.F32, Map.of());
        Files.writeString(base.resolve("config.json"), "{\"model_type\": \"tiny\"}");
        Files.writeString(base.resolve("tokenizer.json"), "{}");
        for (int i = 1; i <= 3; i++) {
            Safetensors.write(model("m" + i, W[i], i), tmp.resolve("m" + i + ".safetensors"), DType.F32, Map.of());
        }
    }

    private Path yaml(String text) throws IOException {
        return Files.writeString(tmp.resolve("config.yaml"), text.replace("$D", tmp.toString()));
    }

    private float[] merged(String dir, String tensor) throws IOException {
        try (Checkpoint c = Safetensors.open(tmp.resolve(dir))) {
            return REF.toFloats(c.load(tensor, REF));
        }
    }

    @Test
    void taskArithmetic_perModelWeightsAndLambda_matchTheDefinition() throws IOException {
        models();
        Path cfg = yaml("""
                merge_method: task_arithmetic
                base_model: $D/base
                models:
                  - model: $D/m1.safetensors
                    parameters: {weight: 0.5}
                  - model: $D/m2.safetensors
                    parameters: {weight: 0.3}
                  - model: $D/m3.safetensors
                parameters:
                  weight: 0.2
                  lambda: 0.5
                dtype: float32
                """);
        Result r = run("merge", cfg.toString(), tmp.resolve("out").toString());
        assertEquals(0, r.code(), r.err());
        float[] w = merged("out", "w");
        double[] weights = {0.5, 0.3, 0.2};
        for (int j = 0; j < 6; j++) {
            double expected = 0;
            for (int i = 0; i < 3; i++) {
                expected += weights[i] * W[i + 1][j];
            }
            assertEquals(0.5 * expected, w[j], 1e-6, "w[" + j + "] = λ·Σ w_i τ_i (base 0)");
        }
        assertTrue(r.err().contains("fwmerge merge: task_arithmetic"), r.err());
        assertEquals("", r.out());
    }

    @Test
    void linear_isTheNormalisedWeightedMean_andCopiesTheBasesFilesAndConfig() throws IOException {
        models();
        Path cfg = yaml("""
                merge_method: linear
                base_model: $D/base
                models:
                  - model: $D/m1.safetensors
                    parameters: {weight: 3}
                  - model: $D/m2.safetensors
                    parameters: {weight: 1}
                parameters: {weight: 2}
                dtype: bfloat16
                """);
        Result r = run("merge", cfg.toString(), tmp.resolve("out").toString());
        assertEquals(0, r.code(), r.err());
        float[] b = merged("out", "b");
        // mergekit's linear: base_model not among the models is averaged in with the global weight (base b = 0)
        assertEquals((3 * 1 + 1 * 2 + 2 * 0) / 6.0, b[0], 1e-2, "Σ w θ / Σ w over m1, m2 and the base, in bfloat16");
        assertEquals((3 * 2 + 1 * 4 + 2 * 0) / 6.0, b[2], 1e-2, "Σ w θ / Σ w over m1, m2 and the base, in bfloat16");
        try (Checkpoint c = Safetensors.open(tmp.resolve("out"))) {
            assertEquals(DType.BF16, c.info("w").dtype());
            assertTrue(c.metadata().get("fwmerge.config").contains("merge_method: linear"));
            assertEquals("weight-averaging", c.metadata().get("method"));
        }
        assertEquals("{\"model_type\": \"tiny\"}", Files.readString(tmp.resolve("out/config.json")));
        assertTrue(Files.exists(tmp.resolve("out/tokenizer.json")));
        assertEquals(Files.readString(cfg), Files.readString(tmp.resolve("out/fwmerge_config.yml")));
    }

    @Test
    void slerp_interpolatesOnTheArcFromTheBase_asMergekitDefinesIt() throws IOException {
        models();
        Path cfg = yaml("merge_method: slerp\nbase_model: $D/m2.safetensors\nmodels:\n  - model: $D/m2.safetensors\n"
                + "  - model: $D/m1.safetensors\nparameters: {t: 0.3}\n");
        Result r = run("merge", cfg.toString(), tmp.resolve("out").toString());
        assertEquals(0, r.code(), r.err());
        float[] w = merged("out", "w");
        double[] want = slerp(0.3, W[2], W[1]);
        for (int j = 0; j < 6; j++) {
            assertEquals(want[j], w[j], 1e-6, "w[" + j + "]");
        }
        assertTrue(r.err().contains("fwmerge merge: slerp over base"), r.err());
        Path three = yaml("merge_method: slerp\nbase_model: $D/base\nmodels:\n  - model: $D/m1.safetensors\n"
                + "  - model: $D/m2.safetensors\nparameters: {t: 0.3}\n");
        Result bad = run("merge", three.toString(), tmp.resolve("out2").toString());
        assertEquals(1, bad.code(), bad.err());
        assertTrue(bad.err().contains("merge_method slerp interpolates from base_model to exactly one other model by"
                + " parameters.t (0: the base, 1: the other); this configuration has 2 other model(s)"), bad.err());
    }

    /** mergekit's slerp of two tensors, in double (the fixtures below are never near-parallel). */
    private static double[] slerp(double t, float[] v0, float[] v1) {
        double n0 = 0;
        double n1 = 0;
        double dot = 0;
        for (int j = 0; j < v0.length; j++) {
            n0 += v0[j] * (double) v0[j];
            n1 += v1[j] * (double) v1[j];
            dot += v0[j] * (double) v1[j];
        }
        double omega = Math.acos(dot / Math.sqrt(n0 * n1));
        double[] out = new double[v0.length];
        for (int j = 0; j < v0.length; j++) {
            out[j] = (Math.sin((1 - t) * omega) * v0[j] + Math.sin(t * omega) * v1[j]) / Math.sin(omega);
        }
        return out;
    }

    @Test
    void slerp_gradientOverLayersAndFilters_giveEachTensorMergekitsT() throws IOException {
        // Three layers of attention and MLP plus embeddings and a final norm, in the Llama layout.
        List<String> names = List.of("model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
                "model.layers.0.mlp.up_proj.weight", "model.layers.1.self_attn.q_proj.weight",
                "model.layers.1.mlp.up_proj.weight", "model.layers.2.self_attn.q_proj.weight",
                "model.layers.2.mlp.up_proj.weight", "model.norm.weight");
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(8);
        Map<String, float[]> a = new LinkedHashMap<>();
        Map<String, float[]> b = new LinkedHashMap<>();
        for (String n : names) {
            float[] x = new float[12];
            float[] y = new float[12];
            for (int j = 0; j < 12; j++) {
                x[j] = (float) rnd.nextGaussian();
                y[j] = (float) rnd.nextGaussian();
            }
            a.put(n, x);
            b.put(n, y);
        }
        Safetensors.write(Model.ofArrays("a", REF, a, Map.of()), tmp.resolve("a.safetensors"), DType.F32, Map.of());
        Safetensors.write(Model.ofArrays("b", REF, b, Map.of()), tmp.resolve("b.safetensors"), DType.F32, Map.of());
        Path cfg = yaml("""
                merge_method: slerp
                base_model: $D/a.safetensors
                models:
                  - model: $D/a.safetensors
                  - model: $D/b.safetensors
                parameters:
                  t:
                    - filter: self_attn
                      value: [0, 0.5, 0.3, 0.7, 1]
                    - filter: mlp
                      value: [1, 0.5, 0.7, 0.3, 0]
                    - value: 0.25
                """);
        Result r = run("merge", cfg.toString(), tmp.resolve("out").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("5 groups of settings"), r.err());
        // layer k of 3 sits at k/2 of the gradient: 5 points → position 2k, interpolated; others take 0.25
        Map<String, Double> t = new LinkedHashMap<>();
        t.put("model.embed_tokens.weight", 0.25);
        t.put("model.layers.0.self_attn.q_proj.weight", 0.0);
        t.put("model.layers.0.mlp.up_proj.weight", 1.0);
        t.put("model.layers.1.self_attn.q_proj.weight", 0.3);
        t.put("model.layers.1.mlp.up_proj.weight", 0.7);
        t.put("model.layers.2.self_attn.q_proj.weight", 1.0);
        t.put("model.layers.2.mlp.up_proj.weight", 0.0);
        t.put("model.norm.weight", 0.25);
        for (String n : names) {
            float[] got = merged("out", n);
            double[] want = slerp(t.get(n), a.get(n), b.get(n));
            for (int j = 0; j < 12; j++) {
                assertEquals(want[j], got[j], 1e-6, n + "[" + j + "] at t=" + t.get(n));
            }
        }
    }

    @Test
    void layerPosition_isTheLayersShareOfTheStack_zeroOutsideIt() {
        List<String> names = List.of("transformer.wte.weight", "transformer.h.0.attn.c_attn.weight",
                "transformer.h.1.attn.c_attn.weight", "transformer.h.4.mlp.c_fc.weight", "transformer.ln_f.weight");
        assertEquals(0.0, MergeConfig.layerPosition("transformer.wte.weight", names));
        assertEquals(0.25, MergeConfig.layerPosition("transformer.h.1.attn.c_attn.weight", names));
        assertEquals(1.0, MergeConfig.layerPosition("transformer.h.4.mlp.c_fc.weight", names));
        assertEquals(0.0, MergeConfig.layerPosition("transformer.ln_f.weight", names));
        assertEquals(0.55, MergeConfig.evaluate(List.of(0.1, 1.0), "x", 0.5), 1e-12, "gradient interpolated");
        assertEquals(null, MergeConfig.evaluate(List.of(Map.of("filter", "mlp", "value", 1)), "attn", 0));
    }

    @Test
    void breadcrumbsTies_yamlSettingsReachTheMergerUnchanged() throws IOException {
        models();
        Path cfg = yaml("""
                merge_method: breadcrumbs_ties
                base_model: $D/base
                models:
                  - model: $D/m1.safetensors
                    parameters: {weight: 1.0, density: 0.5, gamma: 0.2}
                  - model: $D/m2.safetensors
                    parameters: {weight: 0.5}
                parameters:
                  density: 0.7
                  gamma: 0.1
                  lambda: 1.5
                """);
        Result r = run("merge", cfg.toString(), tmp.resolve("out").toString());
        assertEquals(0, r.code(), r.err());
        try (ModelPool pool = ModelPool.open(tmp.resolve("base"), List.of(tmp.resolve("m1.safetensors"),
                tmp.resolve("m2.safetensors")))) {
            MergeResult direct = GeneralizedTaskArithmetic.builder(GeneralizedTaskArithmetic.Method.BREADCRUMBS_TIES)
                    .weights(1.0, 0.5).densities(0.5, 0.7).gammas(0.2, 0.1).lambda(1.5).backend(REF).build().merge(pool);
            for (String name : List.of("w", "b")) {
                assertArrayEquals(direct.model().values(name), merged("out", name), name);
            }
            direct.model().close();
        }
    }

    @Test
    void sce_yamlSelectTopKReachesTheMerger_andUnknownKeysAreRefused() throws IOException {
        models();
        Path cfg = yaml("merge_method: sce\nbase_model: $D/base\nmodels:\n  - model: $D/m1.safetensors\n"
                + "  - model: $D/m2.safetensors\n  - model: $D/m3.safetensors\nparameters: {select_topk: 0.5, int8_mask: true}\n");
        Result r = run("merge", cfg.toString(), tmp.resolve("out").toString());
        assertEquals(0, r.code(), r.err());
        try (ModelPool pool = ModelPool.open(tmp.resolve("base"), List.of(tmp.resolve("m1.safetensors"),
                tmp.resolve("m2.safetensors"), tmp.resolve("m3.safetensors")))) {
            MergeResult direct = Sce.builder().selectTopK(0.5).backend(REF).build().merge(pool);
            for (String name : List.of("w", "b")) {
                assertArrayEquals(direct.model().values(name), merged("out", name), name);
            }
            // half the entries selected: the merge differs from select_topk 1's
            MergeResult all = Sce.builder().backend(REF).build().merge(pool);
            assertFalse(java.util.Arrays.equals(all.model().values("w"), merged("out", "w")), "select_topk had an effect");
            direct.model().close();
            all.model().close();
        }
        Path bad = yaml("merge_method: sce\nbase_model: $D/base\nmodels:\n  - model: $D/m1.safetensors\n"
                + "    parameters: {weight: 1}\n");
        Result refused = run("merge", bad.toString(), tmp.resolve("out2").toString());
        assertEquals(1, refused.code(), refused.err());
        assertTrue(refused.err().contains("weight"), refused.err());
    }

    @Test
    void della_yamlSettingsReachTheMergerUnchanged_andABadEpsilonNamesTheModel() throws IOException {
        models();
        Path cfg = yaml("""
                merge_method: della
                base_model: $D/base
                models:
                  - model: $D/m1.safetensors
                    parameters: {weight: 1.0, density: 0.5, epsilon: 0.2}
                  - model: $D/m2.safetensors
                    parameters: {weight: 0.5}
                parameters:
                  density: 0.7
                  epsilon: 0.1
                  lambda: 1.5
                """);
        Result r = run("merge", cfg.toString(), tmp.resolve("out").toString(), "--seed", "3");
        assertEquals(0, r.code(), r.err());
        try (ModelPool pool = ModelPool.open(tmp.resolve("base"), List.of(tmp.resolve("m1.safetensors"),
                tmp.resolve("m2.safetensors")))) {
            MergeResult direct = GeneralizedTaskArithmetic.builder(GeneralizedTaskArithmetic.Method.DELLA)
                    .weights(1.0, 0.5).densities(0.5, 0.7).epsilons(0.2, 0.1).lambda(1.5).seed(3).backend(REF).build().merge(pool);
            for (String name : List.of("w", "b")) {
                assertArrayEquals(direct.model().values(name), merged("out", name), name);
            }
            direct.model().close();
        }
        Path bad = yaml("merge_method: della_linear\nbase_model: $D/base\nmodels:\n  - model: $D/m1.safetensors\n"
                + "    parameters: {weight: 1, density: 0.1}\n");
        Result refused = run("merge", bad.toString(), tmp.resolve("out2").toString());
        assertEquals(1, refused.code(), refused.err());
        assertTrue(refused.err().contains("m1.safetensors") && refused.err().contains("epsilon 0.15"), refused.err());
    }

    @Test
    void multislerpAndNuslerp_yamlSettingsReachTheMergers_withAndWithoutBase() throws IOException {
        models();
        Path multi = yaml("merge_method: multislerp\nmodels:\n  - model: $D/m1.safetensors\n    parameters: {weight: 1.0}\n"
                + "  - model: $D/m2.safetensors\n    parameters: {weight: 0.5}\n  - model: $D/m3.safetensors\n"
                + "    parameters: {weight: 2}\nparameters: {normalize_weights: false}\n");
        Result r = run("merge", multi.toString(), tmp.resolve("multi").toString());
        assertEquals(0, r.code(), r.err());
        Path nu = yaml("merge_method: nuslerp\nbase_model: $D/base\nmodels:\n  - model: $D/m1.safetensors\n"
                + "    parameters: {weight: 1.0}\n  - model: $D/m2.safetensors\n    parameters: {weight: 3}\n"
                + "parameters: {nuslerp_flatten: false, nuslerp_row_wise: true}\n");
        Result rn = run("merge", nu.toString(), tmp.resolve("nu").toString());
        assertEquals(0, rn.code(), rn.err());
        // without base_model the first model stands in as the pool's base, which multislerp then does not read
        try (ModelPool noBase = ModelPool.open(tmp.resolve("m1.safetensors"), List.of(tmp.resolve("m1.safetensors"),
                tmp.resolve("m2.safetensors"), tmp.resolve("m3.safetensors")));
                ModelPool withBase = ModelPool.open(tmp.resolve("base"), List.of(tmp.resolve("m1.safetensors"),
                        tmp.resolve("m2.safetensors")))) {
            MergeResult m = MultiSlerp.builder().weights(1.0, 0.5, 2).normalizeWeights(false).fromBase(false).backend(REF).build()
                    .merge(noBase);
            MergeResult n = NuSlerp.builder().weights(1.0, 3).vectors(NuSlerp.Vectors.COLUMNS).backend(REF).build().merge(withBase);
            for (String name : List.of("w", "b")) {
                assertArrayEquals(m.model().values(name), merged("multi", name), "multislerp " + name);
                assertArrayEquals(n.model().values(name), merged("nu", name), "nuslerp " + name);
            }
            m.model().close();
            n.model().close();
        }
        Path three = yaml("merge_method: nuslerp\nmodels:\n  - model: $D/m1.safetensors\n    parameters: {weight: 1}\n"
                + "  - model: $D/m2.safetensors\n    parameters: {weight: 1}\n  - model: $D/m3.safetensors\n    parameters: {weight: 1}\n");
        Result bad = run("merge", three.toString(), tmp.resolve("three").toString());
        assertEquals(1, bad.code(), bad.err());
        assertTrue(bad.err().contains("nuslerp interpolates exactly two models"), bad.err());
    }

    @Test
    void karcher_averagesTheBaseWithTheModels_andRefusesAFractionalMaxIter() throws IOException {
        models();
        Path cfg = yaml("merge_method: karcher\nbase_model: $D/m3.safetensors\nmodels:\n  - model: $D/m1.safetensors\n"
                + "  - model: $D/m2.safetensors\nparameters: {max_iter: 3, tol: 1e-6}\n");
        Result r = run("merge", cfg.toString(), tmp.resolve("out").toString());
        assertEquals(0, r.code(), r.err());
        try (ModelPool pool = ModelPool.open(tmp.resolve("m3.safetensors"), List.of(tmp.resolve("m1.safetensors"),
                tmp.resolve("m2.safetensors"), tmp.resolve("m3.safetensors")))) {
            MergeResult direct = Karcher.builder().maxIterations(3).tolerance(1e-6).backend(REF).build().merge(pool);
            for (String name : List.of("w", "b")) {
                assertArrayEquals(direct.model().values(name), merged("out", name), name);
            }
            direct.model().close();
        }
        Path bad = yaml("merge_method: karcher\nmodels:\n  - model: $D/m1.safetensors\n  - model: $D/m2.safetensors\n"
                + "parameters: {max_iter: 2.5}\n");
        Result refused = run("merge", bad.toString(), tmp.resolve("out2").toString());
        assertEquals(1, refused.code(), refused.err());
        assertTrue(refused.err().contains("max_iter must be a whole number"), refused.err());
    }

    @Test
    void nearswap_takesTheOthersEntriesWithinT() throws IOException {
        models();
        Path cfg = yaml("merge_method: nearswap\nbase_model: $D/m2.safetensors\nmodels:\n  - model: $D/m1.safetensors\n"
                + "parameters: {t: 1.5}\n");
        Result r = run("merge", cfg.toString(), tmp.resolve("out").toString());
        assertEquals(0, r.code(), r.err());
        float[] w = merged("out", "w");
        for (int j = 0; j < 6; j++) {
            double a = W[2][j];
            double b = W[1][j];
            double weight = Math.min(1, Math.max(0, 1.5 / Math.max(Math.abs(a - b), 1e-6)));
            assertEquals(weight * b + (1 - weight) * a, w[j], 1e-6, "w[" + j + "]");
        }
        assertEquals(W[1][2], w[2], 1e-7, "|Δ| = 1.5: within t, the other's value");
    }

    @Test
    void modelStock_mergesTowardTheMeanByThePairwiseCosine() throws IOException {
        models();
        Path cfg = yaml("merge_method: model_stock\nbase_model: $D/m3.safetensors\nmodels:\n  - model: $D/m1.safetensors\n"
                + "  - model: $D/m2.safetensors\n");
        Result r = run("merge", cfg.toString(), tmp.resolve("out").toString());
        assertEquals(0, r.code(), r.err());
        float[] w = merged("out", "w");
        double dot = 0;
        double n1 = 0;
        double n2 = 0;
        for (int j = 0; j < 6; j++) {
            double a = W[1][j] - (double) W[3][j];
            double b = W[2][j] - (double) W[3][j];
            dot += a * b;
            n1 += a * a;
            n2 += b * b;
        }
        double c = dot / Math.sqrt(n1 * n2);
        double t = 2 * c / (1 + c);
        for (int j = 0; j < 6; j++) {
            assertEquals(t * (W[1][j] + W[2][j]) / 2 + (1 - t) * W[3][j], w[j], 1e-6, "w[" + j + "]");
        }
        Path rows = yaml("merge_method: model_stock\nbase_model: $D/m3.safetensors\nmodels:\n  - model: $D/m1.safetensors\n"
                + "  - model: $D/m2.safetensors\nparameters: {filter_wise: true}\n");
        Result bad = run("merge", rows.toString(), tmp.resolve("out2").toString());
        assertEquals(1, bad.code(), bad.err());
        assertTrue(bad.err().contains("parameters.filter_wise: true (one ratio per row) is not supported"), bad.err());
    }

    @Test
    void linear_baseModelNotListedWithoutGlobalWeight_failsSayingWhatMergekitDoes() throws IOException {
        models();
        Path cfg = yaml("merge_method: linear\nbase_model: $D/base\nmodels:\n  - model: $D/m1.safetensors\n"
                + "    parameters: {weight: 1}\n");
        Result r = run("merge", cfg.toString(), tmp.resolve("out").toString());
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains("merge_method linear averages base_model " + tmp.resolve("base")
                + " in with the global parameters.weight (as mergekit does), and there is none"), r.err());
        assertFalse(Files.exists(tmp.resolve("out")));
    }

    @Test
    void maxShardSize_writesShardsAndAnIndexThatReadAsOneModel() throws IOException {
        models();
        Path cfg = yaml("merge_method: linear\nmodels:\n  - model: $D/m1.safetensors\n"
                + "    parameters: {weight: 1}\n  - model: $D/m2.safetensors\n    parameters: {weight: 1}\n");
        Result r = run("merge", "--max-shard-size", "16", cfg.toString(), tmp.resolve("out").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.exists(tmp.resolve("out/model.safetensors.index.json")));
        assertFalse(Files.exists(tmp.resolve("out/model.safetensors")));
        assertArrayEquals(new float[] {1.5f, -1.5f, 3f}, merged("out", "b"), "mean of m1 and m2, read across shards");
    }

    @Test
    void ties_yamlSettingsReachTheMergerUnchanged() throws IOException {
        models();
        Path cfg = yaml("""
                merge_method: ties
                base_model: $D/base
                models:
                  - model: $D/base
                  - model: $D/m1.safetensors
                    parameters: {weight: 1.0, density: 0.5}
                  - model: $D/m2.safetensors
                    parameters: {weight: 0.5, density: 0.7}
                  - model: $D/m3.safetensors
                    parameters: {weight: 0.7, density: 0.4}
                parameters:
                  normalize: false
                  int8_mask: true
                """);
        Result r = run("merge", cfg.toString(), tmp.resolve("out").toString());
        assertEquals(0, r.code(), r.err());
        try (ModelPool pool = ModelPool.open(tmp.resolve("base"), java.util.List.of(tmp.resolve("m1.safetensors"),
                tmp.resolve("m2.safetensors"), tmp.resolve("m3.safetensors")))) {
            MergeResult direct = GeneralizedTaskArithmetic.builder(GeneralizedTaskArithmetic.Method.TIES)
                    .weights(1.0, 0.5, 0.7).densities(0.5, 0.7, 0.4).normalize(false).backend(REF)
                    .parameters(ParameterSelection.all()).build().merge(pool);
            assertArrayEquals(direct.model().values("w"), merged("out", "w"), "the base listed among models is skipped");
            assertArrayEquals(direct.model().values("b"), merged("out", "b"));
        }
    }

    @Test
    void loraAdapterSyntax_mergesTheAdaptedModel() throws IOException {
        Map<String, float[]> p = new LinkedHashMap<>();
        p.put("proj.weight", new float[6]);
        Safetensors.write(Model.ofArrays("base", REF, p, Map.of("proj.weight", new long[] {2, 3})),
                Files.createDirectories(tmp.resolve("base")).resolve("model.safetensors"), DType.F32, Map.of());
        Path adapter = Files.createDirectories(tmp.resolve("adapter"));
        Files.writeString(adapter.resolve("adapter_config.json"), """
                {"peft_type": "LORA", "r": 1, "lora_alpha": 2, "target_modules": ["proj"]}""");
        Map<String, float[]> f = new LinkedHashMap<>();
        f.put("base_model.model.proj.lora_A.weight", new float[] {1, 2, 3});
        f.put("base_model.model.proj.lora_B.weight", new float[] {1, -1});
        Safetensors.write(Model.ofArrays("adapter", REF, f, Map.of("base_model.model.proj.lora_A.weight", new long[] {1, 3},
                "base_model.model.proj.lora_B.weight", new long[] {2, 1})), adapter.resolve("adapter_model.safetensors"),
                DType.F32, Map.of());
        Path cfg = yaml("""
                merge_method: task_arithmetic
                base_model: $D/base
                models:
                  - model: $D/base+$D/adapter
                    parameters: {weight: 1.0}
                """);
        Result r = run("merge", cfg.toString(), tmp.resolve("out").toString());
        assertEquals(0, r.code(), r.err());
        // W + (B·A)·(alpha/r) with W = 0: B·A = [[1,2,3],[-1,-2,-3]], scaling 2
        assertArrayEquals(new float[] {2, 4, 6, -2, -4, -6}, merged("out", "proj.weight"));
    }

    @Test
    void frankWolfe_withAProviderObjective_findsTheTargetVertex() throws IOException {
        models();
        Path cfg = yaml("""
                merge_method: frank_wolfe
                base_model: $D/base
                models:
                  - model: $D/m1.safetensors
                  - model: $D/m2.safetensors
                parameters: {iterations: 5, lmo: task_wise}
                objective:
                  class: org.fwmerge.examples.cli.TargetObjectiveProvider
                  tensors: ["w"]
                  target: [-1, 1, 2, 0.5, 0.5, -3]
                """);
        Result r = run("merge", cfg.toString(), tmp.resolve("out").toString());
        assertEquals(0, r.code(), r.err());
        assertArrayEquals(W[2], merged("out", "w"), 1e-6f, "½‖w − θ₂‖² is minimised at the vertex θ₂");
        assertArrayEquals(new float[] {0, 0, 0}, merged("out", "b"), 0f, "b is not merged: it comes from the base");
        assertTrue(r.err().contains("iteration 1/5: loss"), r.err());
    }

    /** Copies a fixture of fwmerge-onnx's test-jar (an exported tiny ViT) into the test's folder. */
    private Path onnxFixture(String file) throws IOException {
        Path to = Files.createDirectories(tmp.resolve("vit")).resolve(file);
        try (java.io.InputStream in = MergeCommandTest.class.getResourceAsStream("/org/fwmerge/onnx/vit/" + file)) {
            Files.copy(java.util.Objects.requireNonNull(in, file), to);
        }
        return to;
    }

    /**
     * Two tasks on a tiny ViT, each its own term with its own head read from its own checkpoint (fixed);
     * the encoder is merged. The loss FW reports returning is the sum of the two objectives recomputed
     * here on the written model, and the heads in the output are the base's (not merged).
     */
    @Test
    void frankWolfe_withOnnxObjectivesPerTask_returnsTheLossOfTheModelItWrites() throws IOException {
        Path graph = onnxFixture("graph.onnx");
        Path cal = onnxFixture("calibration.safetensors");
        Path base = onnxFixture("model.safetensors");
        Path far = onnxFixture("perturbed.safetensors");
        Path near = tmp.resolve("near.safetensors");
        try (Checkpoint b = Safetensors.open(base); Checkpoint p = Safetensors.open(far);
             Model mid = Model.load(b, b.names(), REF); Model q = Model.load(p, p.names(), REF)) {
            for (String n : mid.names()) {
                REF.axpy(1, q.tensor(n), mid.tensor(n));
                REF.scale(0.5, mid.tensor(n));
            }
            Safetensors.write(mid, near, DType.F32, Map.of());
        }
        Path cfg = yaml("""
                merge_method: frank_wolfe
                base_model: $D/vit/model.safetensors
                models:
                  - model: $D/vit/perturbed.safetensors
                  - model: $D/near.safetensors
                parameters: {variant: soft, iterations: 3, batch_size: 0}
                objective:
                  - {onnx: $D/vit/graph.onnx, calibration: $D/vit/calibration.safetensors,
                     fixed: $D/vit/perturbed.safetensors, tensors: ['vit\\..*'], threads: 1}
                  - {onnx: $D/vit/graph.onnx, calibration: $D/vit/calibration.safetensors,
                     fixed: $D/near.safetensors, tensors: ['vit\\..*']}
                """);
        Result r = run("merge", cfg.toString(), tmp.resolve("out").toString());
        assertEquals(0, r.code(), r.err());
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("lowest loss seen \\(loss ([0-9.]+)").matcher(r.err());
        assertTrue(m.find(), r.err());
        double reported = Double.parseDouble(m.group(1));
        double recomputed = 0;
        try (Checkpoint outModel = Safetensors.open(tmp.resolve("out"));
             Checkpoint head1 = Safetensors.open(far); Checkpoint head2 = Safetensors.open(near)) {
            List<String> encoder = outModel.names().stream().filter(n -> n.startsWith("vit.")).toList();
            try (Model x = Model.load(outModel, encoder, REF)) {
                for (Checkpoint head : List.of(head1, head2)) {
                    try (org.fwmerge.onnx.OnnxObjective o = org.fwmerge.onnx.OnnxObjective.builder().graph(graph)
                            .calibration(cal).fixed(head).build()) {
                        recomputed += o.loss(x);
                    }
                }
            }
        }
        assertEquals(recomputed, reported, 1e-5 * recomputed, "the printed loss (6 decimals) is the written model's");
        try (Checkpoint b = Safetensors.open(base)) {
            assertArrayEquals(REF.toFloats(b.load("classifier.weight", REF)), merged("out", "classifier.weight"), 0f,
                    "heads are not merged: the output keeps the base's");
        }
        cfg = yaml("""
                merge_method: frank_wolfe
                base_model: $D/vit/model.safetensors
                models:
                  - model: $D/vit/perturbed.safetensors
                objective: {onnx: $D/vit/graph.onnx, calibration: $D/vit/calibration.safetensors, tensors: ['vit\\..*']}
                """);
        r = run("merge", cfg.toString(), tmp.resolve("out2").toString());
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains("objective: the merged tensors do not fit graph") && r.err().contains(
                "graph inputs found nowhere (neither merged nor in the fixed checkpoint, none given): [classifier.weight,"
                + " classifier.bias]"), r.err());
        assertFalse(Files.exists(tmp.resolve("out2")), "nothing is written");
    }

    @Test
    void frankWolfe_withASavedSameDiffGraph_lowersTheCalibrationLoss() throws IOException {
        models();
        // logits = x·w (w: [2, 3]); calibration data that the first candidate fits best
        SameDiff sd = SameDiff.create();
        SDVariable x = sd.placeHolder("input", DataType.FLOAT, -1, 2);
        x.mmul(sd.var("w", Nd4j.zeros(DataType.FLOAT, 2, 3))).rename("logits");
        Path graph = tmp.resolve("graph.sd");
        sd.save(graph.toFile(), false);
        float[] inputs = {1, 0, 0, 1, 1, 1, -1, 0, 0, -1, 2, 1};
        float[] labels = new float[6];
        float[] logits1 = new float[3];
        for (int s = 0; s < 6; s++) {
            for (int c = 0; c < 3; c++) {
                logits1[c] = inputs[2 * s] * W[1][c] + inputs[2 * s + 1] * W[1][3 + c];
            }
            labels[s] = argmax(logits1);
        }
        Map<String, float[]> cal = new LinkedHashMap<>();
        cal.put("inputs", inputs);
        cal.put("labels", labels);
        Safetensors.write(Model.ofArrays("cal", REF, cal, Map.of("inputs", new long[] {6, 2})),
                tmp.resolve("cal.safetensors"), DType.F32, Map.of());
        String config = """
                merge_method: frank_wolfe
                base_model: $D/base
                models:
                  - model: $D/m1.safetensors
                  - model: $D/m2.safetensors
                  - model: $D/m3.safetensors
                parameters: {variant: soft, iterations: 3%s}
                objective:
                  - graph: $D/graph.sd
                    calibration: $D/cal.safetensors
                """;
        // Every sample per coefficient step (6 < the default batch of 16), minibatches of 2, unconstrained λ.
        for (String extra : List.of("", ", batch_size: 2", ", coefficients: unconstrained")) {
            String out = "soft-" + extra.replaceAll("[^a-z0-9]", "");
            Result r = run("merge", yaml(String.format(config, extra)).toString(), tmp.resolve(out).toString());
            assertEquals(0, r.code(), r.err());
            float[] w = merged(out, "w");
            assertTrue(crossEntropy(w, inputs, labels) < crossEntropy(W[0], inputs, labels) - 0.1,
                    extra + " merged " + java.util.Arrays.toString(w) + "\n" + r.err());
        }
        assertFails(String.format(config, ", batch_size: -1"), "parameters.batch_size must be a whole number ≥ 0");
        assertFails(String.format(config, ", batch_size: 2").replace("variant: soft", "variant: hard"),
                "parameters.batch_size applies to variant soft only");
        assertFails(String.format(config, ", coefficients: convex"),
                "parameters.coefficients must be capped_simplex, simplex or unconstrained, got 'convex'");
        assertFails(String.format(config, ", coefficients: simplex").replace("variant: soft", "variant: hard"),
                "parameters.coefficients applies to variant soft only");
    }

    private static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            best = v[i] > v[best] ? i : best;
        }
        return best;
    }

    private static double crossEntropy(float[] w, float[] inputs, float[] labels) {
        double total = 0;
        for (int s = 0; s < labels.length; s++) {
            double[] z = new double[3];
            double max = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < 3; c++) {
                z[c] = inputs[2 * s] * w[c] + inputs[2 * s + 1] * w[3 + c];
                max = Math.max(max, z[c]);
            }
            double sum = 0;
            for (double v : z) {
                sum += Math.exp(v - max);
            }
            total += Math.log(sum) + max - z[(int) labels[s]];
        }
        return total / labels.length;
    }

    private void assertFails(String yamlText, String message) throws IOException {
        Path cfg = yaml(yamlText);
        Result r = run("merge", cfg.toString(), tmp.resolve("out").toString());
        assertEquals(1, r.code(), r.err());
        assertEquals(1, r.err().lines().count(), "one line: " + r.err());
        assertTrue(r.err().contains(message), r.err());
        assertFalse(Files.exists(tmp.resolve("out/model.safetensors")), "nothing written");
    }

    @Test
    void badConfigurations_failWithOneLineNamingTheKey() throws IOException {
        models();
        String head = "base_model: $D/base\nmodels:\n  - model: $D/m1.safetensors\n";
        assertFails("merge_method: ties\n" + head + "slices: []\n", "'slices' is not supported by fwmerge merge");
        assertFails("merge_method: ties\n" + head + "tokenizer_source: base\n", "'tokenizer_source' is not supported");
        assertFails("merge_method: ties\n" + head + "merge_mehtod: x\n", "unknown key 'merge_mehtod'");
        assertFails("merge_method: passthrough\n" + head, "merge_method 'passthrough' is not supported by fwmerge merge");
        assertFails("merge_method: ties\n" + head + "    parameters: {weight: [0, x]}\n",
                "models[0].parameters.weight[1] must be a finite number, got 'x'");
        assertFails("merge_method: ties\n" + head + "    parameters: {weight: {value: 1, filter: mlp}}\n",
                "models[0].parameters.weight must be a number, a gradient list of numbers or a list of {filter, value}"
                        + " conditions");
        assertFails("merge_method: ties\n" + head + "    parameters: {weight: [{filtre: mlp, value: 1}]}\n",
                "models[0].parameters.weight[0]: unknown key 'filtre' (known: filter, value)");
        assertFails("merge_method: ties\n" + head + "parameters: {normalize: [{filter: mlp, value: true}]}\n",
                "parameters.normalize: gradient lists and conditional values (value/filter) apply to the numeric");
        assertFails("merge_method: ties\n" + head + "    parameters: {wieght: 1}\n",
                "models[0].parameters: 'wieght' is not a parameter of ties");
        assertFails("merge_method: ties\n" + head, "models[0] (" + tmp + "/m1.safetensors) has no 'weight'");
        assertFails("merge_method: ties\n" + head + "dtype: float8\n", "dtype 'float8' is not supported");
        assertFails("merge_method: ties\nmodels:\n  - model: $D/m1.safetensors\n", "merge_method ties needs base_model");
        assertFails("merge_method: ties\nmerge_method: linear\n" + head, "not valid YAML");
        assertFails("merge_method: frank_wolfe\n" + head, "merge_method frank_wolfe needs an 'objective:'");
        assertFails("merge_method: task_arithmetic\n" + head + "    parameters: {weight: 1}\nparameters: {normalize: maybe}\n",
                "parameters.normalize must be true or false, got 'maybe'");
        assertFails("merge_method: frank_wolfe\n" + head + "objective: {class: no.such.Provider}\n",
                "objective.class: no class no.such.Provider on the class path");
        assertFails("merge_method: frank_wolfe\n" + head + "objective: {class: java.lang.String}\n",
                "objective.class: java.lang.String does not implement org.fwmerge.examples.cli.ObjectiveProvider");
        assertFails("merge_method: frank_wolfe\n" + head + "objective: {graph: $D/none.sd, calibration: $D/c}\n",
                "objective.graph: no such file " + tmp + "/none.sd");
        Files.writeString(tmp.resolve("junk.sd"), "not a graph");
        assertFails("merge_method: frank_wolfe\n" + head + "objective: {graph: $D/junk.sd, calibration: $D/c}\n",
                "objective.graph: " + tmp + "/junk.sd is not a graph saved with SameDiff.save");
        assertFails("merge_method: frank_wolfe\n" + head + "objective: [{graph: $D/g.sd, calibration: $D/c, lr: 1}]\n",
                "objective[0]: unknown key 'lr'");
        assertFails("merge_method: frank_wolfe\n" + head + "parameters: {variant: medium}\nobjective: {class: "
                + TargetObjectiveProvider.class.getName() + ", target: [0, 0, 0, 0, 0, 0]}\n",
                "parameters.variant must be hard or soft, got 'medium'");
        // aliases of collections are refused (no "billion laughs"), a scalar alias is harmless
        assertFails("merge_method: ties\nbase_model: $D/base\nparameters: &p {weight: 1}\nmodels:\n"
                + "  - model: $D/m1.safetensors\n    parameters: *p\n", "not valid YAML");
    }

    /** A checkpoint (binary) or Latin-1 text given as CONFIG: named as not a YAML text file, exit 1, one line. */
    @Test
    void binaryOrNonUtf8Config_isNamedAsNotAYamlTextFile() throws IOException {
        models();
        Path binary = tmp.resolve("m1.safetensors");
        byte[] bytes = Files.readAllBytes(binary);
        int nul = 0;
        while (bytes[nul] != 0) {
            nul++;
        }
        Result r = run("merge", binary.toString(), tmp.resolve("out").toString());
        assertEquals(1, r.code(), r.err());
        assertEquals("fwmerge merge: " + binary + " is not a YAML text file (byte " + nul + " is NUL; " + Files.size(binary)
                + " bytes in all): give the merge configuration, e.g. config.yaml, as CONFIG\n", r.err());
        Path latin1 = Files.write(tmp.resolve("latin1.yaml"), "merge_method: linear # caf\u00e9\n"
                .getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        r = run("merge", latin1.toString(), tmp.resolve("out").toString());
        assertEquals(1, r.code(), r.err());
        assertEquals("fwmerge merge: " + latin1 + " is not a YAML text file (it is not valid UTF-8): give the merge"
                + " configuration, e.g. config.yaml, as CONFIG\n", r.err());
        Path huge = Files.writeString(tmp.resolve("huge.yaml"), "#".repeat((16 << 20) + 1));
        r = run("merge", huge.toString(), tmp.resolve("out").toString());
        assertEquals(1, r.code(), r.err());
        assertEquals("fwmerge merge: " + huge + " is not a merge configuration: " + ((16 << 20) + 1) + " bytes, over the "
                + (16 << 20) + " a YAML configuration may have; give the merge configuration as CONFIG\n", r.err());
        assertFalse(Files.exists(tmp.resolve("out")), "nothing written");
    }

    @Test
    void outputDirectoryHoldingAnInput_isRefusedBeforeAnyWork() throws IOException {
        models();
        Path cfg = yaml("merge_method: linear\nmodels:\n  - model: $D/base\n    parameters: {weight: 1}\n"
                + "  - model: $D/m1.safetensors\n    parameters: {weight: 1}\n");
        byte[] before = Files.readAllBytes(tmp.resolve("base/model.safetensors"));
        Result r = run("merge", cfg.toString(), tmp.resolve("base").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("the output directory " + tmp.resolve("base") + " holds the input"), r.err());
        assertArrayEquals(before, Files.readAllBytes(tmp.resolve("base/model.safetensors")));
        r = run("merge", cfg.toString(), tmp.resolve(".").toString());
        assertEquals(1, r.code(), "the same directory spelled differently");
    }
}
