package org.fwmerge.nd4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;
import org.junit.jupiter.api.Test;

/**
 * The ND4J backend and the reference backend run the same random sequence of operations and must
 * agree to 1e-6 relative after every step. Values are re-synchronised after each comparison so one
 * float rounding difference is not amplified by later cancellation.
 */
class BackendsAgreeTest {

    private static final double REL_TOL = 1e-6;

    @Test
    void randomOperations_agreeWithReferenceBackend() {
        TensorBackend ref = TensorBackends.reference();
        TensorBackend nd = Nd4jBackendContractTest.BACKEND;
        SplittableRandom rnd = new SplittableRandom(7);
        for (int round = 0; round < 20; round++) {
            int n = rnd.nextBoolean() ? 1 + rnd.nextInt(100) : 1 + rnd.nextInt(600_000);
            float[] xv = random(rnd, n);
            float[] yv = random(rnd, n);
            try (Tensor rx = ref.fromFloats(xv, n); Tensor ry = ref.fromFloats(yv, n);
                 Tensor nx = nd.fromFloats(xv, n); Tensor ny = nd.fromFloats(yv, n)) {
                for (int step = 0; step < 10; step++) {
                    int op = rnd.nextInt(5);
                    double a = rnd.nextDouble(-2, 2);
                    float[] xPrev = ref.toFloats(rx);
                    float[] yPrev = ref.toFloats(ry);
                    String what = "round " + round + " step " + step + " n=" + n + " op " + op;
                    switch (op) {
                        case 0 -> {
                            double dr = ref.dot(rx, ry);
                            double dn = nd.dot(nx, ny);
                            double scale = absDot(ref.toFloats(rx), ref.toFloats(ry));
                            assertTrue(Math.abs(dr - dn) <= REL_TOL * scale, what + ": dot " + dn + " vs " + dr);
                        }
                        case 1 -> {
                            ref.axpy(a, rx, ry);
                            nd.axpy(a, nx, ny);
                        }
                        case 2 -> {
                            ref.scale(a, ry);
                            nd.scale(a, ny);
                        }
                        case 3 -> {
                            ref.copy(ry, rx);
                            nd.copy(ny, nx);
                        }
                        default -> {
                            int off = rnd.nextInt(n);
                            int len = rnd.nextInt(n - off + 1);
                            float[] patch = random(rnd, len);
                            ref.set(rx, off, patch, 0, len);
                            nd.set(nx, off, patch, 0, len);
                        }
                    }
                    // axpy may cancel: its rounding error is relative to |y| + |a·x|, not to the result.
                    float[] yScale = ref.toFloats(ry);
                    if (op == 1) {
                        for (int i = 0; i < n; i++) {
                            yScale[i] = (float) (Math.abs(yPrev[i]) + Math.abs(a * xPrev[i]));
                        }
                    }
                    compareAndSync(ref, rx, ref.toFloats(rx), nd, nx, what + " x");
                    compareAndSync(ref, ry, yScale, nd, ny, what + " y");
                }
            }
        }
    }

    private static void compareAndSync(TensorBackend ref, Tensor r, float[] scale, TensorBackend nd, Tensor t,
            String what) {
        float[] expected = ref.toFloats(r);
        float[] actual = nd.toFloats(t);
        assertEquals(expected.length, actual.length);
        for (int i = 0; i < expected.length; i++) {
            double tol = REL_TOL * Math.max(Math.abs(scale[i]), 1e-30);
            if (Math.abs(expected[i] - actual[i]) > tol) {
                throw new AssertionError(what + " element " + i + ": nd4j " + actual[i] + " vs reference " + expected[i]);
            }
        }
        nd.set(t, 0, expected, 0, expected.length);
    }

    private static double absDot(float[] x, float[] y) {
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            s += Math.abs((double) x[i] * y[i]);
        }
        return s;
    }

    private static float[] random(SplittableRandom rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) rnd.nextDouble(-3, 3);
        }
        return v;
    }
}
