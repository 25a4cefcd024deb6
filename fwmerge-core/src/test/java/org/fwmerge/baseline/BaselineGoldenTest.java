package org.fwmerge.baseline;

import static org.fwmerge.baseline.Pools.B;
import static org.fwmerge.baseline.Pools.assertValues;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.fwmerge.MergeFn;
import org.fwmerge.MergeResult;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.StopReason;
import org.junit.jupiter.api.Test;

/**
 * Hand-computed cases: 3 candidates over tensors a (4 entries) and b (2 entries). Every expected
 * number below is derived in the comment above it, not by running the code.
 *
 * <pre>
 * base θ₀: a = [1, 1, 1, 1], b = [2, 2]
 * τ_1:     a = [ 0.5, -0.2,  0.0, 0.1], b = [ 0.3, -0.4]
 * τ_2:     a = [-0.3,  0.4,  0.2, 0.0], b = [ 0.1,  0.2]
 * τ_3:     a = [ 0.2, -0.1, -0.6, 0.3], b = [-0.5,  0.0]
 * Σ τ:     a = [ 0.4,  0.1, -0.4, 0.4], b = [-0.1, -0.2]
 * </pre>
 */
class BaselineGoldenTest {
    static final double TOL = 1e-5;
    static final float[] BASE_A = {1, 1, 1, 1};
    static final float[] BASE_B = {2, 2};
    static final float[][] T1 = {{0.5f, -0.2f, 0.0f, 0.1f}, {0.3f, -0.4f}};
    static final float[][] T2 = {{-0.3f, 0.4f, 0.2f, 0.0f}, {0.1f, 0.2f}};
    static final float[][] T3 = {{0.2f, -0.1f, -0.6f, 0.3f}, {-0.5f, 0.0f}};

    static ModelPool pool() throws Exception {
        return Pools.pool(BASE_A, BASE_B, T1, T2, T3);
    }

    static void check(MergeResult r, double[] a, double[] b) {
        assertValues(a, r.model().values("a"), TOL, r.method() + " a");
        assertValues(b, r.model().values("b"), TOL, r.method() + " b");
    }

    @Test
    void weightAveraging_uniform_isMeanOfCandidates() throws Exception {
        // θ = θ₀ + Στ/3: a = 1 + [0.4, 0.1, -0.4, 0.4]/3, b = 2 + [-0.1, -0.2]/3
        MergeResult r = WeightAveraging.builder().backend(B).build().merge(pool());
        check(r, new double[] {1 + 0.4 / 3, 1 + 0.1 / 3, 1 - 0.4 / 3, 1 + 0.4 / 3}, new double[] {2 - 0.1 / 3, 2 - 0.2 / 3});
        assertEquals(StopReason.COMPLETED, r.stopReason());
        assertEquals("weight-averaging", r.configuration().get("method"));
        assertEquals("m2", r.configuration().get("candidate.2"));
        assertTrue(r.hullCoefficients().isEmpty());
    }

    @Test
    void weightAveraging_weightsNormalised_dividesBySum() throws Exception {
        // w = [1,2,1], Σw = 4: θ = θ₀ + (τ1 + 2τ2 + τ3)/4.
        // a: (0.5-0.6+0.2, -0.2+0.8-0.1, 0-... ) = (0.1, 0.5, -0.2, 0.4)/4 = (0.025, 0.125, -0.05, 0.1)
        // b: (0.3+0.2-0.5, -0.4+0.4+0)/4 = (0, 0)
        MergeResult r = WeightAveraging.builder().weights(1, 2, 1).backend(B).build().merge(pool());
        check(r, new double[] {1.025, 1.125, 0.95, 1.1}, new double[] {2, 2});
    }

    @Test
    void weightAveraging_weightsNotNormalised_isWeightedSum() throws Exception {
        // Σ w_i θ_i = 4θ₀ + (τ1 + 2τ2 + τ3): a = 4 + (0.1, 0.5, -0.2, 0.4), b = 8 + (0, 0)
        MergeResult r = WeightAveraging.builder().weights(1, 2, 1).normalizeWeights(false).backend(B).build()
                .merge(pool());
        check(r, new double[] {4.1, 4.5, 3.8, 4.4}, new double[] {8, 8});
    }

