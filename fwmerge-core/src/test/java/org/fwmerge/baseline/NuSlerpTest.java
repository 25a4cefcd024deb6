package org.fwmerge.baseline;

import static org.fwmerge.baseline.Pools.B;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.fwmerge.MergeResult;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.baseline.NuSlerp.Vectors;
import org.junit.jupiter.api.Test;

/** mergekit's nuslerp against a double-precision transcription of nuslerp.py on [rows, cols] matrices. */
class NuSlerpTest {

    static final int ROWS = 30;
    static final int COLS = 70;

    /** nuslerp.py in double; {@code base} null: no base model; vectors as {@link Vectors}. */
    static double[] reference(float[] base, float[] m0, float[] m1, double w0, double w1, Vectors mode) {
        double t = Math.abs(w0 + w1) < 1e-6 ? 0.5 : w1 / (w0 + w1);
        int d = m0.length;
        double[] v0 = new double[d];
        double[] v1 = new double[d];
        for (int k = 0; k < d; k++) {
            v0[k] = m0[k] - (base == null ? 0 : base[k]);
            v1[k] = m1[k] - (base == null ? 0 : base[k]);
        }
        // the entries of each vector, as index lists
        List<int[]> vectors = new java.util.ArrayList<>();
        if (mode == Vectors.TENSOR) {
            vectors.add(java.util.stream.IntStream.range(0, d).toArray());
        } else if (mode == Vectors.ROWS) {
            for (int r = 0; r < ROWS; r++) {
                int row = r;
                vectors.add(java.util.stream.IntStream.range(0, COLS).map(c -> row * COLS + c).toArray());
            }
        } else {
            for (int c = 0; c < COLS; c++) {
                int col = c;
                vectors.add(java.util.stream.IntStream.range(0, ROWS).map(r -> r * COLS + col).toArray());
            }
        }
        double[] out = new double[d];
        for (int[] idx : vectors) {
            double n0 = 0;
            double n1 = 0;
            for (int k : idx) {
                n0 += v0[k] * v0[k];
                n1 += v1[k] * v1[k];
            }
            n0 = Math.max(Math.sqrt(n0), 1e-7);
            n1 = Math.max(Math.sqrt(n1), 1e-7);
            double cos = 0;
            for (int k : idx) {
                cos += (v0[k] / n0) * (v1[k] / n1);
            }
            double theta = Math.acos(Math.max(-1, Math.min(1, cos)));
            double sin = Math.sin(theta);
            for (int k : idx) {
                double r = Math.abs(sin) < 1e-8 ? (1 - t) * v0[k] + t * v1[k]
                        : (Math.sin((1 - t) * theta) * v0[k] + Math.sin(t * theta) * v1[k]) / sin;
                out[k] = r + (base == null ? 0 : base[k]);
            }
        }
        return out;
    }

    private static ModelPool pool(float[] base, float[] m0, float[] m1) throws Exception {
        Map<String, long[]> shape = Map.of("a", new long[] {ROWS, COLS});
        return ModelPool.of(Model.ofArrays("base", B, Map.of("a", base), shape),
                List.of(Model.ofArrays("m0", B, Map.of("a", m0), shape), Model.ofArrays("m1", B, Map.of("a", m1), shape)));
    }

    private static float[] gaussian(SplittableRandom rnd, double mean) {
        float[] v = new float[ROWS * COLS];
        for (int k = 0; k < v.length; k++) {
            v[k] = (float) (mean + rnd.nextGaussian());
        }
        return v;
    }

    @Test
    void everyVectorLayout_withAndWithoutBase_matchesTheTranscription() throws Exception {
        SplittableRandom rnd = new SplittableRandom(4);
        float[] base = gaussian(rnd, 0);
        float[] m0 = gaussian(rnd, 0.3);
        float[] m1 = gaussian(rnd, -0.1);
        try (ModelPool pool = pool(base, m0, m1)) {
            for (Vectors mode : Vectors.values()) {
                for (boolean fromBase : new boolean[] {true, false}) {
                    try (MergeResult r = NuSlerp.builder().weights(0.3, 0.9).vectors(mode).fromBase(fromBase).backend(B).build()
                            .merge(pool)) {
                        Pools.assertValues(reference(fromBase ? base : null, m0, m1, 0.3, 0.9, mode), r.model().values("a"), 2e-5,
                                mode + ", fromBase " + fromBase);
                    }
                }
            }
        }
    }

    @Test
    void parallelVectors_interpolateLinearly_cancellingWeightsGiveAHalf_andOneModelIsRefused() throws Exception {
        SplittableRandom rnd = new SplittableRandom(5);
        float[] base = gaussian(rnd, 0);
        float[] m0 = gaussian(rnd, 0);
        float[] m1 = new float[m0.length];
        for (int k = 0; k < m0.length; k++) {
            m1[k] = base[k] + 2 * (m0[k] - base[k]); // v1 = 2·v0: sin Ω = 0
        }
        try (ModelPool pool = pool(base, m0, m1);
                MergeResult r = NuSlerp.builder().weights(1, -1).backend(B).build().merge(pool)) {
            // t = 0.5 (the weights cancel); linear: θ₀ + 0.5·v0 + 0.5·2·v0
            double[] want = new double[m0.length];
            for (int k = 0; k < want.length; k++) {
                want[k] = base[k] + 1.5 * ((double) m0[k] - base[k]);
            }
            Pools.assertValues(want, r.model().values("a"), 2e-5, "parallel vectors");
        }
        try (ModelPool one = Pools.pool(new float[] {1}, new float[] {1}, new float[][] {{1}, {1}})) {
            assertThrows(IllegalArgumentException.class, () -> NuSlerp.builder().weights(1, 1).backend(B).build().merge(one));
        }
    }
}
