package org.fwmerge.baseline;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.fwmerge.MergeResult;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.internal.Parallel;
import org.fwmerge.internal.Readers;
import org.fwmerge.io.TensorReader;
import org.fwmerge.tensor.Tensor;

/**
 * NearSwap, as mergekit's {@code nearswap} ({@code merge_methods/nearswap.py}) defines it: entry by entry
 * between the base θ₀ and one candidate θ₁, with w = clamp(t / max(|θ₀ − θ₁|, 10⁻⁶), 0, 1),
 * θ = w·θ₁ + (1 − w)·θ₀ — entries where the two models are within t of each other take the candidate's
 * value, distant ones stay near the base. Computed in double and rounded once (mergekit computes in the
 * inputs' type). One streamed pass per tensor, ranges across cores; memory: the output and chunk buffers.
 */
public final class NearSwap extends BaselineMerger {

    private static final double MIN_DIFF = 1e-6;

    private final double t;

    private NearSwap(Builder b) {
        super(b);
        this.t = b.t;
    }

    /** A builder; {@link Builder#t} is required. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Swaps between the pool's base and its one candidate.
     *
     * @throws IllegalArgumentException     if the pool does not hold exactly one candidate, or the selection
     *                                      matches no tensor
     * @throws java.io.UncheckedIOException if a checkpoint cannot be read
     */
    @Override
    public MergeResult merge(ModelPool pool) {
        Objects.requireNonNull(pool, "pool");
        if (pool.size() != 1) {
            throw new IllegalArgumentException("nearswap merges the base and exactly one other model; the pool has "
                    + pool.size() + " candidates");
        }
        long start = System.nanoTime();
        List<String> names = pool.select(parameters);
        Model out = Support.zeros(pool, names, backend, "nearswap");
        try {
            for (String name : names) {
                try (Readers r = Readers.open(List.of(pool.base(), pool.candidates().get(0)), name)) {
                    swap(r.all()[0], r.all()[1], out.tensor(name));
                }
            }
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return Support.result(out, "nearswap", configuration(), pool, start);
    }

    private void swap(TensorReader a, TensorReader b, Tensor out) {
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

    @Override
    Map<String, String> settings() {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("method", "nearswap");
        c.put("t", Double.toString(t));
        return c;
    }

    /**
     * Configures a {@link NearSwap}. Each setting is checked when set; each setter may be called once
     * ({@link IllegalStateException} on a second call); {@link #build()} leaves the builder unchanged. Not thread-safe.
     */
    public static final class Builder extends BaselineBuilder<Builder> {
        private Double t;

        private Builder() {
        }

        /**
         * The distance below which an entry takes the candidate's value (mergekit {@code t}; required).
         *
         * @throws IllegalArgumentException if not finite
         */
        public Builder t(double t) {
            once(this.t, "t");
            this.t = Support.finite(t, "t");
            return this;
        }

        /**
         * The configured merger.
         *
         * @throws IllegalStateException if t was not given
         */
        public NearSwap build() {
            if (t == null) {
                throw new IllegalStateException("t is required (mergekit's 't' parameter): entries closer than t take the"
                        + " other model's value");
            }
            return new NearSwap(this);
        }
    }
}