    @Test
    void taskArithmetic_defaultScaling_addsPointThreeOfSum() throws Exception {
        // θ₀ + 0.3 Στ: a = 1 + 0.3(0.4, 0.1, -0.4, 0.4) = (1.12, 1.03, 0.88, 1.12); b = 2 + 0.3(-0.1, -0.2) = (1.97, 1.94)
        MergeResult r = TaskArithmetic.builder().backend(B).build().merge(pool());
        check(r, new double[] {1.12, 1.03, 0.88, 1.12}, new double[] {1.97, 1.94});
        assertEquals("0.3", r.configuration().get("scaling"));
    }

    @Test
    void taskArithmetic_scalingOne_addsSum() throws Exception {
        // θ₀ + Στ: a = (1.4, 1.1, 0.6, 1.4), b = (1.9, 1.8)
        MergeResult r = TaskArithmetic.builder().scaling(1).backend(B).build().merge(pool());
        check(r, new double[] {1.4, 1.1, 0.6, 1.4}, new double[] {1.9, 1.8});
    }

    /*
     * TIES, defaults (k = 0.2 over the whole model, d = 6, keep = int(1.2) = 1, threshold = 5th smallest |τ|,
     * so the two largest magnitudes of each τ_i survive):
     *   |τ1| sorted: 0, .1, .2, .3, .4, .5 → t = .4 → trim τ1: a = [0.5, 0, 0, 0],    b = [0, -0.4]
     *   |τ2| sorted: 0, .1, .2, .2, .3, .4 → t = .3 → trim τ2: a = [-0.3, 0.4, 0, 0], b = [0, 0]
     *   |τ3| sorted: 0, .1, .2, .3, .5, .6 → t = .5 → trim τ3: a = [0, 0, -0.6, 0],   b = [-0.5, 0]
     *   S = a [0.2, 0.4, -0.6, 0], b [-0.5, -0.4]; signs +, +, -, 0, -, -; majority sign(1+1-1-1-1) = -1.
     *   Disjoint sum: a0 (+) 0.5; a1 (+) 0.4; a2 (-) -0.6; a3 (-) nothing → 0; b0 (-) -0.5; b1 (-) -0.4.
     *   θ = θ₀ + 0.3·merged: a = (1.15, 1.12, 0.82, 1.0), b = (1.85, 1.88).
     */
    @Test
    void ties_defaults_goldenValues() throws Exception {
        MergeResult r = Ties.builder().backend(B).build().merge(pool());
        check(r, new double[] {1.15, 1.12, 0.82, 1.0}, new double[] {1.85, 1.88});
        assertEquals("WHOLE_MODEL", r.configuration().get("trim"));
        assertEquals("SUM", r.configuration().get("combine"));
    }

    /*
     * Per-tensor trim, k = 0.2: tensor a (d = 4): keep = int(0.8) = 0 → threshold = largest |τ| of a;
     * tensor b (d = 2): keep = 0 → largest |τ| of b.
     *   trim τ1: a = [0.5, 0, 0, 0], b = [0, -0.4];  trim τ2: a = [0, 0.4, 0, 0], b = [0, 0.2];
     *   trim τ3: a = [0, 0, -0.6, 0], b = [-0.5, 0].
     *   S = a [0.5, 0.4, -0.6, 0], b [-0.5, -0.2]; majority -1 (a3 → -).
     *   Sum: a (0.5, 0.4, -0.6, 0), b (-0.5, -0.4) (τ2's +0.2 disagrees) → same θ as whole-model here.
     */
    @Test
    void ties_perTensor_goldenValues() throws Exception {
        MergeResult r = Ties.builder().trim(Ties.Trim.PER_TENSOR).backend(B).build().merge(pool());
        check(r, new double[] {1.15, 1.12, 0.82, 1.0}, new double[] {1.85, 1.88});
    }

