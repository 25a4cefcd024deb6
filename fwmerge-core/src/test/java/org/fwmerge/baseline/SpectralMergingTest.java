package org.fwmerge.baseline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.fwmerge.Merger;
import org.fwmerge.MergeResult;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.ParameterSelection;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.Safetensors;
import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;
import org.junit.jupiter.api.Test;

/**
 * TSV-M, Iso-C and Iso-CTS against golden files written by a torch transcription of FusionBench's code
 * in double ({@code tools/baseline-fixtures/make_spectral_fixtures.py}, itself checked against
 * FusionBench's functions to 2e-16), and against properties with closed-form answers. Public so the
 * ND4J module runs the same cases on its backend.
 */
public class SpectralMergingTest {

    /** Golden outputs are float32 roundings of double results: a few ulps of values of order 1. */
    private static final double TOL = 2e-6;

    /** The backend under test (ND4J's subclass overrides it). */
    protected TensorBackend backend() {
        return TensorBackends.reference();
    }

    private static Path fixture(String file) {
        return Fixtures.file("spectral/" + file);
    }

    private static float[] floats(Checkpoint c, String name) {
        return Fixtures.floats(c, name);
    }

    private static ModelPool goldenPool() throws Exception {
        List<Path> c = new ArrayList<>();
        for (int i = 1; i <= 4; i++) {
            c.add(fixture("m" + i + ".safetensors"));
        }
        return ModelPool.open(fixture("base.safetensors"), c);
    }

    private void assertGolden(String expected, Merger merger) throws Exception {
        try (ModelPool pool = goldenPool(); Checkpoint want = Safetensors.open(fixture("expected_" + expected + ".safetensors"));
             MergeResult r = merger.merge(pool)) {
            for (String name : want.names()) {
                float[] e = floats(want, name);
                float[] got = r.model().values(name);
                for (int k = 0; k < e.length; k++) {
                    assertEquals(e[k], got[k], TOL, expected + " " + name + "[" + k + "]");
                }
            }
        }
    }

    @Test
    void tsvm_matchesFusionBench() throws Exception {
        assertGolden("tsvm", TaskSingularVectors.builder().backend(backend()).build());
    }

    @Test
    void tsvm_scaled_matchesFusionBench() throws Exception {
        assertGolden("tsvm_alpha", TaskSingularVectors.builder().scaling(0.7).backend(backend()).build());
    }

    @Test
    void isoC_matchesFusionBench() throws Exception {
        assertGolden("iso_c", IsotropicMerging.builder().backend(backend()).build());
    }

    @Test
    void isoCts_matchesFusionBench() throws Exception {
        assertGolden("iso_cts", IsotropicMerging.builder().taskSpecific(true).backend(backend()).build());
    }

    @Test
    void isoCts_otherFractionAndScaling_matchesFusionBench() throws Exception {
        assertGolden("iso_cts_half", IsotropicMerging.builder().taskSpecific(true).commonSpaceFraction(0.5)
                .scaling(1.3).backend(backend()).build());
    }

    // ---------------------------------------------------------------- closed forms

    /** m × n matrices with orthonormal columns from Gram–Schmidt on Gaussian vectors. */
    private static double[][] orthonormal(SplittableRandom rnd, int dim, int count) {
        double[][] q = new double[count][dim];
        for (int a = 0; a < count; a++) {
            for (int i = 0; i < dim; i++) {
                q[a][i] = rnd.nextGaussian();
            }
            for (int b = 0; b < a; b++) {
                double d = 0;
                for (int i = 0; i < dim; i++) {
                    d += q[a][i] * q[b][i];
                }
                for (int i = 0; i < dim; i++) {
                    q[a][i] -= d * q[b][i];
                }
            }
            double norm = 0;
            for (int i = 0; i < dim; i++) {
                norm += q[a][i] * q[a][i];
            }
            for (int i = 0; i < dim; i++) {
                q[a][i] /= Math.sqrt(norm);
            }
        }
        return q;
    }

    /**
     * 3 tasks on a 12 × 9 matrix (p = 9, k = 3 per task), task i = Σ_{j} s_ij u_j v_jᵀ over its own 3 of 9
     * orthonormal u's and v's: the stacked singular vectors are already orthonormal, so TSV-M's Δ is the plain
     * sum Σ τᵢ (task arithmetic with λ = 1) exactly; Iso-C then flattens that sum's 9 singular values.
     */
    private ModelPool orthogonalPool(double[][] expectedSum) throws Exception {
        SplittableRandom rnd = new SplittableRandom(11);
        int m = 12;
        int n = 9;
        double[][] u = orthonormal(rnd, m, 9);
        double[][] v = orthonormal(rnd, n, 9);
        float[] base = new float[m * n];
        for (int k = 0; k < base.length; k++) {
            base[k] = (float) rnd.nextGaussian();
        }
        List<Model> cands = new ArrayList<>();
        for (int t = 0; t < 3; t++) {
            float[] w = base.clone();
            for (int j = 3 * t; j < 3 * t + 3; j++) {
                double s = 1 + 2 * rnd.nextDouble();
                for (int r = 0; r < m; r++) {
                    for (int c = 0; c < n; c++) {
                        w[r * n + c] += (float) (s * u[j][r] * v[j][c]);
                    }
                }
            }
            for (int k = 0; k < w.length; k++) {
                expectedSum[0][k] += (double) w[k] - base[k];
            }
            cands.add(model("m" + t, w, m, n));
        }
        expectedSum[1] = toDouble(base);
        return ModelPool.of(model("base", base, m, n), cands);
    }

