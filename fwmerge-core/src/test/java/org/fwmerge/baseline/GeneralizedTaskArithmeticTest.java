package org.fwmerge.baseline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import org.fwmerge.MergeResult;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.baseline.GeneralizedTaskArithmetic.Method;
import org.fwmerge.io.CheckpointMismatchException;
import org.junit.jupiter.api.Test;

/**
 * mergekit's generalized task arithmetic against a direct double-precision transcription of mergekit's
 * definitions (sort-based top-k, stacked sums), written independently of the streaming implementation.
 */
class GeneralizedTaskArithmeticTest {

    private static final int N = 3;
    private static final int[] SIZES = {37, 50};

    /** Base and three candidates with distinct magnitudes (no ties), tensors "a" (37) and "b" (50). */
    private static List<Model> models() {
        SplittableRandom rnd = new SplittableRandom(3);
        List<Model> m = new ArrayList<>();
        for (int i = 0; i <= N; i++) {
            float[][] t = new float[2][];
            for (int k = 0; k < 2; k++) {
                t[k] = new float[SIZES[k]];
                for (int j = 0; j < SIZES[k]; j++) {
                    t[k][j] = (float) rnd.nextDouble(-1, 1);
                }
            }
            m.add(Pools.model(i == 0 ? "base" : "m" + i, t[0], t[1]));
        }
        return m;
    }

    private static ModelPool pool(List<Model> m) throws CheckpointMismatchException {
        return ModelPool.of(m.get(0), m.subList(1, m.size()));
    }

    /** mergekit, transcribed: per tensor, magnitude top-k by sort, weighted deltas, consensus, normalize, λ. */
    private static double[] reference(List<Model> m, String name, double[] w, double[] rho, boolean magnitude,
            String consensus, boolean normalize, double lambda) {
        return reference(m, name, w, rho, null, magnitude, consensus, normalize, lambda);
    }

    /** As above; with {@code gamma}, mergekit's magnitude_outliers: ascending order, keep [n_bot, n − n_top). */
    private static double[] reference(List<Model> m, String name, double[] w, double[] rho, double[] gamma,
            boolean magnitude, String consensus, boolean normalize, double lambda) {
        float[] base = m.get(0).values(name);
        int n = base.length;
        double[][] wd = new double[N][n];
        for (int i = 0; i < N; i++) {
            float[] c = m.get(i + 1).values(name);
            double[] tau = new double[n];
            for (int j = 0; j < n; j++) {
                tau[j] = c[j] - base[j]; // float32 subtraction, as in the implementation and mergekit
            }
            if (gamma != null && rho[i] < 1) {
                int target = (int) (rho[i] * n);
                int top = (int) (gamma[i] * n);
                int bot = n - target - top;
                if (bot < 0) {
                    top += bot;
                    bot = 0;
                }
                Integer[] idx = new Integer[n];
                for (int j = 0; j < n; j++) {
                    idx[j] = j;
                }
                double[] t = tau;
                Arrays.sort(idx, Comparator.comparingDouble(j -> Math.abs(t[j])));
                double[] kept = new double[n];
                for (int r = bot; r < n - top; r++) {
                    kept[idx[r]] = tau[idx[r]];
                }
                tau = kept;
            } else if (magnitude && rho[i] < 1) {
                int k = (int) (rho[i] * n);
                Integer[] idx = new Integer[n];
                for (int j = 0; j < n; j++) {
                    idx[j] = j;
                }
                double[] t = tau;
                Arrays.sort(idx, Comparator.comparingDouble(j -> -Math.abs(t[j])));
                double[] kept = new double[n];
                for (int r = 0; r < k; r++) {
                    kept[idx[r]] = tau[idx[r]];
                }
                tau = kept;
            }
            for (int j = 0; j < n; j++) {
                wd[i][j] = w[i] * tau[j];
            }
        }
        double[] out = new double[n];
        for (int j = 0; j < n; j++) {
            double mixed = 0;
            double divisor = 0;
            if (consensus == null) {
                for (int i = 0; i < N; i++) {
                    mixed += wd[i][j];
                    divisor += w[i];
                }
                divisor = Math.abs(divisor) < 1e-8 ? 1 : divisor;
            } else {
                double sw = 0;
                for (int i = 0; i < N; i++) {
                    sw += consensus.equals("sum") ? wd[i][j] : Math.signum(wd[i][j]);
                }
                double majority = sw >= 0 ? 1 : -1;
                for (int i = 0; i < N; i++) {
                    if (Math.signum(wd[i][j]) == majority) {
                        mixed += wd[i][j];
                        divisor += w[i];
                    }
                }
                divisor = divisor == 0 ? 1 : divisor;
            }
            if (normalize) {
                mixed /= divisor;
            }
            out[j] = base[j] + lambda * mixed;
        }
        return out;
    }

