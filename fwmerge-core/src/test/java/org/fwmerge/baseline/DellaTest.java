package org.fwmerge.baseline;

import static org.fwmerge.baseline.Pools.B;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.fwmerge.MergeResult;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.baseline.GeneralizedTaskArithmetic.Method;
import org.junit.jupiter.api.Test;

/**
 * mergekit's della and della_linear (sparsify.py's della_magprune inside generalized task arithmetic): the
 * keep probability ρ − ε + 2ε·rank/(c − 1) of the magnitude's rank within each row, the L1 rescale, the
 * consensus and normalisation of the family, and ε's bounds.
 */
class DellaTest {

    private static ModelPool pool(long[] shape, float[]... taus) throws Exception {
        int size = taus[0].length;
        Map<String, long[]> shapes = Map.of("a", shape);
        List<Model> c = new java.util.ArrayList<>();
        for (int i = 0; i < taus.length; i++) {
            c.add(Model.ofArrays("m" + i, B, Map.of("a", taus[i]), shapes));
        }
        return ModelPool.of(Model.ofArrays("base", B, Map.of("a", new float[size]), shapes), c);
    }

    private static float[] merge(GeneralizedTaskArithmetic.Builder b, ModelPool pool) {
        try (MergeResult r = b.backend(B).build().merge(pool)) {
            return r.model().values("a");
        }
    }

