package org.fwmerge.baseline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fwmerge.LayerInputs;
import org.fwmerge.MergeResult;
import org.fwmerge.Merger;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.ParameterSelection;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.Safetensors;
import org.fwmerge.tensor.Matrix;
import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;
import org.junit.jupiter.api.Test;

/**
 * RegMean and RegMean++ against golden files written by a torch transcription of FusionBench's code in
 * double ({@code tools/baseline-fixtures/make_regmean_fixtures.py}: two-layer MLPs in torch's layout, each
 * task's inputs), and against closed forms. The test's {@link LayerInputs} runs the MLP forward in double.
 * Public so the ND4J module runs the same cases on its backend.
 */
public class RegMeanTest {

    private static final double TOL = 2e-5;

    /** The backend under test (ND4J's subclass overrides it). */
    protected TensorBackend backend() {
        return TensorBackends.reference();
    }

    /** Linear(6→5) · ReLU · Linear(5→4) in torch's layout, on fixed inputs X [n, 6]: Grams of both layers' inputs. */
    static final class Mlp implements LayerInputs {
        private final double[][] x;

        Mlp(float[] flat, int rows, int cols) {
            x = new double[rows][cols];
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    x[r][c] = flat[r * cols + c];
                }
            }
        }

        @Override
        public Map<String, Orientation> layers() {
            Map<String, Orientation> m = new LinkedHashMap<>();
            m.put("0.weight", Orientation.OUT_BY_IN);
            m.put("2.weight", Orientation.OUT_BY_IN);
            return m;
        }

        @Override
        public Map<String, Matrix> grams(Model point) {
            float[] w0 = point.values("0.weight");
            float[] b0 = point.values("0.bias");
            int in = x[0].length;
            int hid = b0.length;
            double[][] h = new double[x.length][hid];
            for (int r = 0; r < x.length; r++) {
                for (int j = 0; j < hid; j++) {
                    double s = b0[j];
                    for (int k = 0; k < in; k++) {
                        s += x[r][k] * w0[j * in + k];
                    }
                    h[r][j] = Math.max(0, s);
                }
            }
            Map<String, Matrix> g = new LinkedHashMap<>();
            g.put("0.weight", gram(x));
            g.put("2.weight", gram(h));
            return g;
        }

        static Matrix gram(double[][] rows) {
            int d = rows[0].length;
            double[] g = new double[d * d];
            for (double[] row : rows) {
                for (int a = 0; a < d; a++) {
                    for (int b = 0; b < d; b++) {
                        g[a * d + b] += row[a] * row[b] / rows.length;
                    }
                }
            }
            return new Matrix(d, d, g);
        }
    }

    private static Path fixture(String file) {
        return Fixtures.file("regmean/" + file);
    }

    private static ModelPool pool() throws Exception {
        List<Path> c = new ArrayList<>();
        for (int i = 1; i <= 3; i++) {
            c.add(fixture("m" + i + ".safetensors"));
        }
        return ModelPool.open(fixture("base.safetensors"), c);
    }

    private static List<Mlp> inputs() throws Exception {
        List<Mlp> out = new ArrayList<>();
        try (Checkpoint x = Safetensors.open(fixture("inputs.safetensors"))) {
            for (int i = 1; i <= 3; i++) {
                long[] shape = x.info("x" + i).shape();
                out.add(new Mlp(Fixtures.floats(x, "x" + i), (int) shape[0], (int) shape[1]));
            }
        }
        return out;
    }

    private void assertGolden(String expected, Merger merger) throws Exception {
        try (ModelPool pool = pool(); Checkpoint want = Safetensors.open(fixture("expected_" + expected + ".safetensors"));
             MergeResult r = merger.merge(pool)) {
            for (String name : want.names()) {
                float[] e = Fixtures.floats(want, name);
                float[] got = r.model().values(name);
                for (int k = 0; k < e.length; k++) {
                    assertEquals(e[k], got[k], TOL * Math.max(1, Math.abs(e[k])), expected + " " + name + "[" + k + "]");
                }
            }
        }
    }

    @Test
    void regMean_matchesFusionBench() throws Exception {
        assertGolden("regmean", RegMean.builder().inputs(inputs()).backend(backend()).build());
    }

    @Test
    void regMean_otherOffDiagonalScale_matchesFusionBench() throws Exception {
        assertGolden("regmean_half", RegMean.builder().inputs(inputs()).offDiagonal(0.5).backend(backend()).build());
    }

    @Test
    void regMeanPlusPlus_matchesFusionBench() throws Exception {
        assertGolden("regmeanpp", RegMean.builder().inputs(inputs())
                .layerByLayer(ParameterSelection.include("0\\..*"), ParameterSelection.include("2\\..*"))
                .backend(backend()).build());
    }

    /** Equal Gram matrices for every task: (n·G)⁻¹ Σ G Wᵢ = the mean of the Wᵢ, whatever G is. */
    @Test
    void equalGrams_giveTheAverage() throws Exception {
        LayerInputs same = inputs().get(1);
        LayerInputs fixed = new LayerInputs() {
            @Override
            public Map<String, Orientation> layers() {
                return same.layers();
            }

            @Override
            public Map<String, Matrix> grams(Model x) {
                try (Model candidate2 = Model.load(pool2(), x.names(), backend())) {
                    return same.grams(candidate2);
                }
            }
        };
        try (ModelPool pool = pool(); MergeResult r = RegMean.builder().inputs(List.of(fixed, fixed, fixed)).backend(backend())
                .build().merge(pool)) {
            for (String name : List.of("0.weight", "0.bias", "2.weight", "2.bias")) {
                float[] got = r.model().values(name);
                for (int k = 0; k < got.length; k++) {
                    double mean = 0;
                    for (Checkpoint c : pool.candidates()) {
                        mean += Fixtures.floats(c, name)[k] / 3.0;
                    }
                    assertEquals(mean, got[k], 1e-5, name + "[" + k + "]");
                }
            }
        }
    }

    private static Checkpoint pool2() {
        try {
            return Safetensors.open(fixture("m2.safetensors"));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** A feature that is zero on all data leaves its weights undetermined: they get the candidates' mean. */
    @Test
    void featureZeroOnAllData_getsTheMeanWeights() throws Exception {
        List<LayerInputs> zeroed = new ArrayList<>();
        for (Mlp m : inputs()) {
            zeroed.add(new LayerInputs() {
                @Override
                public Map<String, Orientation> layers() {
                    return m.layers();
                }

                @Override
                public Map<String, Matrix> grams(Model x) {
                    Map<String, Matrix> g = new LinkedHashMap<>(m.grams(x));
                    Matrix g0 = g.get("0.weight");
                    double[] v = g0.values().clone();
                    for (int k = 0; k < 6; k++) {
                        v[3 * 6 + k] = 0;
                        v[k * 6 + 3] = 0;
                    }
                    g.put("0.weight", new Matrix(6, 6, v));
                    return g;
                }
            });
        }
        try (ModelPool pool = pool(); MergeResult r = RegMean.builder().inputs(zeroed).backend(backend()).build().merge(pool)) {
            float[] got = r.model().values("0.weight"); // [5, 6]: input feature 3 is column 3
            for (int row = 0; row < 5; row++) {
                double mean = 0;
                for (Checkpoint c : pool.candidates()) {
                    mean += Fixtures.floats(c, "0.weight")[row * 6 + 3] / 3.0;
                }
                assertEquals(mean, got[row * 6 + 3], 1e-5, "row " + row);
                assertTrue(Float.isFinite(got[row * 6]), "the other columns are solved");
            }
        }
    }

    @Test
    void badInput_isRefusedWithTheCounts() throws Exception {
        try (ModelPool pool = pool()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> RegMean.builder().inputs(inputs().subList(0, 2)).backend(backend()).build().merge(pool));
            assertTrue(e.getMessage().contains("2 LayerInputs") && e.getMessage().contains("3 candidates"), e.getMessage());
        }
        try (ModelPool pool = pool()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RegMean.builder().inputs(inputs())
                    .layerByLayer(ParameterSelection.include("0\\..*"), ParameterSelection.include("layers\\.1\\..*"))
                    .backend(backend()).build().merge(pool));
            assertTrue(e.getMessage().contains("layers"), e.getMessage());
        }
        assertThrows(NullPointerException.class, () -> RegMean.builder().build());
        IllegalArgumentException range = assertThrows(IllegalArgumentException.class,
                () -> RegMean.builder().offDiagonal(1.5));
        assertTrue(range.getMessage().contains("1.5"), range.getMessage());
    }
}
