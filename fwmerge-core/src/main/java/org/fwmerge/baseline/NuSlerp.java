package org.fwmerge.baseline;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.fwmerge.MergeResult;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.internal.Parallel;
import org.fwmerge.internal.Readers;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.TensorReader;
import org.fwmerge.tensor.Tensor;

/**
 * mergekit's {@code nuslerp} ({@code merge_methods/nuslerp.py}): spherical interpolation of exactly two
 * models by t = w₁ / (w₀ + w₁) (0.5 where |w₀ + w₁| &lt; 10⁻⁶), of their offsets from the pool's base
 * ({@link Builder#fromBase}, the default: mergekit with a {@code base_model}) or of the models themselves.
 * For each vector pair v₀, v₁ — the whole tensor ({@link Vectors#TENSOR}, mergekit's default
 * {@code nuslerp_flatten}), each row along the last dimension ({@link Vectors#ROWS}) or each vector along the
 * first ({@link Vectors#COLUMNS}, {@code nuslerp_row_wise}): with û = v / max(‖v‖, 10⁻⁷), Ω = acos(clamp(⟨û₀,
 * û₁⟩, −1, 1)), the result is (sin((1 − t)Ω)·v₀ + sin(tΩ)·v₁) / sin Ω, or (1 − t)·v₀ + t·v₁ where
 * |sin Ω| &lt; 10⁻⁸; plus θ₀ from the base. (mergekit's {@code slerp}, {@link Slerp}, differs: it interpolates
 * from the base to one other model and falls back to the linear path above |cos Ω| &gt; 0.9995.)
 *
 * <p>Two streamed passes per tensor: the vectors' inner products in double (over a fixed split of the
 * tensor, added in order, so results do not depend on the core count), then the output formed in double
 * and rounded once. Memory: the output, three doubles per vector per split part (8 parts) and chunk buffers.
 */
public final class NuSlerp extends BaselineMerger {

    /** Which entries of a tensor form the vectors that are interpolated. */
    public enum Vectors {
        /** The whole tensor is one vector (mergekit {@code nuslerp_flatten: true}, its default). */
        TENSOR,
        /** Each vector along the last dimension, e.g. each row of a matrix ({@code nuslerp_flatten: false}). */
        ROWS,
        /**
         * Each vector along the first dimension, e.g. each column of a matrix ({@code nuslerp_flatten: false,
         * nuslerp_row_wise: true}).
         */
        COLUMNS
    }

    private static final double NORM_EPS = 1e-7;
    private static final double SIN_EPS = 1e-8;
    private static final double WEIGHT_EPS = 1e-6;
    /** The fixed number of parts the inner-product pass is split into. */
    private static final int PARTS = 8;

    private final double[] weights;
    private final Vectors vectors;
    private final boolean fromBase;

    private NuSlerp(Builder b) {
        super(b);
        this.weights = b.weights.clone();
        this.vectors = b.vectors == null ? Vectors.TENSOR : b.vectors;
        this.fromBase = b.fromBase == null || b.fromBase;
    }

    /** A builder; {@link Builder#weights} is required. */
    public static Builder builder() {
        return new Builder();
    }

    /** t = w₁ / (w₀ + w₁), 0.5 where the weights cancel. */
    double t() {
        double sum = weights[0] + weights[1];
        return Math.abs(sum) < WEIGHT_EPS ? 0.5 : weights[1] / sum;
    }

