package org.fwmerge.baseline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.fwmerge.MergeResult;
import org.fwmerge.ModelPool;
import org.junit.jupiter.api.Test;

/** mergekit's sce against a double-precision transcription of sce.py and closed forms. */
class SceTest {

    /** sce.py in double, for data without tied variances. */
    static double[] reference(float[] base, float[][] models, double topk) {
        int n = models.length;
        int d = base.length;
        double[][] tv = new double[n][d];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < d; j++) {
                tv[i][j] = (double) models[i][j] - base[j];
            }
        }
        if (topk < 1) {
            double[] var = new double[d];
            int nonzero = 0;
            for (int j = 0; j < d; j++) {
                double mean = 0;
                for (int i = 0; i < n; i++) {
                    mean += tv[i][j] / n;
                }
                for (int i = 0; i < n; i++) {
                    var[j] += (tv[i][j] - mean) * (tv[i][j] - mean) / n;
                }
                nonzero += var[j] != 0 ? 1 : 0;
            }
            int k = (int) (nonzero * topk);
            boolean[] keep = new boolean[d];
            Integer[] order = IntStream.range(0, d).boxed().sorted(Comparator.comparingDouble(j -> -var[j])).toArray(Integer[]::new);
            for (int r = 0; r < k; r++) {
                keep[order[r]] = true;
            }
            for (double[] t : tv) {
                for (int j = 0; j < d; j++) {
                    t[j] = keep[j] ? t[j] : 0;
                }
            }
        }
        double[] w = new double[n];
        double total = 0;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < d; j++) {
                w[i] += tv[i][j] * tv[i][j] / d;
            }
            total += w[i];
        }
        for (int i = 0; i < n; i++) {
            w[i] = Math.abs(total) < 1e-6 ? 1.0 / n : w[i] / total;
        }
        double[] out = new double[d];
        for (int j = 0; j < d; j++) {
            double sum = 0;
            for (int i = 0; i < n; i++) {
                sum += tv[i][j];
            }
            double sign = sum >= 0 ? 1 : -1;
            double num = 0;
            double den = 0;
            for (int i = 0; i < n; i++) {
                if (Math.signum(tv[i][j]) == sign) {
                    num += tv[i][j] * w[i];
                    den += w[i];
                }
            }
            out[j] = base[j] + num / Math.max(den, 1e-6);
        }
        return out;
    }

    private static float[][] randomTasks(SplittableRandom rnd, int n, int d) {
        float[][] tau = new float[n][d];
        for (int i = 0; i < n; i++) {
            double scale = 0.05 * (i + 1); // unequal mean squares, so the weights differ
            for (int j = 0; j < d; j++) {
                tau[i][j] = (float) (scale * rnd.nextGaussian());
            }
        }
        return tau;
    }

    @Test
    void randomPool_matchesTheTranscription_atEverySelection() throws Exception {
        SplittableRandom rnd = new SplittableRandom(11);
        int d = 3001;
        float[] base = new float[d];
        for (int j = 0; j < d; j++) {
            base[j] = (float) rnd.nextGaussian();
        }
        float[][] tau = randomTasks(rnd, 4, d);
        float[][] models = new float[4][];
        for (int i = 0; i < 4; i++) {
            models[i] = Pools.add(base, tau[i]);
        }
        for (double topk : new double[] {1.0, 0.3, 0.05}) {
            try (ModelPool pool = Pools.pool(base, new float[] {0.5f}, new float[][] {tau[0], {0.1f}}, new float[][] {tau[1], {-0.2f}},
                    new float[][] {tau[2], {0.3f}}, new float[][] {tau[3], {0.4f}});
                    MergeResult r = Sce.builder().selectTopK(topk).backend(Pools.B).build().merge(pool)) {
                Pools.assertValues(reference(base, models, topk), r.model().values("a"), 2e-6, "sce topk " + topk);
                // One entry with a non-zero variance: ⌊0.3·1⌋ = 0 selected, so the base (mergekit's k == 0 case).
                double b = topk < 1 ? 0.5 : reference(new float[] {0.5f},
                        new float[][] {{0.6f}, {0.3f}, {0.8f}, {0.9f}}, 1)[0];
                assertEquals(b, r.model().values("b")[0], 1e-6, "tensor b, topk " + topk);
            }
        }
    }

    @Test
    void identicalTaskVectors_giveBasePlusTheVector_andNothingSelectedAtZeroVariance() throws Exception {
        float[] base = {1, 2, 3, 4};
        float[] tau = {0.5f, -0.25f, 0f, 2f};
        try (ModelPool pool = Pools.pool(base, new float[] {0}, new float[][] {tau, {1}}, new float[][] {tau, {1}});
                MergeResult all = Sce.builder().backend(Pools.B).build().merge(pool);
                MergeResult some = Sce.builder().selectTopK(0.5).backend(Pools.B).build().merge(pool)) {
            Pools.assertValues(new double[] {1.5, 1.75, 3, 6}, all.model().values("a"), 1e-7, "sce of equal tasks");
            // every variance is 0: no entry is selected, the merge is the base
            Pools.assertValues(new double[] {1, 2, 3, 4}, some.model().values("a"), 0, "sce, zero variance");
        }
    }

    /** Tied variances: exactly ⌊ρ·nonzero⌋ entries selected, not crowded at the start of the tensor. */
    @Test
    void tiedVariances_selectExactlyK_spreadOverTheTensor() throws Exception {
        int d = 10_000;
        float[] base = new float[d];
        float[] plus = new float[d];
        float[] minus = new float[d];
        Arrays.fill(plus, 0.25f);
        Arrays.fill(minus, -0.25f);
        plus[7] = 1f; // one larger variance, always selected
        minus[7] = -1f;
        try (ModelPool pool = Pools.pool(base, new float[] {0}, new float[][] {plus, {1}}, new float[][] {minus, {1}}, new float[][] {plus, {1}});
                MergeResult r = Sce.builder().selectTopK(0.1).backend(Pools.B).build().merge(pool)) {
            float[] v = r.model().values("a");
            int changed = 0;
            int firstHalf = 0;
            for (int j = 0; j < d; j++) {
                if (v[j] != 0) {
                    changed++;
                    firstHalf += j < d / 2 ? 1 : 0;
                    // sign sum > 0: the two +τ count, equal weights: θ = +τ
                    assertEquals(j == 7 ? 1f : 0.25f, v[j], 1e-7f, "entry " + j);
                }
            }
            assertEquals(1000, changed, "⌊0.1 · 10000⌋ entries selected");
            assertTrue(firstHalf > 400 && firstHalf < 600, firstHalf + " of 1000 selected entries in the first half");
        }
    }
}
