package org.fwmerge.baseline;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.fwmerge.MergeResult;
import org.fwmerge.ModelPool;
import org.junit.jupiter.api.Test;

/** mergekit's multislerp against a double-precision transcription of multislerp.py, vector by vector. */
class MultiSlerpTest {

    /** multislerp.py in double, on the flattened tensor; {@code base} null: no base model. */
    static double[] reference(float[] base, float[][] models, double[] weight, boolean normalize) {
        int n = models.length;
        int d = models[0].length;
        double eps = 1e-8;
        if (n == 1) {
            double[] out = new double[d];
            for (int k = 0; k < d; k++) {
                out[k] = models[0][k];
            }
            return out;
        }
        double[][] v = new double[n][d];
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < d; k++) {
                v[i][k] = models[i][k] - (base == null ? 0 : base[k]);
            }
        }
        double[] w = weight.clone();
        if (normalize) {
            double s = 0;
            for (double x : w) {
                s += x;
            }
            for (int i = 0; i < n; i++) {
                w[i] /= s;
            }
        }
        double[] norms = new double[n];
        double[][] u = new double[n][d];
        for (int i = 0; i < n; i++) {
            norms[i] = Math.sqrt(dot(v[i], v[i]));
            for (int k = 0; k < d; k++) {
                u[i][k] = v[i][k] / (norms[i] + eps);
            }
        }
        double[] mean = new double[d];
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < d; k++) {
                mean[k] += u[i][k] * w[i];
            }
        }
        double meanNorm = Math.sqrt(dot(mean, mean));
        double[] res = new double[d];
        if (meanNorm < eps) {
            if (n != 2) {
                throw new IllegalArgumentException("zero mean");
            }
            for (int k = 0; k < d; k++) {
                res[k] = v[0][k] * w[0] + v[1][k] * w[1] + (base == null ? 0 : base[k]);
            }
            return res;
        }
        for (int k = 0; k < d; k++) {
            mean[k] /= meanNorm;
        }
        double[] tangent = new double[d];
        for (int i = 0; i < n; i++) {
            double dt = dot(u[i], mean);
            for (int k = 0; k < d; k++) {
                tangent[k] += (u[i][k] - dt * mean[k]) * w[i];
            }
        }
        double tn = Math.sqrt(dot(tangent, tangent)) + eps;
        double avg = 0;
        for (int i = 0; i < n; i++) {
            avg += norms[i] * w[i];
        }
        for (int k = 0; k < d; k++) {
            res[k] = (mean[k] * Math.cos(tn) + tangent[k] * Math.sin(tn) / tn) * avg + (base == null ? 0 : base[k]);
        }
        return res;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int k = 0; k < a.length; k++) {
            s += a[k] * b[k];
        }
        return s;
    }

    private static float[][] tasks(SplittableRandom rnd, int n, int d, double bias) {
        float[][] t = new float[n][d];
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < d; k++) {
                t[i][k] = (float) (0.1 * (rnd.nextGaussian() + bias));
            }
        }
        return t;
    }

    @Test
    void randomPools_matchTheTranscription_withAndWithoutBase_andUnnormalisedWeights() throws Exception {
        SplittableRandom rnd = new SplittableRandom(21);
        int d = 1500;
        float[] base = new float[d];
        for (int k = 0; k < d; k++) {
            base[k] = (float) rnd.nextGaussian();
        }
        float[][] tau = tasks(rnd, 3, d, 0.5);
        float[][] models = new float[3][];
        for (int i = 0; i < 3; i++) {
            models[i] = Pools.add(base, tau[i]);
        }
        double[] w = {0.5, 1.0, 0.25};
        float[] b = {2f};
        try (ModelPool pool = Pools.pool(base, b, new float[][] {tau[0], {0.5f}}, new float[][] {tau[1], {1f}},
                new float[][] {tau[2], {-0.5f}})) {
            for (boolean fromBase : new boolean[] {true, false}) {
                for (boolean normalize : new boolean[] {true, false}) {
                    try (MergeResult r = MultiSlerp.builder().weights(w).fromBase(fromBase).normalizeWeights(normalize)
                            .backend(Pools.B).build().merge(pool)) {
                        String what = "fromBase " + fromBase + ", normalize " + normalize;
                        double[] want = reference(fromBase ? base : null, models, w, normalize);
                        Pools.assertValues(want, r.model().values("a"), 2e-6 * (1 + Math.abs(want[0])), what);
                        Pools.assertValues(reference(fromBase ? b : null, new float[][] {{2.5f}, {3f}, {1.5f}}, w, normalize),
                                r.model().values("b"), 2e-5, what + ", one entry");
                    }
                }
            }
        }
    }

    @Test
    void antipodalPair_fallsBackToLinear_threeCancelling_areRefused_andOneModelIsItself() throws Exception {
        float[] base = {1, 1, 1};
        float[] t = {1, -2, 0.5f};
        float[] minus = {-1, 2, -0.5f};
        try (ModelPool pair = Pools.pool(base, new float[] {0}, new float[][] {t, {1}}, new float[][] {minus, {1}});
                MergeResult r = MultiSlerp.builder().weights(1, 1).backend(Pools.B).build().merge(pair)) {
            // w = 1/2 each: the linear fallback gives the base
            Pools.assertValues(new double[] {1, 1, 1}, r.model().values("a"), 1e-7, "antipodal pair");
        }
        float[] third = {0, 0, 0};
        try (ModelPool three = Pools.pool(base, new float[] {0}, new float[][] {t, {1}}, new float[][] {minus, {2}},
                new float[][] {third, {3}})) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> MultiSlerp.builder().weights(1, 1, 0).backend(Pools.B).build().merge(three));
            assertTrue(e.getMessage().contains("tensor 'a'"), e.getMessage());
        }
        try (ModelPool one = Pools.pool(base, new float[] {0}, new float[][] {t, {1}});
                MergeResult r = MultiSlerp.builder().weights(3).backend(Pools.B).build().merge(one)) {
            Pools.assertValues(new double[] {2, -1, 1.5}, r.model().values("a"), 0, "one model");
        }
    }
}