    private Model model(String name, float[] w, int m, int n) {
        Map<String, float[]> a = new LinkedHashMap<>();
        a.put("w", w);
        a.put("bias", new float[] {w[0], w[1], w[2]});
        return Model.ofArrays(name, backend(), a, Map.of("w", new long[] {m, n}));
    }

    private static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    @Test
    void tsvm_mutuallyOrthogonalTasks_isTaskArithmetic() throws Exception {
        double[][] ref = {new double[108], null};
        try (ModelPool pool = orthogonalPool(ref);
             MergeResult r = TaskSingularVectors.builder().backend(backend()).build().merge(pool)) {
            float[] got = r.model().values("w");
            for (int k = 0; k < got.length; k++) {
                assertEquals(ref[1][k] + ref[0][k], got[k], 1e-5, "w[" + k + "]");
            }
        }
    }

    @Test
    void isoCts_fullCommonSpace_isIsoC() throws Exception {
        try (ModelPool pool = goldenPool();
             MergeResult c = IsotropicMerging.builder().backend(backend()).build().merge(pool);
             MergeResult cts = IsotropicMerging.builder().taskSpecific(true).commonSpaceFraction(1).backend(backend())
                     .build().merge(pool)) {
            for (String name : List.of("wide", "tall", "square", "tiny", "bias")) {
                float[] a = c.model().values(name);
                float[] b = cts.model().values(name);
                for (int k = 0; k < a.length; k++) {
                    assertEquals(a[k], b[k], 1e-6, name + "[" + k + "]");
                }
            }
        }
    }

    @Test
    void isoC_mergedTaskVectorHasAFlatSpectrumAtTheSumsMeanSingularValue() throws Exception {
        double[][] ref = {new double[108], null};
        try (ModelPool pool = orthogonalPool(ref);
             MergeResult r = IsotropicMerging.builder().backend(backend()).build().merge(pool)) {
            float[] got = r.model().values("w");
            double[] delta = new double[got.length];
            for (int k = 0; k < got.length; k++) {
                delta[k] = got[k] - ref[1][k];
            }
            double[] merged = org.fwmerge.internal.DenseAlgebra.svd(new org.fwmerge.tensor.Matrix(12, 9, delta)).s();
            double[] sum = org.fwmerge.internal.DenseAlgebra.svd(new org.fwmerge.tensor.Matrix(12, 9, ref[0])).s();
            double mean = 0;
            for (double s : sum) {
                mean += s / sum.length;
            }
            for (double s : merged) {
                assertEquals(mean, s, 1e-5);
            }
            // the vector gets the mean of the task vectors: bias[0] holds w[0]
            assertEquals(ref[1][0] + ref[0][0] / 3, r.model().values("bias")[0], 1e-6);
        }
    }

    @Test
    void matrixSelection_excludedMatrixIsAveraged() throws Exception {
        try (ModelPool pool = goldenPool();
             MergeResult r = TaskSingularVectors.builder().matrices(ParameterSelection.exclude("tall"))
                     .backend(backend()).build().merge(pool)) {
            float[] base = floats(pool.base(), "tall");
            float[][] c = new float[4][];
            for (int i = 0; i < 4; i++) {
                c[i] = floats(pool.candidates().get(i), "tall");
            }
            float[] got = r.model().values("tall");
            for (int k = 0; k < got.length; k++) {
                double mean = 0;
                for (float[] ci : c) {
                    mean += ((double) ci[k] - base[k]) / 4;
                }
                assertEquals(base[k] + mean, got[k], 1e-6);
            }
            assertEquals("include[] exclude[tall]", r.configuration().get("matrices"));
        }
    }

    @Test
    void tsvm_fewerDirectionsThanTasks_keepsTheBase() throws Exception {
        // "tiny" is 3 × 2: p = 2 < T = 4, k = 0, as in FusionBench Δ = 0 there.
        try (ModelPool pool = goldenPool(); MergeResult r = TaskSingularVectors.builder().backend(backend()).build()
                .merge(pool)) {
            float[] base = floats(pool.base(), "tiny");
            float[] got = r.model().values("tiny");
            for (int k = 0; k < base.length; k++) {
                assertEquals(base[k], got[k], 0);
            }
        }
    }

    @Test
    void badSettings_areRefusedWithTheValue() throws Exception {
        IllegalStateException fraction = assertThrows(IllegalStateException.class,
                () -> IsotropicMerging.builder().commonSpaceFraction(0.5).build());
        assertTrue(fraction.getMessage().contains("Iso-CTS"), fraction.getMessage());
        IllegalArgumentException range = assertThrows(IllegalArgumentException.class,
                () -> IsotropicMerging.builder().commonSpaceFraction(1.5));
        assertTrue(range.getMessage().contains("1.5"), range.getMessage());
        try (ModelPool pool = goldenPool()) {
            IllegalArgumentException w = assertThrows(IllegalArgumentException.class,
                    () -> TaskSingularVectors.builder().weights(1, 2).backend(backend()).build().merge(pool));
            assertTrue(w.getMessage().contains("2 task weights") && w.getMessage().contains("4 candidates"), w.getMessage());
            // fraction 0 on "tall" (p = 7, T = 4): ⌊0⌋ common, round(7/4) = 2 per task, 7 − 8 = −1 common.
            IllegalArgumentException split = assertThrows(IllegalArgumentException.class,
                    () -> IsotropicMerging.builder().taskSpecific(true).commonSpaceFraction(0).backend(backend()).build()
                            .merge(pool));
            assertTrue(split.getMessage().contains("'tall'") && split.getMessage().contains("leave -1"), split.getMessage());
        }
    }
}
