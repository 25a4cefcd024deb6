package org.fwmerge.baseline;

import static org.fwmerge.baseline.Pools.B;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.Random;
import org.fwmerge.ModelPool;
import org.junit.jupiter.api.Test;

/**
 * TIES on tensors larger than one chunk, against a direct in-memory recomputation of the reference
 * algorithm (sort for the k-th value, double sums) on the flattened model; the larger size is swept
 * in one range per core, so range boundaries fall inside the tensor.
 */
class TiesReferenceTest {

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(ints = {70_001, 700_001})
    void ties_largeRandomModel_matchesDirectRecomputation(int na) throws Exception {
        Random r = new Random(1);
        int nb = 999;
        int n = 4;
        float[] baseA = new float[na];
        float[] baseB = new float[nb];
        for (int k = 0; k < na; k++) {
            baseA[k] = (float) r.nextGaussian();
        }
        float[][][] taus = new float[n][][];
        for (int i = 0; i < n; i++) {
            float[] a = new float[na];
            float[] b = new float[nb];
            for (int k = 0; k < na; k++) {
                a[k] = (float) (r.nextGaussian() * 0.01);
            }
            for (int k = 0; k < nb; k++) {
                b[k] = (float) (r.nextGaussian() * 0.03);
            }
            taus[i] = new float[][] {a, b};
        }
        ModelPool pool = Pools.pool(baseA, baseB, taus);
        for (Ties.Combine combine : Ties.Combine.values()) {
            float[] a = Ties.builder().combine(combine).backend(B).build().merge(pool).model().values("a");
            float[] b = Ties.builder().combine(combine).backend(B).build().merge(pool).model().values("b");
            double[] expected = reference(pool, na, nb, n, combine == Ties.Combine.MEAN);
            for (int k = 0; k < na; k++) {
                assertEquals(expected[k], a[k], 1e-6, "a[" + k + "] " + combine);
            }
            for (int k = 0; k < nb; k++) {
                assertEquals(expected[na + k], b[k], 1e-6, "b[" + k + "] " + combine);
            }
        }
    }

    /** The reference algorithm on flattened τ (computed from the pool's float values, as the merger sees them). */
    static double[] reference(ModelPool pool, int na, int nb, int n, boolean mean) {
        int d = na + nb;
        float[] base = flat(pool.base(), na, nb);
        float[][] tau = new float[n][d];
        for (int i = 0; i < n; i++) {
            float[] c = flat(pool.candidates().get(i), na, nb);
            for (int k = 0; k < d; k++) {
                tau[i][k] = c[k] - base[k];
            }
            float[] mag = new float[d];
            for (int k = 0; k < d; k++) {
                mag[k] = Math.abs(tau[i][k]);
            }
            Arrays.sort(mag);
            int keep = (int) (d * 0.2);
            float kth = mag[d - keep - 1]; // kthvalue(d - keep), 1-based
            for (int k = 0; k < d; k++) {
                if (Math.abs(tau[i][k]) < kth) {
                    tau[i][k] = 0;
                }
            }
        }
        double[] sign = new double[d];
        double majority = 0;
        for (int k = 0; k < d; k++) {
            double s = 0;
            for (int i = 0; i < n; i++) {
                s += tau[i][k];
            }
            sign[k] = Math.signum(s);
            majority += sign[k];
        }
        double[] out = new double[d];
        for (int k = 0; k < d; k++) {
            double e = sign[k] == 0 ? Math.signum(majority) : sign[k];
            double sum = 0;
            int count = 0;
            for (int i = 0; i < n; i++) {
                if (e > 0 ? tau[i][k] > 0 : e < 0 && tau[i][k] < 0) {
                    sum += tau[i][k];
                    count++;
                }
            }
            out[k] = base[k] + 0.3 * (mean ? sum / Math.max(count, 1) : sum);
        }
        return out;
    }

    static float[] flat(org.fwmerge.io.Checkpoint c, int na, int nb) {
        float[] out = new float[na + nb];
        System.arraycopy(((org.fwmerge.Model) c).values("a"), 0, out, 0, na);
        System.arraycopy(((org.fwmerge.Model) c).values("b"), 0, out, na, nb);
        return out;
    }
}