    private static void check(GeneralizedTaskArithmetic merger, double[] w, double[] rho, boolean magnitude,
            String consensus, boolean normalize, double lambda) throws CheckpointMismatchException {
        List<Model> m = models();
        try (ModelPool pool = pool(m)) {
            MergeResult r = merger.merge(pool);
            for (String name : List.of("a", "b")) {
                double[] ref = reference(m, name, w, rho, magnitude, consensus, normalize, lambda);
                Pools.assertValues(ref, r.model().values(name), 2e-6, merger + " tensor " + name);
            }
            r.model().close();
        }
    }

    @Test
    void taskArithmetic_weightsAndLambda_matchTheDefinition() throws Exception {
        double[] w = {0.7, 0.2, -0.4};
        check(GeneralizedTaskArithmetic.builder(Method.TASK_ARITHMETIC).weights(w).backend(Pools.B).build(), w,
                null, false, null, false, 1);
        check(GeneralizedTaskArithmetic.builder(Method.TASK_ARITHMETIC).weights(w).normalize(true).lambda(0.5)
                .backend(Pools.B).build(), w, null, false, null, true, 0.5);
    }

    @Test
    void ties_perModelDensities_matchTheDefinition() throws Exception {
        double[] w = {1.0, 0.5, 0.3};
        double[] rho = {0.5, 0.3, 0.7};
        check(GeneralizedTaskArithmetic.builder(Method.TIES).weights(w).densities(rho).backend(Pools.B).build(), w,
                rho, true, "sum", true, 1);
        check(GeneralizedTaskArithmetic.builder(Method.TIES).weights(w).densities(rho).normalize(false).lambda(1.5)
                .backend(Pools.B).build(), w, rho, true, "sum", false, 1.5);
    }

    @Test
    void breadcrumbs_dropOutliersAndSmallest_matchTheDefinition() throws Exception {
        double[] w = {1.0, 0.5, 0.3};
        double[] rho = {0.6, 0.5, 0.9};
        double[] gamma = {0.1, 0.05, 0.2}; // candidate 3: n_bot < 0, so fewer outliers dropped
        for (Method method : List.of(Method.BREADCRUMBS, Method.BREADCRUMBS_TIES)) {
            List<Model> m = models();
            try (ModelPool pool = pool(m)) {
                MergeResult r = GeneralizedTaskArithmetic.builder(method).weights(w).densities(rho).gammas(gamma)
                        .backend(Pools.B).build().merge(pool);
                for (String name : List.of("a", "b")) {
                    double[] ref = reference(m, name, w, rho, gamma, true, method == Method.BREADCRUMBS ? null : "sum",
                            false, 1);
                    Pools.assertValues(ref, r.model().values(name), 2e-6, method + " tensor " + name);
                }
                r.model().close();
            }
        }
        assertEquals("gamma applies to breadcrumbs and breadcrumbs_ties, not TIES", assertThrows(
                IllegalArgumentException.class, () -> GeneralizedTaskArithmetic.builder(Method.TIES).gammas(0.1))
                .getMessage());
    }

    @Test
    void dareWithDensityOne_isTaskArithmeticWithTheMethodsConsensus() throws Exception {
        double[] w = {1.0, 0.5, 0.3};
        check(GeneralizedTaskArithmetic.builder(Method.DARE_TIES).weights(w).backend(Pools.B).build(), w,
                null, false, "sum", false, 1);
        check(GeneralizedTaskArithmetic.builder(Method.DARE_LINEAR).weights(w).backend(Pools.B).build(), w,
                null, false, null, false, 1);
    }

    @Test
    void magnitude_tiesAtTheThreshold_keepExactlyK_chosenByPositionHash_notByPosition() throws Exception {
        // BF16-like: 4096 entries, most tied at ±0.5, a few larger; density 0.25 keeps 1024.
        int n = 4096;
        float[] tau = new float[n];
        SplittableRandom rnd = new SplittableRandom(11);
        for (int j = 0; j < n; j++) {
            tau[j] = j % 97 == 0 ? 2f + j : (rnd.nextBoolean() ? 0.5f : -0.5f);
        }
        try (ModelPool pool = Pools.pool(new float[n], new float[4], new float[][] {tau, {1, 2, 3, 4}})) {
            float[] a = GeneralizedTaskArithmetic.builder(Method.TIES).weights(1).densities(0.25).backend(Pools.B)
                    .build().merge(pool).model().values("a");
            // The rule, transcribed: order by |τ| descending, ties by the position hash descending (unsigned); keep k.
            int salt = Threshold.salt(0, "a");
            Integer[] idx = new Integer[n];
            for (int j = 0; j < n; j++) {
                idx[j] = j;
            }
            Arrays.sort(idx, Comparator.<Integer>comparingDouble(j -> -Math.abs(tau[j]))
                    .thenComparing(j -> Integer.toUnsignedLong(Threshold.hash(j, salt)), Comparator.reverseOrder()));
            double[] want = new double[n];
            for (int r = 0; r < n / 4; r++) {
                want[idx[r]] = tau[idx[r]];
            }
            Pools.assertValues(want, a, 0, "trimmed");
            int kept = 0;
            int keptFirstHalf = 0;
            for (int j = 0; j < n; j++) {
                kept += a[j] != 0 ? 1 : 0;
                keptFirstHalf += a[j] != 0 && j < n / 2 ? 1 : 0;
            }
            assertEquals(n / 4, kept, "exactly k = ⌊ρ·n⌋ entries, as mergekit");
            // Lowest-index-first would keep every tied entry in the first quarter; the hash spreads them.
            assertEquals(0.5, keptFirstHalf / (double) kept, 0.05, "kept entries spread over the tensor");
        }
    }

