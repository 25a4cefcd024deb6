package org.fwmerge.baseline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.fwmerge.MergeResult;
import org.fwmerge.ModelPool;
import org.junit.jupiter.api.Test;

/** mergekit's nearswap against its formula, entry by entry, in double. */
class NearSwapTest {

    @Test
    void entriesCloserThanT_takeTheOther_distantOnesStayNearTheBase() throws Exception {
        float[] a = {1, 1, 1, 1, 0.5f, -2};
        float[] b = {1.05f, 1.2f, 2, 0, 0.5f, 3};
        double t = 0.1;
        try (ModelPool pool = ModelPool.of(Pools.model("base", a, new float[] {0, 0}),
                List.of(Pools.model("m1", b, new float[] {1, 0.01f})));
                MergeResult r = NearSwap.builder().t(t).backend(Pools.B).build().merge(pool)) {
            float[] got = r.model().values("a");
            for (int j = 0; j < a.length; j++) {
                // nearswap.py: weight = clamp(t / clamp(|a − b|, min=1e-6), 0, 1); weight·b + (1 − weight)·a
                double w = Math.min(1, Math.max(0, t / Math.max(Math.abs((double) a[j] - b[j]), 1e-6)));
                assertEquals(w * b[j] + (1 - w) * a[j], got[j], 1e-7, "a[" + j + "]");
            }
            assertEquals(1.05f, got[0], 1e-7, "within t: the other's value");
            assertEquals(1.1, got[2], 1e-7, "|Δ| = 1: weight 0.1");
            assertEquals(0.5f, got[4], 0, "equal entries stay");
            assertEquals(0.01f, r.model().values("b")[1], 1e-9, "within t");
        }
    }

    @Test
    void poolOfTwoCandidates_andMissingT_areRefused() throws Exception {
        try (ModelPool pool = Pools.pool(new float[2], new float[1], new float[][] {{1, 0}, {0}}, new float[][] {{0, 1}, {1}})) {
            assertEquals("nearswap merges the base and exactly one other model; the pool has 2 candidates",
                    assertThrows(IllegalArgumentException.class, () -> NearSwap.builder().t(0.1).build().merge(pool))
                            .getMessage());
        }
        assertThrows(IllegalStateException.class, () -> NearSwap.builder().build());
    }
}
