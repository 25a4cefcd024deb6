package org.fwmerge.baseline;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.fwmerge.MergeResult;
import org.fwmerge.ModelPool;
import org.junit.jupiter.api.Test;

/** mergekit's karcher against a double-precision transcription of karcher.py, vector by vector. */
class KarcherTest {

    /** karcher_merge_tensors in double, equal weights. */
    static double[] reference(float[][] models, int maxIter, double tol) {
        int n = models.length;
        int d = models[0].length;
        double[] out = new double[d];
        if (n == 1) {
            for (int k = 0; k < d; k++) {
                out[k] = models[0][k];
            }
            return out;
        }
        double[] norms = new double[n];
        double[][] units = new double[n][d];
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (float x : models[i]) {
                s += (double) x * x;
            }
            norms[i] = Math.sqrt(s);
            for (int k = 0; k < d; k++) {
                units[i][k] = norms[i] == 0 ? 0 : models[i][k] / norms[i];
            }
        }
        List<Integer> valid = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            if (norms[i] > tol) {
                valid.add(i);
            }
        }
        if (valid.isEmpty()) {
            return out;
        }
        double a = 1.0 / valid.size();
        double[] u = new double[d];
        for (int i : valid) {
            for (int k = 0; k < d; k++) {
                u[k] += a * units[i][k];
            }
        }
        double nu = norm(u);
        if (nu < tol) {
            u = units[valid.get(0)].clone();
        } else {
            for (int k = 0; k < d; k++) {
                u[k] /= nu;
            }
        }
        for (int it = 0; it < maxIter; it++) {
            double[] t = new double[d];
            for (int i : valid) {
                double dot = 0;
                for (int k = 0; k < d; k++) {
                    dot += u[k] * units[i][k];
                }
                dot = Math.max(-1, Math.min(1, dot));
                double theta = Math.acos(dot);
                if (theta < tol) {
                    continue;
                }
                for (int k = 0; k < d; k++) {
                    t[k] += a * (theta / Math.sin(theta)) * (units[i][k] - dot * u[k]);
                }
            }
            double nt = norm(t);
            if (nt < tol) {
                break;
            }
            for (int k = 0; k < d; k++) {
                u[k] = Math.cos(nt) * u[k] + Math.sin(nt) * t[k] / nt;
            }
            double un = norm(u);
            if (un > tol) {
                for (int k = 0; k < d; k++) {
                    u[k] /= un;
                }
            }
        }
        double s = 0;
        for (double x : norms) {
            s += x / n;
        }
        for (int k = 0; k < d; k++) {
            out[k] = s * u[k];
        }
        return out;
    }

    private static double norm(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x * x;
        }
        return Math.sqrt(s);
    }

    @Test
    void randomModels_aZeroModel_andFewIterations_matchTheTranscription() throws Exception {
        SplittableRandom rnd = new SplittableRandom(9);
        int d = 2500;
        float[][] m = new float[4][d];
        for (int i = 0; i < 3; i++) {
            for (int k = 0; k < d; k++) {
                m[i][k] = (float) (0.5 + (i + 1) * rnd.nextGaussian()); // different norms and directions
            }
        }
        // m[3] stays zero: left out of the mean, but counted in the norm scale
        float[] zero = new float[d];
        float[][] tau = new float[4][];
        for (int i = 0; i < 4; i++) {
            tau[i] = m[i];
        }
        float[] b = {3f};
        try (ModelPool pool = Pools.pool(zero, new float[] {0}, new float[][] {tau[0], {1f}}, new float[][] {tau[1], {2f}},
                new float[][] {tau[2], {-1f}}, new float[][] {tau[3], {0.5f}})) {
            for (int iterations : new int[] {0, 1, 10}) {
                try (MergeResult r = Karcher.builder().maxIterations(iterations).backend(Pools.B).build().merge(pool)) {
                    double[] want = reference(m, iterations, 1e-5);
                    Pools.assertValues(want, r.model().values("a"), 2e-5, "karcher, " + iterations + " iterations");
                    Pools.assertValues(reference(new float[][] {{1f}, {2f}, {-1f}, {0.5f}}, iterations, 1e-5), r.model().values("b"),
                            2e-5, "one entry, " + iterations + " iterations");
                }
            }
        }
        try (ModelPool one = Pools.pool(zero, new float[] {0}, new float[][] {m[0], b});
                MergeResult r = Karcher.builder().backend(Pools.B).build().merge(one)) {
            Pools.assertValues(reference(new float[][] {m[0]}, 10, 1e-5), r.model().values("a"), 0, "one model is itself");
        }
    }
}
