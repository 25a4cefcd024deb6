package org.fwmerge.baseline;

import static org.fwmerge.baseline.Pools.B;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.ParameterSelection;
import org.junit.jupiter.api.Test;

/**
 * DARE's randomness: reproducible, seed-dependent, independent per candidate and tensor, and with the
 * binomial keep rate and unbiased mean the definition implies. Tensor "a" has 10^5 entries (more than
 * one chunk of 2^16), "b" 10.
 */
class DareStatisticsTest {
    static final int N = 100_000;
    // τ values 1, 2, -0.5 make every subset sum of 2τ_i distinct, so each entry decodes to its 3 masks.
    static final float[] TAU = {1f, 2f, -0.5f};

    static ModelPool pool(int candidates) throws Exception {
        float[][][] t = new float[candidates][][];
        for (int i = 0; i < candidates; i++) {
            float[] a = new float[N];
            Arrays.fill(a, TAU[i]);
            float[] b = new float[10];
            Arrays.fill(b, TAU[i]);
            t[i] = new float[][] {a, b};
        }
        return Pools.pool(new float[N], new float[10], t);
    }

    static float[] dare(ModelPool pool, long seed) {
        return Dare.builder().scaling(1).seed(seed).backend(B).build().merge(pool).model().values("a");
    }

    @Test
    void dare_sameSeed_sameOutput_differentSeed_differs() throws Exception {
        ModelPool p = pool(3);
        float[] x = dare(p, 5);
        assertArrayEquals(x, dare(p, 5));
        assertFalse(Arrays.equals(x, dare(p, 6)));
    }

    @Test
    void dare_keepRateAndMean_withinBinomialBounds() throws Exception {
        float[] out = dare(pool(3), 42);
        long[] kept = new long[3];
        double sum = 0;
        for (float v : out) {
            // decode: v = Σ_i m_i·2τ_i with m_i ∈ {0, 1}
            boolean found = false;
            for (int mask = 0; mask < 8; mask++) {
                double s = 0;
                for (int i = 0; i < 3; i++) {
                    s += (mask >> i & 1) * 2 * TAU[i];
                }
                if (Math.abs(s - v) < 1e-5) {
                    for (int i = 0; i < 3; i++) {
                        kept[i] += mask >> i & 1;
                    }
                    found = true;
                    break;
                }
            }
            assertTrue(found, "value " + v + " is no sum of rescaled kept entries");
            sum += v;
        }
        double sigma = Math.sqrt(N * 0.25);
        for (int i = 0; i < 3; i++) {
            assertTrue(Math.abs(kept[i] - N / 2.0) <= 5 * sigma, "candidate " + i + " kept " + kept[i] + " of " + N);
        }
        // E[out] = Σ τ_i = 2.5; Var(out) per entry = Σ (2τ_i)²·¼ = τ1² + τ2² + τ3² = 5.25.
        double mean = sum / N;
        assertEquals(2.5, mean, 5 * Math.sqrt(5.25 / N));
        // Candidates draw independent masks: not all three masks equal on most entries.
        assertTrue(kept[0] != kept[1] || kept[1] != kept[2]);
    }

    @Test
    void dare_maskOfCandidate_independentOfOtherCandidatesAndTensors() throws Exception {
        ModelPool one = pool(1);
        // Candidate 2 equal to the base (τ = 0) contributes nothing whether dropped or kept.
        Model base = (Model) one.base();
        ModelPool two = ModelPool.of(base, List.of((Model) one.candidates().get(0), base.copy()));
        assertArrayEquals(dare(one, 9), dare(two, 9));
        float[] bAll = Dare.builder().scaling(1).seed(9).backend(B).build().merge(one).model().values("b");
        float[] bOnly = Dare.builder().scaling(1).seed(9).parameters(ParameterSelection.include("b")).backend(B).build()
                .merge(one).model().values("b");
        assertArrayEquals(bAll, bOnly);
    }

    /*
     * With one candidate and k = 1, TIES is the identity on the (dropped) task vector, so DARE-TIES must
     * equal DARE-TA: this fails unless every TIES pass sees the same mask.
     */
    @Test
    void dareTies_masksConsistentAcrossPasses() throws Exception {
        ModelPool p = pool(1);
        float[] ta = dare(p, 3);
        float[] ties = Dare.builder().seed(3).ties(Ties.builder().topK(1).scaling(1).backend(B).build()).build()
                .merge(p).model().values("a");
        assertArrayEquals(ta, ties);
    }
}
