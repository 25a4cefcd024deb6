package org.fwmerge.baseline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.SplittableRandom;
import org.fwmerge.MergeResult;
import org.fwmerge.ModelPool;
import org.junit.jupiter.api.Test;

/** mergekit's slerp against closed forms and a direct double-precision transcription of its definition. */
class SlerpTest {

    private static ModelPool pair(float[] base, float[] other) throws Exception {
        return ModelPool.of(Pools.model("base", base, new float[] {1, 2}),
                List.of(Pools.model("m1", other, new float[] {2, 4})));
    }

    private static float[] slerp(double t, float[] base, float[] other, String tensor) throws Exception {
        try (ModelPool pool = pair(base, other); MergeResult r = Slerp.builder().t(t).backend(Pools.B).build().merge(pool)) {
            return r.model().values(tensor);
        }
    }

    /** mergekit's slerp.py, transcribed in double: normalise (unless tiny), dot, lerp fallback, sines. */
    private static double[] reference(double t, float[] v0, float[] v1) {
        double n0 = 0;
        double n1 = 0;
        for (int j = 0; j < v0.length; j++) {
            n0 += (double) v0[j] * v0[j];
            n1 += (double) v1[j] * v1[j];
        }
        n0 = Math.sqrt(n0);
        n1 = Math.sqrt(n1);
        double dot = 0;
        for (int j = 0; j < v0.length; j++) {
            dot += (n0 > 1e-8 ? v0[j] / n0 : v0[j]) * (n1 > 1e-8 ? v1[j] / n1 : v1[j]);
        }
        double[] out = new double[v0.length];
        double s0;
        double s1;
        if (Math.abs(dot) > 0.9995) {
            s0 = 1 - t;
            s1 = t;
        } else {
            double theta0 = Math.acos(dot);
            double thetaT = theta0 * t;
            s0 = Math.sin(theta0 - thetaT) / Math.sin(theta0);
            s1 = Math.sin(thetaT) / Math.sin(theta0);
        }
        for (int j = 0; j < v0.length; j++) {
            out[j] = s0 * v0[j] + s1 * v1[j];
        }
        return out;
    }

    @Test
    void orthogonalTensors_halfway_isTheArcMidpoint() throws Exception {
        // Ω = π/2: both coefficients sin(π/4)/sin(π/2) = √2/2; the original (not unit) tensors are combined.
        float[] a = slerp(0.5, new float[] {1, 0, 0, 0}, new float[] {0, 2, 0, 0}, "a");
        double h = Math.sqrt(0.5);
        Pools.assertValues(new double[] {h, 2 * h, 0, 0}, a, 1e-7, "midpoint of the arc");
    }

    @Test
    void randomTensors_matchTheTranscription_atSeveralT() throws Exception {
        SplittableRandom rnd = new SplittableRandom(4);
        float[] v0 = new float[3001];
        float[] v1 = new float[3001];
        for (int j = 0; j < v0.length; j++) {
            v0[j] = (float) rnd.nextGaussian();
            v1[j] = (float) (0.6 * v0[j] + rnd.nextGaussian());
        }
        for (double t : new double[] {0.1, 0.5, 0.77, 1.0, 1.3}) {
            Pools.assertValues(reference(t, v0, v1), slerp(t, v0, v1, "a"), 2e-6, "t=" + t);
        }
    }

    @Test
    void nearParallelTensors_fallBackToLinearInterpolation() throws Exception {
        // b is (1,2) against (2,4): parallel, so θ_b = (1 − t)·(1,2) + t·(2,4) exactly as lerp
        float[] b = slerp(0.25, new float[] {3, -1, 2}, new float[] {1, 5, 0}, "b");
        Pools.assertValues(new double[] {1.25, 2.5}, b, 1e-7, "lerp");
        float[] v0 = {1, 2, 3, 4};
        float[] v1 = {1.01f, 2, 3, 4}; // |d| > 0.9995 but not 1
        Pools.assertValues(reference(0.3, v0, v1), slerp(0.3, v0, v1, "a"), 1e-7, "lerp fallback");
        assertEquals(1 - 0.3, Slerp.coefficients(0.3, new double[] {30, 30.0201, 30.01})[0], 0, "lerp coefficients");
    }

    @Test
    void tZero_givesTheBase_andAPoolOfTwoCandidatesIsRefused() throws Exception {
        float[] base = {0.5f, -2, 7};
        assertArrayEquals(base, slerp(0, base, new float[] {1, 1, -1}, "a"));
        try (ModelPool pool = Pools.pool(new float[3], new float[2], new float[][] {{1, 0, 0}, {0, 1}},
                new float[][] {{0, 1, 0}, {1, 0}})) {
            assertEquals("slerp interpolates between the base and exactly one other model; the pool has 2 candidates",
                    assertThrows(IllegalArgumentException.class, () -> Slerp.builder().t(0.5).build().merge(pool))
                            .getMessage());
        }
        assertEquals("t is required (mergekit's 't' parameter): 0 gives the base, 1 the other model",
                assertThrows(IllegalStateException.class, () -> Slerp.builder().build()).getMessage());
    }
}