    @Test
    void randomWithRescale_keepsAboutDensityAndRestoresTheL1Norm() throws Exception {
        int n = 20000;
        SplittableRandom rnd = new SplittableRandom(5);
        float[] tau = new float[n];
        double l1 = 0;
        for (int j = 0; j < n; j++) {
            tau[j] = (float) rnd.nextDouble(-1, 1);
            l1 += Math.abs(tau[j]);
        }
        try (ModelPool pool = Pools.pool(new float[n], new float[] {0}, new float[][] {tau, {0}})) {
            GeneralizedTaskArithmetic dare = GeneralizedTaskArithmetic.builder(Method.DARE_LINEAR).weights(2)
                    .densities(0.3).seed(9).backend(Pools.B).build();
            float[] a = dare.merge(pool).model().values("a");
            float[] again = dare.merge(pool).model().values("a");
            assertTrue(Arrays.equals(a, again), "seeded: the same mask every time");
            int kept = 0;
            double outL1 = 0;
            double ratio = Double.NaN;
            for (int j = 0; j < n; j++) {
                if (a[j] != 0) {
                    kept++;
                    outL1 += Math.abs(a[j]);
                    double r = a[j] / (2.0 * tau[j]);
                    if (!Double.isNaN(ratio)) {
                        assertEquals(ratio, r, 1e-6 * ratio, "one rescale factor for every kept entry");
                    }
                    ratio = r;
                }
            }
            assertEquals(0.3 * n, kept, 4 * Math.sqrt(n * 0.3 * 0.7), "kept entries ~ Binomial(n, 0.3)");
            assertEquals(2 * l1, outL1, 1e-4 * l1, "rescaled to the original L1 norm, times the weight");
        }
    }

    @Test
    void magnitudeWithRescale_keepsTheTopHalf_scaledToTheOriginalL1Norm() throws Exception {
        float[] tau = {4, -1, 0.5f, -3, 2, 0.25f};
        try (ModelPool pool = Pools.pool(new float[6], new float[2], new float[][] {tau, {1, 2}})) {
            float[] a = GeneralizedTaskArithmetic.builder(Method.TIES).weights(1).densities(0.5).rescale(true)
                    .backend(Pools.B).build().merge(pool).model().values("a");
            double f = (4 + 1 + 0.5 + 3 + 2 + 0.25) / (4 + 3 + 2.0); // ‖τ‖₁ / ‖top-3‖₁
            Pools.assertValues(new double[] {4 * f, 0, 0, -3 * f, 2 * f, 0}, a, 1e-5, "rescaled trim");
        }
    }

    @Test
    void builder_missingWeightsOrBadValues_throwNamingThem() {
        assertEquals("weights are required: one per candidate (mergekit's 'weight' parameter)",
                assertThrows(IllegalStateException.class, () -> GeneralizedTaskArithmetic.builder(Method.TIES).build())
                        .getMessage());
        assertEquals("density of candidate 2 must be finite and > 0, got 0.0", assertThrows(IllegalArgumentException.class,
                () -> GeneralizedTaskArithmetic.builder(Method.TIES).densities(0.5, 0)).getMessage());
        assertThrows(IllegalStateException.class, () -> GeneralizedTaskArithmetic.builder(Method.TIES).weights(1, 1)
                .densities(0.5).build());
    }

    @Test
    void merge_densityKeepingNoEntry_failsNamingTensorAndCandidate() throws Exception {
        try (ModelPool pool = pool(models())) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GeneralizedTaskArithmetic
                    .builder(Method.TIES).weights(1, 1, 1).densities(0.5, 0.01, 0.5).backend(Pools.B).build().merge(pool));
            assertEquals("density 0.01 of candidate 2 keeps no entry of tensor 'a' (37 entries); mergekit refuses this too",
                    e.getMessage());
        }
    }
}