    /*
     * Built so the trims differ: base 0, three identical τ = a [10, 20, 30, 40], b [1, 2]; k = 0.5, λ = 1.
     * Whole model: d = 6, keep 3, threshold = 3rd smallest of {1, 2, 10, 20, 30, 40} = 10 → a all kept
     * (4 entries: the reference keeps keep+1), b dropped. Sum over 3 agreeing: a (30, 60, 90, 120), b (0, 0).
     * Per tensor: a: keep 2, threshold 2nd smallest = 20 → (0, 20, 30, 40); b: keep 1, threshold 1st
     * smallest = 1 → (1, 2). Sum: a (0, 60, 90, 120), b (3, 6). Mean (whole model): a (10, 20, 30, 40), b (0, 0).
     */
    @Test
    void ties_wholeModelVersusPerTensor_differ() throws Exception {
        float[][] t = {{10, 20, 30, 40}, {1, 2}};
        float[] za = new float[4];
        float[] zb = new float[2];
        MergeResult whole = Ties.builder().topK(0.5).scaling(1).backend(B).build().merge(Pools.pool(za, zb, t, t, t));
        check(whole, new double[] {30, 60, 90, 120}, new double[] {0, 0});
        MergeResult per = Ties.builder().topK(0.5).scaling(1).trim(Ties.Trim.PER_TENSOR).backend(B).build()
                .merge(Pools.pool(za, zb, t, t, t));
        check(per, new double[] {0, 60, 90, 120}, new double[] {3, 6});
        MergeResult mean = Ties.builder().topK(0.5).scaling(1).combine(Ties.Combine.MEAN).backend(B).build()
                .merge(Pools.pool(za, zb, t, t, t));
        check(mean, new double[] {10, 20, 30, 40}, new double[] {0, 0});
    }

    /*
     * Tied elections settled by the majority over the trim's entries (k = 1, λ = 1, base 0):
     *   τ1 = a [1, 1, 1,  2], b [-1 × 7];  τ2 = a [1, 1, 1, -2], b [-1 × 7]
     *   S  = a [2, 2, 2,  0], b [-2 × 7]: a3 ties. Whole model: sign(3 − 7) = −, so a3 keeps τ2's −2;
     *   per tensor: tensor a's own sign(3) = +, so a3 keeps τ1's +2.
     */
    @Test
    void ties_tiedElection_majorityOverWholeModelOrPerTensor() throws Exception {
        float[] minus = {-1, -1, -1, -1, -1, -1, -1};
        float[][] t1 = {{1, 1, 1, 2}, minus};
        float[][] t2 = {{1, 1, 1, -2}, minus};
        MergeResult whole = Ties.builder().topK(1).scaling(1).backend(B).build()
                .merge(Pools.pool(new float[4], new float[7], t1, t2));
        check(whole, new double[] {2, 2, 2, -2}, new double[] {-2, -2, -2, -2, -2, -2, -2});
        MergeResult per = Ties.builder().topK(1).scaling(1).trim(Ties.Trim.PER_TENSOR).backend(B).build()
                .merge(Pools.pool(new float[4], new float[7], t1, t2));
        check(per, new double[] {2, 2, 2, 2}, new double[] {-2, -2, -2, -2, -2, -2, -2});
    }

    /*
     * Sign ties and sum vs mean: base a [10,10,10,10], b [10,10]; k = 1 (keep all), λ = 1.
     *   τ1 = a [ 1,  2, -1,  3], b [ 1, -2]
     *   τ2 = a [ 3, -2,  1,  1], b [ 1,  2]
     *   τ3 = a [-1,  0,  0, -4], b [-1, -1]
     *   S  = a [ 3,  0,  0,  0], b [ 1, -1]: a1, a2, a3 tie at 0; majority sign(1 + 0 + 0 + 0 + 1 - 1) = +.
     *   Positive entries (e = +): a0 {1, 3}, a1 {2}, a2 {1}, a3 {3, 1}, b0 {1, 1}; b1 (e = -): {-2, -1}.
     *   Sum:  a (4, 2, 1, 4),   b (2, -3)   → θ = a (14, 12, 11, 14),   b (12, 7)
     *   Mean: a (2, 2, 1, 2),   b (1, -1.5) → θ = a (12, 12, 11, 12),   b (11, 8.5)
     */
    static final float[] TA_A = {10, 10, 10, 10};
    static final float[] TA_B = {10, 10};
    static final float[][] S1 = {{1, 2, -1, 3}, {1, -2}};
    static final float[][] S2 = {{3, -2, 1, 1}, {1, 2}};
    static final float[][] S3 = {{-1, 0, 0, -4}, {-1, -1}};