    /**
     * Merges the pool.
     *
     * @throws IllegalArgumentException     if the pool does not have exactly two candidates, or the selection
     *                                      matches no tensor
     * @throws java.io.UncheckedIOException if a checkpoint cannot be read
     */
    @Override
    public MergeResult merge(ModelPool pool) {
        Objects.requireNonNull(pool, "pool");
        if (pool.size() != 2) {
            throw new IllegalArgumentException("nuslerp merges exactly two models (plus an optional base_model); the pool has "
                    + pool.size() + " candidate" + (pool.size() == 1 ? "" : "s"));
        }
        long start = System.nanoTime();
        List<String> names = pool.select(parameters);
        Model out = Support.zeros(pool, names, backend, "nuslerp");
        try {
            List<Checkpoint> sources = new ArrayList<>(pool.candidates());
            sources.add(pool.base());
            for (String name : names) {
                try (Readers r = Readers.open(sources, name)) {
                    mergeTensor(r.all(), pool.base().info(name).shape(), out.tensor(name));
                }
            }
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return Support.result(out, "nuslerp", configuration(), pool, start);
    }

    /** Maps an entry's offset to its vector's index. */
    private record Layout(long count, long divide, long modulo) {
        long vector(long offset) {
            return modulo > 0 ? offset % modulo : offset / divide;
        }
    }

    private Layout layout(long[] shape, long size) {
        if (vectors == Vectors.TENSOR || shape.length < 2 || size == 0) {
            return new Layout(1, Long.MAX_VALUE, 0);
        }
        if (vectors == Vectors.ROWS) {
            long last = shape[shape.length - 1];
            return new Layout(size / last, last, 0);
        }
        long stride = size / shape[0]; // entries one step apart along the first dimension
        return new Layout(stride, 0, stride);
    }

    /** One tensor: the two candidates src[0], src[1], the base src[2]. */
    private void mergeTensor(TensorReader[] src, long[] shape, Tensor out) {
        long size = src[2].size();
        Layout layout = layout(shape, size);
        int vectorCount = Math.toIntExact(layout.count());
        // pass 1: ⟨v0, v0⟩, ⟨v1, v1⟩, ⟨v0, v1⟩ per vector, over a fixed split added in order
        long part = (size + PARTS - 1) / PARTS;
        List<double[]> partial = Parallel.items(PARTS, q -> {
            double[] acc = new double[3 * vectorCount];
            long from = Math.min(size, q * part);
            long to = Math.min(size, from + part);
            sweep(src, from, to, (off, a, b, base, len) -> {
                for (int k = 0; k < len; k++) {
                    int v = (int) layout.vector(off + k);
                    acc[3 * v] += (double) a[k] * a[k];
                    acc[3 * v + 1] += (double) b[k] * b[k];
                    acc[3 * v + 2] += (double) a[k] * b[k];
                }
            });
            return acc;
        });
        double[] acc = new double[3 * vectorCount];
        for (double[] p : partial) {
            for (int k = 0; k < acc.length; k++) {
                acc[k] += p[k];
            }
        }
        double t = t();
        double[] c = new double[2 * vectorCount]; // result = c0·v0 + c1·v1 per vector
        for (int v = 0; v < vectorCount; v++) {
            double n0 = Math.max(Math.sqrt(acc[3 * v]), NORM_EPS);
            double n1 = Math.max(Math.sqrt(acc[3 * v + 1]), NORM_EPS);
            double omega = Math.acos(Math.max(-1, Math.min(1, acc[3 * v + 2] / (n0 * n1))));
            double sin = Math.sin(omega);
            if (Math.abs(sin) < SIN_EPS) {
                c[2 * v] = 1 - t;
                c[2 * v + 1] = t;
            } else {
                c[2 * v] = Math.sin((1 - t) * omega) / sin;
                c[2 * v + 1] = Math.sin(t * omega) / sin;
            }
        }
        // pass 2: the output, blocks in parallel
        int blocks = (int) Math.max(1, (size + (1 << 20) - 1) >> 20);
        Parallel.items(blocks, q -> {
            float[] row = new float[Support.CHUNK];
            long from = Math.min(size, (long) q << 20);
            long to = Math.min(size, from + (1 << 20));
            sweep(src, from, to, (off, a, b, base, len) -> {
                for (int k = 0; k < len; k++) {
                    int v = (int) layout.vector(off + k);
                    row[k] = (float) ((base == null ? 0.0 : base[k]) + c[2 * v] * a[k] + c[2 * v + 1] * b[k]);
                }
                backend.set(out, off, row, 0, len);
            });
            return null;
        });
    }

    @FunctionalInterface
    private interface Pair {
        /** {@code base}: the base's chunk, null when the models are interpolated as they are. */
        void chunk(long offset, float[] v0, float[] v1, float[] base, int length);
    }

    /** v₀, v₁ over [from, to) in chunks: the candidates less the base, or as they are. */
    private void sweep(TensorReader[] src, long from, long to, Pair p) {
        float[] a = new float[Support.CHUNK];
        float[] b = new float[Support.CHUNK];
        float[] base = fromBase ? new float[Support.CHUNK] : null;
        for (long off = from; off < to; off += Support.CHUNK) {
            int len = (int) Math.min(Support.CHUNK, to - off);
            src[0].read(off, a, 0, len);
            src[1].read(off, b, 0, len);
            if (fromBase) {
                src[2].read(off, base, 0, len);
                for (int k = 0; k < len; k++) {
                    a[k] -= base[k];
                    b[k] -= base[k];
                }
            }
            p.chunk(off, a, b, base, len);
        }
    }

    @Override
    Map<String, String> settings() {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("method", "nuslerp");
        c.put("weights", java.util.Arrays.toString(weights));
        c.put("t", Double.toString(t()));
        c.put("vectors", vectors.name().toLowerCase(java.util.Locale.ROOT));
        c.put("fromBase", Boolean.toString(fromBase));
        return c;
    }

    /**
     * Configures a {@link NuSlerp}. Each setter may be called once ({@link IllegalStateException} on a second
     * call). Not thread-safe.
     */
    public static final class Builder extends BaselineBuilder<Builder> {
        private double[] weights;
        private Vectors vectors;
        private Boolean fromBase;

        private Builder() {
        }

        /**
         * The two candidates' weights w₀, w₁ (mergekit {@code weight}; required): t = w₁ / (w₀ + w₁).
         *
         * @throws IllegalArgumentException unless exactly two finite weights
         */
        public Builder weights(double w0, double w1) {
            once(this.weights, "weights");
            this.weights = new double[] {Support.finite(w0, "weight of candidate 1"), Support.finite(w1, "weight of candidate 2")};
            return this;
        }

        /** Which entries form the interpolated vectors (default {@link Vectors#TENSOR}). */
        public Builder vectors(Vectors v) {
            once(this.vectors, "vectors");
            this.vectors = Objects.requireNonNull(v, "vectors");
            return this;
        }

        /**
         * Whether the two models are interpolated as offsets from the pool's base (default) or as they are
         * (mergekit without a {@code base_model}; the pool's base is then not read).
         */
        public Builder fromBase(boolean fromBase) {
            once(this.fromBase, "fromBase");
            this.fromBase = fromBase;
            return this;
        }

        /**
         * The configured merger.
         *
         * @throws IllegalStateException if no weights were given
         */
        public NuSlerp build() {
            if (weights == null) {
                throw new IllegalStateException("weights are required: one per model (mergekit's 'weight' parameter)");
            }
            return new NuSlerp(this);
        }
    }
}
