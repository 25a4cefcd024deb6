package org.fwmerge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.fwmerge.io.CheckpointMismatchException;
import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * Convex problems with known answers: ℓ(θ) = ½‖θ − c‖² over the hull of a few vertices, whose
 * minimiser is the Euclidean projection of c, computed independently by face enumeration in double
 * ({@link HullProjection}).
 */
class ConvexGoldenTest {
    static final TensorBackend B = TensorBackends.reference();

    /** A model with tensors "a" (first 3 coordinates) and "b" (the rest) from a flat vector. */
    static Model model(String name, double[] v) {
        float[] a = new float[3];
        float[] b = new float[v.length - 3];
        for (int i = 0; i < v.length; i++) {
            if (i < 3) {
                a[i] = (float) v[i];
            } else {
                b[i - 3] = (float) v[i];
            }
        }
        Map<String, float[]> m = new LinkedHashMap<>();
        m.put("a", a);
        m.put("b", b);
        return Model.ofArrays(name, B, m, Map.of());
    }

    static double[] flat(Model m) {
        float[] a = m.values("a");
        float[] b = m.values("b");
        double[] out = new double[a.length + b.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i];
        }
        for (int i = 0; i < b.length; i++) {
            out[a.length + i] = b[i];
        }
        return out;
    }

    static ModelPool pool(double[][] v) throws CheckpointMismatchException {
        List<Model> cands = new ArrayList<>();
        for (int i = 1; i < v.length; i++) {
            cands.add(model("v" + i, v[i]));
        }
        return ModelPool.of(model("v0", v[0]), cands);
    }

    /** The result's hull coefficients as an array, [block][vertex]; fails if it has none. */
    static double[][] hull(MergeResult r) {
        return r.hullCoefficients().orElseThrow().stream()
                .map(row -> row.stream().mapToDouble(Double::doubleValue).toArray()).toArray(double[][]::new);
    }

    static double halfSq(double[] x, double[] c) {
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            s += (x[i] - c[i]) * (x[i] - c[i]);
        }
        return 0.5 * s;
    }

    static double maxDiff(double[] x, double[] y) {
        double m = 0;
        for (int i = 0; i < x.length; i++) {
            m = Math.max(m, Math.abs(x[i] - y[i]));
        }
        return m;
    }

    static double[][] randomVertices(Random r, int n, int d) {
        double[][] v = new double[n][d];
        for (double[] row : v) {
            for (int i = 0; i < d; i++) {
                row[i] = r.nextGaussian();
            }
        }
        return v;
    }

    static MergeResult fw(ModelPool pool, double[] c, Lmo lmo, int iterations) {
        return FrankWolfeMerger.builder().objective(new QuadraticObjective(model("c", c))).lmo(lmo)
                .maxIterations(iterations).tolerance(1e-9).backend(B).build().merge(pool);
    }

    static MergeResult pairwise(ModelPool pool, double[] c, Lmo lmo, int iterations) {
        return FrankWolfeMerger.builder().objective(new QuadraticObjective(model("c", c))).lmo(lmo)
                .maxIterations(iterations).tolerance(1e-9).variant(Variant.pairwise()).backend(B).build().merge(pool);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 5, 6, 7, 8})
    void pairwise_matchesProjectionOntoHull(int seed) throws Exception {
        Random r = new Random(seed);
        int n = 3 + seed % 4;
        double[][] v = randomVertices(r, n, 5);
        double[] c = new double[5];
        for (int i = 0; i < 5; i++) {
            c[i] = 2 * r.nextGaussian();
        }
        double[] proj = HullProjection.project(v, c);
        for (Lmo lmo : List.of(Lmo.taskWise())) {
            MergeResult res = pairwise(pool(v), c, lmo, 500);
            double[] x = flat(res.model());
            // c lies outside the hull, so |∇ℓ| ≈ 5 at the projection and rounding x to float32 moves ℓ by
            // ~10⁻⁶: a step whose predicted decrease is smaller than that is refused (the line search never
            // raises the loss), which leaves x within √(2·10⁻⁶·5) ≈ 3·10⁻³ of the exact projection at worst.
            assertTrue(maxDiff(x, proj) < 1e-3, "seed " + seed + ": max |x − projection| = " + maxDiff(x, proj) + " " + res);
            double[][] w = hull(res);
            assertEquals(1.0, java.util.Arrays.stream(w[0]).sum(), 1e-9);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 5, 6, 7, 8})
    void merge_matchesProjectionOntoHull(int seed) throws Exception {
        Random r = new Random(seed);
        int n = 3 + seed % 4;
        double[][] v = randomVertices(r, n, 5);
        double[] c = new double[5];
        for (int i = 0; i < 5; i++) {
            c[i] = 2 * r.nextGaussian();
        }
        double[] proj = HullProjection.project(v, c);
        MergeResult res = fw(pool(v), c, Lmo.taskWise(), 3000);
        double[] x = flat(res.model());
        double lossStar = halfSq(proj, c);
        double loss = halfSq(x, c);
        // The loss matches the optimum to 1e-4; FW's own certificate holds: ℓ − ℓ* ≤ gap.
        assertEquals(lossStar, loss, 1e-3 * Math.max(1, lossStar), "loss vs projection's loss");
        assertTrue(loss >= lossStar - 1e-6, "cannot beat the exact projection");
        IterationRecord last = res.iterations().get(res.iterations().size() - 1);
        assertTrue(loss - lossStar <= last.gap() + 1e-5, "suboptimality " + (loss - lossStar) + " > gap " + last.gap());
        // Vanilla FW zig-zags when the optimum is on a face (pairwise steps fix that, see above).
        assertTrue(maxDiff(x, proj) < 2e-2, "max |x − projection| = " + maxDiff(x, proj));
        assertTrue(last.gap() < res.iterations().get(0).gap(), "gap decreases");
        assertTrue(last.gap() < 5e-3, "gap " + last.gap());
    }

    @Test
    void merge_optimumAtVertexOrEdge_isExact() throws Exception {
        // Vertices of a triangle in the first two coordinates; c projects onto the edge v1–v2 and
        // then onto vertex v2.
        double[][] v = {{0, 0, 0, 0, 0}, {2, 0, 0, 0, 0}, {0, 2, 0, 0, 0}};
        double[] cEdge = {1.5, 1.5, 0, 0, 0}; // projection (1, 1, 0, 0, 0), worked out by hand
        double[] x = flat(pairwise(pool(v), cEdge, Lmo.taskWise(), 50).model());
        assertTrue(maxDiff(x, new double[] {1, 1, 0, 0, 0}) < 1e-4, java.util.Arrays.toString(x));
        double[] cVertex = {-1, 3, 0.5, 0, 0}; // nearest point is v2 = (0, 2, 0, 0, 0)
        x = flat(pairwise(pool(v), cVertex, Lmo.taskWise(), 50).model());
        assertTrue(maxDiff(x, v[2]) < 1e-4, java.util.Arrays.toString(x));
    }

    @ParameterizedTest
    @ValueSource(ints = {11, 12, 13})
    void merge_targetInsideHull_lossTendsToZero(int seed) throws Exception {
        Random r = new Random(seed);
        double[][] v = randomVertices(r, 6, 4 + 3);
        // c = a strict convex combination of the vertices, so it lies inside the hull.
        double[] w = {0.3, 0.1, 0.2, 0.15, 0.15, 0.1};
        double[] c = new double[7];
        for (int i = 0; i < 6; i++) {
            for (int d = 0; d < 7; d++) {
                c[d] += w[i] * v[i][d];
            }
        }
        MergeResult res = fw(pool(v), c, Lmo.taskWise(), 2000);
        assertTrue(res.returnedLoss() < 1e-6, "loss " + res.returnedLoss());
        assertTrue(maxDiff(flat(res.model()), c) < 2e-3);
    }

    @Test
    void layerWise_reachesBlockSeparableOptimum_taskWiseCannot() throws Exception {
        // c = (A, B); v1 is right in block a only, v2 in block b only.
        double[] a = {1, 2, 3};
        double[] bb = {-1, 4};
        double[][] v = {
            {0, 0, 0, 0, 0},
            {a[0], a[1], a[2], 5, 5},
            {-3, -3, -3, bb[0], bb[1]},
        };
        double[] c = {a[0], a[1], a[2], bb[0], bb[1]};
        MergeResult layer = fw(pool(v), c, Lmo.layerWise(), 20);
        assertTrue(layer.returnedLoss() < 1e-8, "layer-wise loss " + layer.returnedLoss());
        assertEquals(StopReason.CONVERGED, layer.stopReason());
        MergeResult task = pairwise(pool(v), c, Lmo.taskWise(), 500);
        double best = halfSq(HullProjection.project(v, c), c);
        assertTrue(best > 1, "the whole-model hull does not contain c: ℓ* = " + best);
        assertEquals(best, task.returnedLoss(), 1e-6 * best);
    }
}