    @Test
    void ties_signTies_resolvedByMajority_sum() throws Exception {
        MergeResult r = Ties.builder().topK(1).scaling(1).backend(B).build().merge(Pools.pool(TA_A, TA_B, S1, S2, S3));
        check(r, new double[] {14, 12, 11, 14}, new double[] {12, 7});
    }

    @Test
    void ties_signTies_resolvedByMajority_mean() throws Exception {
        MergeResult r = Ties.builder().topK(1).scaling(1).combine(Ties.Combine.MEAN).backend(B).build()
                .merge(Pools.pool(TA_A, TA_B, S1, S2, S3));
        check(r, new double[] {12, 12, 11, 12}, new double[] {11, 8.5});
    }

    /*
     * As above but τ3 b0 = -2: S b0 = 1 + 1 - 2 = 0, signs (+, 0, 0, 0, 0, -) → majority 0: tied entries
     * (a1, a2, a3, b0) get nothing. Sum: a (4, 0, 0, 0), b (0, -3) → θ = a (14, 10, 10, 10), b (10, 7).
     */
    @Test
    void ties_zeroMajority_dropsTiedEntries() throws Exception {
        float[][] s3 = {{-1, 0, 0, -4}, {-2, -1}};
        MergeResult r = Ties.builder().topK(1).scaling(1).backend(B).build().merge(Pools.pool(TA_A, TA_B, S1, S2, s3));
        check(r, new double[] {14, 10, 10, 10}, new double[] {10, 7});
    }

    /* DARE with p = 0 keeps everything with factor 1: DARE-TA = task arithmetic (golden above). */
    @Test
    void dare_zeroDropRate_equalsTaskArithmetic() throws Exception {
        MergeResult r = Dare.builder().dropRate(0).backend(B).build().merge(pool());
        check(r, new double[] {1.12, 1.03, 0.88, 1.12}, new double[] {1.97, 1.94});
        assertEquals("dare-task-arithmetic", r.method());
    }

    /* DARE-TIES with p = 0 = TIES (golden above). */
    @Test
    void dareTies_zeroDropRate_equalsTies() throws Exception {
        MergeResult r = Dare.builder().dropRate(0).ties(Ties.builder().backend(B).build()).build().merge(pool());
        check(r, new double[] {1.15, 1.12, 0.82, 1.0}, new double[] {1.85, 1.88});
        assertEquals("dare-ties", r.method());
        assertEquals("0.0", r.configuration().get("dropRate"));
    }

    /*
     * One candidate, p = 0.5, λ = 1: each entry of θ is θ₀ (dropped) or θ₀ + τ/(1 − 0.5) = θ₀ + 2τ (kept);
     * without rescaling, θ₀ or θ₀ + τ.
     */
    @Test
    void dare_singleCandidate_eachEntryDroppedOrRescaled() throws Exception {
        float[] za = {0, 0, 0, 0};
        float[] zb = {0, 0};
        float[][] t = {{1, 2, 3, 4}, {5, 6}};
        for (boolean rescale : new boolean[] {true, false}) {
            MergeResult r = Dare.builder().scaling(1).rescale(rescale).seed(7).backend(B).build()
                    .merge(Pools.pool(za, zb, t));
            float[] a = r.model().values("a");
            float[] b = r.model().values("b");
            double f = rescale ? 2 : 1;
            for (int i = 0; i < 4; i++) {
                assertTrue(a[i] == 0 || a[i] == f * t[0][i], "a[" + i + "] = " + a[i]);
            }
            for (int i = 0; i < 2; i++) {
                assertTrue(b[i] == 0 || b[i] == f * t[1][i], "b[" + i + "] = " + b[i]);
            }
        }
    }

