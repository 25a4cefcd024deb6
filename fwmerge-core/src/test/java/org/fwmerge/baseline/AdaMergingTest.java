package org.fwmerge.baseline;

import static org.fwmerge.baseline.Pools.B;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.fwmerge.MergeResult;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.QuadraticObjective;
import org.fwmerge.StopReason;
import org.junit.jupiter.api.Test;

/**
 * AdaMerging on ℓ(θ) = ½‖θ − c‖² with c = θ₀ + Σ_i λ*_{i,b} τ_i: the task vectors are orthogonal within
 * each tensor (block), so the unique optimal layer-wise coefficients are λ* (chosen by hand).
 */
class AdaMergingTest {
    // base: a (4 entries), b (3 entries)
    static final float[] BASE_A = {1, -1, 0.5f, 2};
    static final float[] BASE_B = {0, 1, -2};
    // orthogonal task vectors per tensor
    static final float[][] T1 = {{1, 0, 0, 1}, {2, 0, 0}};
    static final float[][] T2 = {{0, 2, 0, 0}, {0, 1, 1}};
    static final float[][] T3 = {{1, 0, 1, -1}, {0, 1, -1}};
    // λ* per candidate: {for a, for b}
    static final double[][] OPT = {{0.5, 0.2}, {0.1, 0.6}, {0.4, 0.35}};

    static Model target() {
        float[] a = BASE_A.clone();
        float[] b = BASE_B.clone();
        float[][][] t = {T1, T2, T3};
        for (int i = 0; i < 3; i++) {
            for (int k = 0; k < a.length; k++) {
                a[k] += (float) (OPT[i][0] * t[i][0][k]);
            }
            for (int k = 0; k < b.length; k++) {
                b[k] += (float) (OPT[i][1] * t[i][1][k]);
            }
        }
        return Pools.model("c", a, b);
    }

    static MergeResult run(boolean resident) throws Exception {
        ModelPool pool = Pools.pool(BASE_A, BASE_B, T1, T2, T3);
        return AdaMerging.builder().objective(new QuadraticObjective(target())).learningRate(0.01).steps(3000)
                .residentDirections(resident).backend(B).build().merge(pool);
    }

    @Test
    void adaMerging_quadratic_reachesOptimalLayerWiseCoefficients() throws Exception {
        MergeResult r = run(false);
        assertEquals(List.of("a", "b"), r.blocks());
        for (int i = 0; i < 3; i++) {
            String[] lambda = r.configuration().get("coefficient." + (i + 1)).split(",");
            assertEquals(2, lambda.length);
            assertEquals(OPT[i][0], Double.parseDouble(lambda[0]), 5e-3, "λ_" + (i + 1) + ",a");
            assertEquals(OPT[i][1], Double.parseDouble(lambda[1]), 5e-3, "λ_" + (i + 1) + ",b");
        }
        assertTrue(r.returnedLoss() < 1e-4, "final loss " + r.returnedLoss());
        assertEquals(3000, r.iterations().size());
        assertEquals(StopReason.MAX_ITERATIONS, r.stopReason());
        assertTrue(r.hullCoefficients().isEmpty());
        assertEquals(4, r.vertices().size());
        // The initial loss is at λ = 0.3 everywhere: ½‖Σ_i (0.3 − λ*_i) τ_i‖², by orthogonality
        // ½ Σ_{i,b} (0.3 − λ*_{i,b})² ‖τ_{i,b}‖² with ‖τ‖² = a: (2, 4, 3), b: (4, 2, 2).
        double[][] sq = {{2, 4}, {4, 2}, {3, 2}};
        double start = 0;
        for (int i = 0; i < 3; i++) {
            for (int blk = 0; blk < 2; blk++) {
                start += 0.5 * Math.pow(0.3 - OPT[i][blk], 2) * sq[i][blk];
            }
        }
        assertEquals(start, r.iterations().get(0).loss(), 1e-6);
    }

    @Test
    void adaMerging_residentAndStreamed_agree() throws Exception {
        MergeResult streamed = run(false);
        MergeResult resident = run(true);
        for (int i = 1; i <= 3; i++) {
            String[] s = streamed.configuration().get("coefficient." + i).split(",");
            String[] r = resident.configuration().get("coefficient." + i).split(",");
            for (int blk = 0; blk < 2; blk++) {
                assertEquals(Double.parseDouble(s[blk]), Double.parseDouble(r[blk]), 1e-4);
            }
        }
    }
}
