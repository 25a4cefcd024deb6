package org.fwmerge.baseline;

import org.fwmerge.internal.Parallel;
import org.fwmerge.io.TensorReader;
import org.fwmerge.tensor.Tensor;

/**
 * NearSwap, as mergekit's {@code nearswap} ({@code merge_methods/nearswap.py}) defines it: entry by entry
 * between the base θ₀ and one candidate θ₁, with w = clamp(t / max(|θ₀ − θ₁|, 10⁻⁶), 0, 1),
 * θ = w·θ₁ + (1 − w)·θ₀ — entries where the two models are within t of each other take the candidate's
 * value, distant ones stay near the base. Computed in double and rounded once (mergekit computes in the
 * inputs' type). One streamed pass per tensor, ranges across cores; memory: the output and chunk buffers.
 */
public final class NearSwap extends PairMerger {

    private static final double MIN_DIFF = 1e-6;

    private NearSwap(Builder b) {
        super(b, "nearswap", "merges");
    }

    /** A builder; {@link Builder#t} is required. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    void mergeTensor(TensorReader a, TensorReader b, Tensor out) {
        Parallel.ranges(out.size(), (from, to) -> {
            float[] x = new float[Support.CHUNK];
            float[] y = new float[Support.CHUNK];
            for (long off = from; off < to; off += Support.CHUNK) {
                int len = (int) Math.min(Support.CHUNK, to - off);
                a.read(off, x, 0, len);
                b.read(off, y, 0, len);
                for (int k = 0; k < len; k++) {
                    double w = Math.min(1, Math.max(0, t / Math.max(Math.abs((double) x[k] - y[k]), MIN_DIFF)));
                    x[k] = (float) (w * y[k] + (1 - w) * x[k]);
                }
                backend.set(out, off, x, 0, len);
            }
            return null;
        });
    }

    /** Configures a {@link NearSwap}: t (entries closer than t take the other model's value) is required. */
    public static final class Builder extends PairBuilder<Builder> {
        private Builder() {
        }

        /**
         * The configured merger.
         *
         * @throws IllegalStateException if t was not given
         */
        public NearSwap build() {
            requireT("entries closer than t take the other model's value");
            return new NearSwap(this);
        }
    }
}