    /*
     * Ties.mergeFn(k = 0.5): x = a [1,1,1,1], b [1,1]; s = a [2, 0.5, 1.25, 1], b [4, 1.1];
     * d = s − x = a [1, -0.5, 0.25, 0], b [3, 0.1]; d = 6, keep 3 → threshold = 3rd smallest |d| of
     * {0, 0.1, 0.25, 0.5, 1, 3} = 0.25 → kept 1, -0.5, 0.25, 3. γ = 0.5:
     * out = a [1.5, 0.75, 1.125, 1], b [2.5, 1].
     * Dare.mergeFn(p = 0): out = x + γ d = a [1.5, 0.75, 1.125, 1], b [2.5, 1.05].
     */
    @Test
    void mergeFns_onDirection_goldenValues() {
        Model x = Pools.model("x", new float[] {1, 1, 1, 1}, new float[] {1, 1});
        Model s = Pools.model("s", new float[] {2, 0.5f, 1.25f, 1}, new float[] {4, 1.1f});
        Model out = Model.zerosLike(x);
        MergeFn ties = Ties.mergeFn(0.5, Ties.Trim.WHOLE_MODEL);
        assertFalse(ties.staysInHull());
        ties.merge(x, s, 0.5, out);
        assertValues(new double[] {1.5, 0.75, 1.125, 1}, out.values("a"), TOL, "ties a");
        assertValues(new double[] {2.5, 1}, out.values("b"), TOL, "ties b");
        MergeFn dare = Dare.mergeFn(0, 3);
        assertFalse(dare.staysInHull());
        dare.merge(x, s, 0.5, out);
        assertValues(new double[] {1.5, 0.75, 1.125, 1}, out.values("a"), TOL, "dare a");
        assertValues(new double[] {2.5, 1.05}, out.values("b"), TOL, "dare b");
        assertValues(new double[] {1, 1, 1, 1}, x.values("a"), 0, "x unchanged");
    }

    /* Dare.mergeFn(p = 0.5): each entry is x (dropped) or x + γ·2d (kept), and the same call repeats exactly. */
    @Test
    void dareMergeFn_sameInputs_sameMask() {
        Model x = Pools.model("x", new float[] {1, 1, 1, 1}, new float[] {1, 1});
        Model s = Pools.model("s", new float[] {2, 3, 4, 5}, new float[] {6, 7});
        Model o1 = Model.zerosLike(x);
        Model o2 = Model.zerosLike(x);
        Dare.mergeFn(0.5, 11).merge(x, s, 0.25, o1);
        Dare.mergeFn(0.5, 11).merge(x, s, 0.25, o2);
        float[] a = o1.values("a");
        float[] sa = s.values("a");
        for (int i = 0; i < 4; i++) {
            double kept = 1 + 0.25 * 2 * (sa[i] - 1);
            assertTrue(a[i] == 1 || Math.abs(a[i] - kept) < TOL, "a[" + i + "] = " + a[i]);
        }
        assertValues(toDouble(o1.values("a")), o2.values("a"), 0, "repeat a");
        assertValues(toDouble(o1.values("b")), o2.values("b"), 0, "repeat b");
    }

    /*
     * Fisher merging. Candidates θ1 = a [1, 2], b [3]; θ2 = a [3, 0], b [1]; θ3 = a [5, 4], b [2].
     * Objective i = ½‖θ − c_i‖² with c_i = θ_i − g_i, so its gradient at θ_i is g_i:
     * g1 = a [1, 0], b [2]; g2 = a [1, 1], b [0]; g3 = a [0, 2], b [1]
     * → F1 = a [1, 0], b [4]; F2 = a [1, 1], b [0]; F3 = a [0, 4], b [1]   (ε = 1e-6 changes these by < 1e-5)
     * NONE: a0 = (1·1 + 1·3 + 0·5)/(1+1+0) = 2;  a1 = (0·2 + 1·0 + 4·4)/(0+1+4) = 3.2;  b0 = (4·3 + 0 + 1·2)/5 = 2.8
     * L2:   c = 1/√17, 1/√2, 1/√17 (‖F1‖ = √17, ‖F2‖ = √2, ‖F3‖ = √17)
     *       a0 = (1/√17 + 3/√2)/(1/√17 + 1/√2); a1 = (16/√17)/(1/√2 + 4/√17); b0 = (14/√17)/(5/√17) = 2.8
     * MEAN: mean F = 5/3, 2/3, 5/3 → c = 0.6, 1.5, 0.6:
     *       a0 = (0.6 + 4.5)/2.1; a1 = (0.6·16)/(1.5 + 2.4) = 9.6/3.9; b0 = (7.2 + 1.2)/3 = 2.8
     * MAX:  max F = 4, 1, 4 → c = 0.25, 1, 0.25: a0 = 3.25/1.25 = 2.6; a1 = 4/2 = 2; b0 = 3.5/1.25 = 2.8
     */
    static final float[][] F_THETA = {{1, 2, 3}, {3, 0, 1}, {5, 4, 2}};
    static final float[][] F_GRAD = {{1, 0, 2}, {1, 1, 0}, {0, 2, 1}};

