package org.fwmerge.baseline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import org.fwmerge.MergeResult;
import org.fwmerge.ModelPool;
import org.junit.jupiter.api.Test;

/** mergekit's model_stock against closed forms and a double-precision transcription of model_stock.py. */
class ModelStockTest {

    /** model_stock.py in double: pairwise cosines of the offsets, their mean, t, t·mean + (1 − t)·base. */
    private static double[] reference(float[] base, float[][] models) {
        int n = models.length;
        double sum = 0;
        int pairs = 0;
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                double dot = 0;
                double ni = 0;
                double nj = 0;
                for (int k = 0; k < base.length; k++) {
                    double a = models[i][k] - base[k];
                    double b = models[j][k] - base[k];
                    dot += a * b;
                    ni += a * a;
                    nj += b * b;
                }
                sum += Math.max(-1, Math.min(1, dot / Math.max(Math.sqrt(ni) * Math.sqrt(nj), 1e-6)));
                pairs++;
            }
        }
        double c = sum / pairs;
        double t = n * c / (1 + (n - 1) * c);
        double[] out = new double[base.length];
        for (int k = 0; k < base.length; k++) {
            double avg = 0;
            for (float[] m : models) {
                avg += m[k];
            }
            out[k] = t * avg / n + (1 - t) * base[k];
        }
        return out;
    }

    @Test
    void randomPool_matchesTheTranscription() throws Exception {
        SplittableRandom rnd = new SplittableRandom(6);
        float[] base = new float[2001];
        float[][] tau = new float[3][2001];
        float[][] models = new float[3][];
        for (int k = 0; k < base.length; k++) {
            base[k] = (float) rnd.nextGaussian();
            double shared = rnd.nextGaussian();
            for (int i = 0; i < 3; i++) {
                tau[i][k] = (float) (0.1 * (shared + rnd.nextGaussian()));
            }
        }
        for (int i = 0; i < 3; i++) {
            models[i] = Pools.add(base, tau[i]);
        }
        try (ModelPool pool = Pools.pool(base, new float[] {0}, new float[][] {tau[0], {1}}, new float[][] {tau[1], {2}},
                new float[][] {tau[2], {3}}); MergeResult r = ModelStock.builder().backend(Pools.B).build().merge(pool)) {
            Pools.assertValues(reference(base, models), r.model().values("a"), 2e-6, "model stock");
        }
    }

    @Test
    void orthogonalTaskVectors_giveTheBase_andIdenticalOnesTheirMean() {
        // c = 0: t = 0; c = 1: t = N / N = 1
        assertEquals(0, ModelStock.ratio(new double[][] {{1, 0}, {0, 4}}), 0);
        assertEquals(1, ModelStock.ratio(new double[][] {{4, 4, 4}, {4, 4, 4}, {4, 4, 4}}), 1e-15);
        // two at 60°: c = 1/2, t = 2·0.5 / 1.5 = 2/3
        assertEquals(2.0 / 3, ModelStock.ratio(new double[][] {{1, 0.5}, {0.5, 1}}), 1e-15);
    }

    @Test
    void poolOfOneCandidate_isRefused() throws Exception {
        try (ModelPool pool = Pools.pool(new float[2], new float[1], new float[][] {{1, 0}, {0}})) {
            assertEquals("model_stock needs the base and at least two other models; the pool has 1 candidate",
                    assertThrows(IllegalArgumentException.class, () -> ModelStock.builder().build().merge(pool))
                            .getMessage());
        }
    }
}