    /** The keep rate follows the rank within each row, not the magnitude across rows. */
    @Test
    void keepRate_growsLinearlyWithTheRankInsideEachRow() throws Exception {
        int rows = 4000;
        int cols = 20;
        float[] tau = new float[rows * cols];
        SplittableRandom rnd = new SplittableRandom(3);
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < cols; j++) {
                // rank j in its row; odd rows 1000× smaller than even ones, signs random
                tau[r * cols + j] = (float) ((j + 1) * (r % 2 == 0 ? 1000 : 1) * (rnd.nextBoolean() ? 1 : -1));
            }
        }
        try (ModelPool pool = pool(new long[] {rows, cols}, tau)) {
            float[] out = merge(GeneralizedTaskArithmetic.builder(Method.DELLA_LINEAR).weights(1).densities(0.5).epsilons(0.2)
                    .rescale(false), pool);
            for (int parity = 0; parity < 2; parity++) {
                for (int j = 0; j < cols; j++) {
                    int kept = 0;
                    for (int r = parity; r < rows; r += 2) {
                        float v = out[r * cols + j];
                        if (v != 0) {
                            assertEquals(tau[r * cols + j], v, 0, "a kept entry keeps its value without rescale");
                            kept++;
                        }
                    }
                    double want = 0.3 + 0.4 * j / (cols - 1);
                    double sd = Math.sqrt(want * (1 - want) / (rows / 2));
                    assertEquals(want, kept / (rows / 2.0), 4.5 * sd, "column " + j + ", row parity " + parity);
                }
            }
        }
    }

    /** A 1-D tensor is one row; tied magnitudes share their mean rank, so an all-equal row keeps ρ. */
    @Test
    void oneDimensionalTensor_isOneRow_andTiesShareTheirMeanRank() throws Exception {
        int n = 60_000;
        float[] ramp = new float[n];
        float[] flat = new float[n];
        for (int j = 0; j < n; j++) {
            ramp[j] = (j % 2 == 0 ? 1 : -1) * (float) (n - j); // largest first: rank falls with the index
            flat[j] = 0.5f;
        }
        try (ModelPool rampPool = pool(new long[] {n}, ramp); ModelPool flatPool = pool(new long[] {n}, flat)) {
            float[] out = merge(GeneralizedTaskArithmetic.builder(Method.DELLA_LINEAR).weights(1).densities(0.4).rescale(false), rampPool);
            int[] kept = new int[10];
            for (int j = 0; j < n; j++) {
                kept[j * 10 / n] += out[j] != 0 ? 1 : 0;
            }
            for (int q = 0; q < 10; q++) {
                // decile q holds ranks (9 − q)/10 … (10 − q)/10 of the magnitudes; ε default 0.15
                double want = 0.25 + 0.3 * (9.5 - q) / 10;
                assertEquals(want, kept[q] / (n / 10.0), 4.5 * Math.sqrt(want * (1 - want) / (n / 10.0)), "decile " + q);
            }
            float[] flatOut = merge(GeneralizedTaskArithmetic.builder(Method.DELLA_LINEAR).weights(1).densities(0.4).rescale(false), flatPool);
            int k = 0;
            for (float v : flatOut) {
                k += v != 0 ? 1 : 0;
            }
            assertEquals(0.4, k / (double) n, 4.5 * Math.sqrt(0.24 / n), "all tied: every entry kept with probability ρ");
        }
    }

    /**
     * della: L1 rescale, sum consensus, normalise by the kept weights; the mask read back from the output of
     * each candidate alone (della_linear, rescale off) rebuilds the merge exactly.
     */
    @Test
    void della_isTheFamilysMergeOfTheMaskedRescaledVectors() throws Exception {
        int n = 5000;
        SplittableRandom rnd = new SplittableRandom(8);
        float[][] tau = new float[2][n];
        for (int i = 0; i < 2; i++) {
            for (int j = 0; j < n; j++) {
                tau[i][j] = (float) rnd.nextGaussian();
            }
        }
        double[] w = {1.0, 0.5};
        float[] merged;
        try (ModelPool pool = pool(new long[] {50, 100}, tau[0], tau[1])) {
            merged = merge(GeneralizedTaskArithmetic.builder(Method.DELLA).weights(w).densities(0.6, 0.5).epsilons(0.1, 0.2)
                    .lambda(1.5).seed(5), pool);
        }
        // Each candidate's mask: its draws depend on (seed, index, tensor) and its ranks on its own τ only, so
        // a run where the other candidate's τ is zero (della_linear, weights 1, no rescale) shows it.
        boolean[][] kept = new boolean[2][];
        try (ModelPool p0 = pool(new long[] {50, 100}, tau[0], new float[n]);
                ModelPool p1 = pool(new long[] {50, 100}, new float[n], tau[1])) {
            float[] m0 = merge(GeneralizedTaskArithmetic.builder(Method.DELLA_LINEAR).weights(1, 1).densities(0.6, 0.5)
                    .epsilons(0.1, 0.2).rescale(false).seed(5), p0);
            float[] m1 = merge(GeneralizedTaskArithmetic.builder(Method.DELLA_LINEAR).weights(1, 1).densities(0.6, 0.5)
                    .epsilons(0.1, 0.2).rescale(false).seed(5), p1);
            kept[0] = new boolean[n];
            kept[1] = new boolean[n];
            for (int j = 0; j < n; j++) {
                kept[0][j] = m0[j] != 0;
                kept[1][j] = m1[j] != 0;
            }
        }
        double[] factor = new double[2];
        for (int i = 0; i < 2; i++) {
            double all = 0;
            double some = 0;
            for (int j = 0; j < n; j++) {
                all += Math.abs(tau[i][j]);
                some += kept[i][j] ? Math.abs(tau[i][j]) : 0;
            }
            factor[i] = all / some;
            boolean[] k = kept[i];
            double frac = java.util.stream.IntStream.range(0, n).filter(j -> k[j]).count() / (double) n;
            double rho = i == 0 ? 0.6 : 0.5;
            assertEquals(rho, frac, 0.03, "candidate " + i + "'s kept fraction");
        }
        for (int j = 0; j < n; j++) {
            double[] d = new double[2];
            double sum = 0;
            for (int i = 0; i < 2; i++) {
                d[i] = kept[i][j] ? tau[i][j] * factor[i] * w[i] : 0;
                sum += d[i];
            }
            double num = 0;
            double den = 0;
            for (int i = 0; i < 2; i++) {
                if (d[i] != 0 && (d[i] > 0) == (sum >= 0)) {
                    num += d[i];
                    den += w[i];
                }
            }
            double want = 1.5 * num / (den == 0 ? 1 : den);
            assertEquals(want, merged[j], 1e-5 * (1 + Math.abs(want)), "entry " + j);
        }
    }

    @Test
    void epsilonOutsideTheDensitysRoom_isRefusedNamingTheCandidate_andDensityOneKeepsAll() throws Exception {
        float[] tau = {1, -2, 3, -4};
        try (ModelPool pool = pool(new long[] {4}, tau)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> merge(
                    GeneralizedTaskArithmetic.builder(Method.DELLA).weights(1).densities(0.1).epsilons(0.15), pool));
            assertTrue(e.getMessage().contains("candidate 1") && e.getMessage().contains("epsilon 0.15"), e.getMessage());
            assertArrayEquals(tau, merge(GeneralizedTaskArithmetic.builder(Method.DELLA).weights(1).densities(1.0), pool));
        }
        assertThrows(IllegalArgumentException.class, () -> GeneralizedTaskArithmetic.builder(Method.TIES).epsilons(0.1));
    }
}