    static ModelPool fisherPool() throws Exception {
        List<Model> c = List.of(fm("m1", F_THETA[0]), fm("m2", F_THETA[1]), fm("m3", F_THETA[2]));
        return ModelPool.of(fm("base", new float[] {0, 0, 0}), c);
    }

    static Model fm(String name, float[] v) {
        return Pools.model(name, new float[] {v[0], v[1]}, new float[] {v[2]});
    }

    static org.fwmerge.Objective quad(float[] theta, float[] g) {
        float[] c = new float[3];
        for (int k = 0; k < 3; k++) {
            c[k] = theta[k] - g[k];
        }
        return new org.fwmerge.QuadraticObjective(fm("c", c));
    }

    static List<org.fwmerge.Objective> fisherObjectives() {
        return List.of(quad(F_THETA[0], F_GRAD[0]), quad(F_THETA[1], F_GRAD[1]), quad(F_THETA[2], F_GRAD[2]));
    }

    @Test
    void fisher_allNormalizations_goldenValues() throws Exception {
        double r17 = Math.sqrt(17);
        double r2 = Math.sqrt(2);
        double[][] expected = {
            {2, 3.2, 2.8},
            {(1 / r17 + 3 / r2) / (1 / r17 + 1 / r2), (16 / r17) / (1 / r2 + 4 / r17), 2.8},
            {5.1 / 2.1, 9.6 / 3.9, 2.8},
            {2.6, 2, 2.8}};
        FisherMerging.Normalization[] modes = {FisherMerging.Normalization.NONE, FisherMerging.Normalization.L2,
            FisherMerging.Normalization.MEAN, FisherMerging.Normalization.MAX};
        for (int m = 0; m < modes.length; m++) {
            MergeResult r = FisherMerging.builder().objectives(fisherObjectives()).normalization(modes[m]).backend(B)
                    .build().merge(fisherPool());
            assertValues(new double[] {expected[m][0], expected[m][1]}, r.model().values("a"), TOL, modes[m] + " a");
            assertValues(new double[] {expected[m][2]}, r.model().values("b"), TOL, modes[m] + " b");
        }
    }

    @Test
    void fisher_defaultIsL2() throws Exception {
        double r17 = Math.sqrt(17);
        double r2 = Math.sqrt(2);
        MergeResult r = FisherMerging.builder().objectives(fisherObjectives()).backend(B).build().merge(fisherPool());
        assertValues(new double[] {(1 / r17 + 3 / r2) / (1 / r17 + 1 / r2), (16 / r17) / (1 / r2 + 4 / r17)},
                r.model().values("a"), TOL, "a");
        assertEquals("L2", r.configuration().get("normalization"));
        assertEquals("1.0E-6", r.configuration().get("floor"));
    }

    /*
     * A sum objective for candidate 1 with term gradients g1 = a [1, 0], b [2] and g1' = a [-1, 2], b [0]:
     * F1 = mean(g1², g1'²) = a [1, 2], b [2]. NONE: a0 = (1·1 + 1·3)/(1 + 1) = 2;
     * a1 = (2·2 + 1·0 + 4·4)/(2 + 1 + 4) = 20/7; b0 = (2·3 + 0·1 + 1·2)/(2 + 0 + 1) = 8/3.
     */
    @Test
    void fisher_sumObjective_averagesSquaredTermGradients() throws Exception {
        org.fwmerge.Objective o1 = org.fwmerge.Objective.sum(List.of(quad(F_THETA[0], F_GRAD[0]),
                quad(F_THETA[0], new float[] {-1, 2, 0})));
        List<org.fwmerge.Objective> objectives = List.of(o1, quad(F_THETA[1], F_GRAD[1]), quad(F_THETA[2], F_GRAD[2]));
        MergeResult r = FisherMerging.builder().objectives(objectives).normalization(FisherMerging.Normalization.NONE)
                .backend(B).build().merge(fisherPool());
        assertValues(new double[] {2, 20.0 / 7}, r.model().values("a"), TOL, "a");
        assertValues(new double[] {8.0 / 3}, r.model().values("b"), TOL, "b");
    }

    static double[] toDouble(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return d;
    }
}
