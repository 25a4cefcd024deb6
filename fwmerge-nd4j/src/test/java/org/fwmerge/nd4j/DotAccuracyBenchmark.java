package org.fwmerge.nd4j;

import java.util.SplittableRandom;
import org.fwmerge.tensor.Tensor;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.reduce3.Dot;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Measures the accuracy (relative error against a double-precision reference) and speed of inner
 * products on 10^8 float32 elements: ND4J's allocating {@code x.mul(y).sumNumber()}, ND4J's
 * {@code Dot} reduction, one BLAS {@code sdot} over the whole vector, and {@link Nd4jBackend#dot}
 * (products and sums in double). A measurement program, not a test: run it by hand,
 * e.g. {@code java -Xmx4g -cp <test classpath> org.fwmerge.nd4j.DotAccuracyBenchmark [n] [reps]}.
 */
public final class DotAccuracyBenchmark {

    private DotAccuracyBenchmark() {
    }

    /**
     * Runs the measurement.
     *
     * @param args optional element count (default 10^8) and repetitions for timing (default 5)
     */
    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 100_000_000;
        int reps = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        Nd4jBackend b = new Nd4jBackend();
        int chunk = 1 << 20;
        float[] bx = new float[chunk];
        float[] by = new float[chunk];
        SplittableRandom rnd = new SplittableRandom(20250101L);
        double ref = 0;
        try (Tensor tx = b.zeros(n); Tensor ty = b.zeros(n)) {
            for (int off = 0; off < n; off += chunk) {
                int len = Math.min(chunk, n - off);
                for (int i = 0; i < len; i++) {
                    bx[i] = (float) (rnd.nextDouble() - 0.1);
                    by[i] = (float) rnd.nextDouble();
                    ref += (double) bx[i] * by[i];
                }
                b.set(tx, off, bx, 0, len);
                b.set(ty, off, by, 0, len);
            }
            INDArray x = Nd4jBackend.array(tx);
            INDArray y = Nd4jBackend.array(ty);
            System.out.printf("n = %d, values x ~ U[-0.1, 0.9), y ~ U[0, 1), double reference %.10e%n", n, ref);
            report("x.mul(y).sumNumber()", ref, n, reps, () -> x.mul(y).sumNumber().doubleValue());
            report("Nd4j.getExecutioner().exec(new Dot(x, y))", ref, n, reps,
                    () -> Nd4j.getExecutioner().exec(new Dot(x, y)).getDouble(0));
            report("Nd4j.getBlasWrapper().dot(x, y) (one sdot)", ref, n, reps, () -> Nd4j.getBlasWrapper().dot(x, y));
            report("Nd4jBackend.dot (products and sum in double)", ref, n, reps, () -> b.dot(tx, ty));
        }
    }

    private static void report(String what, double ref, int n, int reps, java.util.function.DoubleSupplier op) {
        double value = op.getAsDouble(); // warm-up, and the value whose error is reported
        long best = Long.MAX_VALUE;
        for (int r = 0; r < reps; r++) {
            long t0 = System.nanoTime();
            op.getAsDouble();
            best = Math.min(best, System.nanoTime() - t0);
        }
        System.out.printf("%-52s rel. error %.3e   best of %d: %8.1f ms  %6.1f GB/s read%n", what,
                Math.abs(value - ref) / Math.abs(ref), reps, best / 1e6, 8.0 * n / best);
    }
}
