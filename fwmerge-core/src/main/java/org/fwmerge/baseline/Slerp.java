package org.fwmerge.baseline;

import java.util.List;
import org.fwmerge.internal.Combine;
import org.fwmerge.internal.Parallel;
import org.fwmerge.io.TensorReader;
import org.fwmerge.tensor.Tensor;

/**
 * Spherical linear interpolation between the base θ₀ and one candidate θ₁, tensor by tensor, as
 * mergekit's {@code slerp} ({@code merge_methods/slerp.py}) defines it: with v̂ = v/‖v‖ (v itself where
 * ‖v‖ ≤ 10⁻⁸) and d = ⟨θ̂₀, θ̂₁⟩,
 * <ul>
 * <li>|d| &gt; 0.9995 (near-parallel): θ = (1 − t)·θ₀ + t·θ₁;</li>
 * <li>else, with Ω = arccos d: θ = sin((1 − t)Ω)/sin Ω · θ₀ + sin(tΩ)/sin Ω · θ₁ (the original, not the
 *     normalised, tensors).</li>
 * </ul>
 * t = 0 gives the base. Norms and the inner product are summed in double over fixed blocks added in
 * order (so the result does not depend on the core count), and the output is formed in double and
 * rounded once; mergekit computes in float32, so the two agree to float rounding.
 *
 * <p>Two streamed passes per tensor, ranges across cores; memory: the output and chunk buffers.
 */
public final class Slerp extends PairMerger {

    /** mergekit's threshold of |d| above which the tensors count as parallel and are interpolated linearly. */
    public static final double DOT_THRESHOLD = 0.9995;
    private static final double EPS = 1e-8;
    /** Elements per block of the first pass: partial sums are added in block order. */
    private static final int BLOCK = 1 << 20;

    private Slerp(Builder b) {
        super(b, "slerp", "interpolates between");
    }

    /** A builder; {@link Builder#t} is required. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    void mergeTensor(TensorReader base, TensorReader other, Tensor out) {
        Combine.into(out, coefficients(t, sums(base, other)), base, other);
    }

    /** (s₀, s₁) of θ = s₀θ₀ + s₁θ₁ from ‖θ₀‖², ‖θ₁‖² and ⟨θ₀, θ₁⟩. */
    static double[] coefficients(double t, double[] sums) {
        double n0 = Math.sqrt(sums[0]);
        double n1 = Math.sqrt(sums[1]);
        double d = sums[2] / ((n0 > EPS ? n0 : 1) * (n1 > EPS ? n1 : 1));
        if (Math.abs(d) > DOT_THRESHOLD) {
            return new double[] {1 - t, t};
        }
        double omega = Math.acos(d);
        double sin = Math.sin(omega);
        return new double[] {Math.sin(omega - t * omega) / sin, Math.sin(t * omega) / sin};
    }

    /** {‖a‖², ‖b‖², ⟨a, b⟩}, blocks in parallel, added in block order. */
    private static double[] sums(TensorReader a, TensorReader b) {
        long size = a.size();
        int blocks = (int) Math.max(1, (size + BLOCK - 1) / BLOCK);
        List<double[]> parts = Parallel.items(blocks, q -> {
            float[] x = new float[Support.CHUNK];
            float[] y = new float[Support.CHUNK];
            double[] s = new double[3];
            long end = Math.min(size, (long) (q + 1) * BLOCK);
            for (long off = (long) q * BLOCK; off < end; off += Support.CHUNK) {
                int len = (int) Math.min(Support.CHUNK, end - off);
                a.read(off, x, 0, len);
                b.read(off, y, 0, len);
                for (int k = 0; k < len; k++) {
                    s[0] += (double) x[k] * x[k];
                    s[1] += (double) y[k] * y[k];
                    s[2] += (double) x[k] * y[k];
                }
            }
            return s;
        });
        double[] total = new double[3];
        for (double[] s : parts) {
            for (int k = 0; k < 3; k++) {
                total[k] += s[k];
            }
        }
        return total;
    }

    /** Configures a {@link Slerp}: t (0 gives the base, 1 the other model) is required. */
    public static final class Builder extends PairBuilder<Builder> {
        private Builder() {
        }

        /**
         * The configured merger.
         *
         * @throws IllegalStateException if t was not given
         */
        public Slerp build() {
            requireT("0 gives the base, 1 the other model");
            return new Slerp(this);
        }
    }
}
