package org.fwmerge.baseline;

import java.util.ArrayList;
import java.util.Arrays;
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
 * SCE (Select, Calculate, Erase; Wan et al., 2024) as mergekit's {@code sce} ({@code merge_methods/sce.py})
 * defines it, per tensor, with τ_i = θ_i − θ₀ over the n candidates:
 * <ol>
 * <li><b>select</b> (when {@link Builder#selectTopK} ρ &lt; 1): v_j, the variance of τ_{1..n,j} over the
 *     candidates (population variance), ranks the entries; the k = ⌊ρ·#{j : v_j ≠ 0}⌋ of largest v_j keep
 *     their τ_{i,j} in every candidate, the others are zeroed (k = 0: every one). Entries tied with the k-th
 *     largest are chosen by a hash of their position, as fwmerge's TIES does (mergekit's {@code topk} leaves
 *     the choice undefined);</li>
 * <li><b>calculate</b>: w_i = mean_j τ_{i,j}² of the selected τ_i, normalised to Σw = 1 (all 1/n where
 *     |Σw| &lt; 10⁻⁶);</li>
 * <li><b>erase</b>: e_j = sign(Σ_i τ_{i,j}), 0 counting as +; τ_{i,j} counts where its sign is e_j (zeros never);
 *     θ_j = θ₀_j + Σ_{counted} w_i τ_{i,j} / max(Σ_{counted} w_i, 10⁻⁶).</li>
 * </ol>
 * Sums are formed in double, over fixed blocks added in order (results do not depend on the core count),
 * and the output rounded once; mergekit computes in the inputs' type (e.g. BF16), so the two agree to that
 * type's rounding, not bit for bit.
 *
 * <p>Memory: the output and, with ρ &lt; 1, the variances of one tensor at a time (4 bytes per entry of the
 * largest tensor); candidates are streamed, read two (ρ = 1) or three times per tensor.
 */
public final class Sce extends BaselineMerger {

    private static final double WEIGHT_EPS = 1e-6;
    private static final double DIVISOR_EPS = 1e-6;
    /** Elements per block of a pass: blocks run in parallel, their partial sums are added in block order. */
    private static final int BLOCK = 1 << 20;

    private final double selectTopK;

    private Sce(Builder b) {
        super(b);
        this.selectTopK = b.selectTopK == null ? 1.0 : b.selectTopK;
    }

    /** A builder; the default keeps every entry (mergekit's {@code select_topk: 1}). */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Merges the pool.
     *
     * @throws IllegalArgumentException     if the selection matches no tensor
     * @throws java.io.UncheckedIOException if a checkpoint cannot be read
     */
    @Override
    public MergeResult merge(ModelPool pool) {
        Objects.requireNonNull(pool, "pool");
        long start = System.nanoTime();
        List<String> names = pool.select(parameters);
        Model out = Support.zeros(pool, names, backend, "sce");
        try {
            List<Checkpoint> sources = new ArrayList<>(pool.candidates());
            sources.add(pool.base());
            for (String name : names) {
                try (Readers r = Readers.open(sources, name)) {
                    mergeTensor(name, r.all(), out.tensor(name));
                }
            }
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return Support.result(out, "sce", configuration(), pool, start);
    }

    /** One tensor: candidates src[0..n), the base src[n]. */
    private void mergeTensor(String name, TensorReader[] src, Tensor out) {
        int n = src.length - 1;
        long size = src[n].size();
        float[] variance = selectTopK < 1 ? variances(src, size) : null;
        Selection keep = variance == null ? Selection.ALL : select(variance, name);
        double[] w = weights(src, size, keep, variance);
        int blocks = blocks(size);
        Parallel.items(blocks, q -> {
            Chunk c = new Chunk(n);
            float[] row = new float[Support.CHUNK];
            for (long off = (long) q * BLOCK, end = Math.min(size, off + BLOCK); off < end; off += Support.CHUNK) {
                int len = (int) Math.min(Support.CHUNK, end - off);
                c.read(src, off, len, keep, variance);
                for (int k = 0; k < len; k++) {
                    double sum = 0;
                    for (int i = 0; i < n; i++) {
                        sum += c.tau[i][k];
                    }
                    boolean positive = sum >= 0;
                    double num = 0;
                    double den = 0;
                    for (int i = 0; i < n; i++) {
                        float t = c.tau[i][k];
                        if (positive ? t > 0 : t < 0) {
                            num += w[i] * t;
                            den += w[i];
                        }
                    }
                    row[k] = (float) (c.base[k] + num / Math.max(den, DIVISOR_EPS));
                }
                backend.set(out, off, row, 0, len);
            }
            return null;
        });
    }

    private static int blocks(long size) {
        return (int) Math.max(1, (size + BLOCK - 1) / BLOCK);
    }

    /** The population variance over the candidates of each entry's τ, in double, stored as float. */
    private static float[] variances(TensorReader[] src, long size) {
        int n = src.length - 1;
        float[] v = new float[Math.toIntExact(size)];
        Parallel.items(blocks(size), q -> {
            Chunk c = new Chunk(n);
            for (long off = (long) q * BLOCK, end = Math.min(size, off + BLOCK); off < end; off += Support.CHUNK) {
                int len = (int) Math.min(Support.CHUNK, end - off);
                c.read(src, off, len, Selection.ALL, null);
                for (int k = 0; k < len; k++) {
                    double mean = 0;
                    for (int i = 0; i < n; i++) {
                        mean += c.tau[i][k];
                    }
                    mean /= n;
                    double ss = 0;
                    for (int i = 0; i < n; i++) {
                        double d = c.tau[i][k] - mean;
                        ss += d * d;
                    }
                    v[(int) off + k] = (float) (ss / n);
                }
            }
            return null;
        });
        return v;
    }

    /**
     * Which entries the select step keeps: those whose variance is above {@code threshold}, and those equal to
     * it whose position hash is at or above {@code hash} (unsigned); {@code none} keeps nothing.
     */
    private record Selection(boolean none, float threshold, boolean allTied, int hash, int salt) {
        static final Selection ALL = new Selection(false, Float.NEGATIVE_INFINITY, true, 0, 0);

        boolean keeps(float v, long index) {
            if (none) {
                return false;
            }
            return v > threshold || v == threshold && (allTied || Integer.compareUnsigned(Threshold.hash(index, salt), hash) >= 0);
        }
    }

    /** The top ⌊ρ·nonzero⌋ variances, exactly that many entries (ties by position hash). */
    private Selection select(float[] variance, String name) {
        long nonzero = 0;
        for (float x : variance) {
            if (x != 0) {
                nonzero++;
            }
        }
        long k = (long) (nonzero * selectTopK);
        if (k <= 0) {
            return new Selection(true, 0, false, 0, 0);
        }
        float[] sorted = variance.clone();
        Arrays.sort(sorted);
        float threshold = sorted[(int) (sorted.length - k)];
        long above = 0;
        long tied = 0;
        for (float x : variance) {
            if (x > threshold) {
                above++;
            } else if (x == threshold) {
                tied++;
            }
        }
        long need = k - above;
        if (need == tied) {
            return new Selection(false, threshold, true, 0, 0);
        }
        // Keep the `need` tied entries with the largest unsigned hashes: the hash at rank tied - need (ascending).
        int salt = Threshold.salt(0, name);
        int[] hashes = new int[Math.toIntExact(tied)];
        int h = 0;
        for (int j = 0; j < variance.length; j++) {
            if (variance[j] == threshold) {
                hashes[h++] = Threshold.hash(j, salt) ^ Integer.MIN_VALUE; // unsigned order as signed
            }
        }
        Arrays.sort(hashes);
        return new Selection(false, threshold, false, hashes[(int) (tied - need)] ^ Integer.MIN_VALUE, salt);
    }

    /** w_i = mean of the selected τ_i², normalised (1/n each where their sum is below 10⁻⁶). */
    private static double[] weights(TensorReader[] src, long size, Selection keep, float[] variance) {
        int n = src.length - 1;
        List<double[]> parts = Parallel.items(blocks(size), q -> {
            Chunk c = new Chunk(n);
            double[] s = new double[n];
            for (long off = (long) q * BLOCK, end = Math.min(size, off + BLOCK); off < end; off += Support.CHUNK) {
                int len = (int) Math.min(Support.CHUNK, end - off);
                c.read(src, off, len, keep, variance);
                for (int i = 0; i < n; i++) {
                    double a = 0;
                    for (int k = 0; k < len; k++) {
                        a += (double) c.tau[i][k] * c.tau[i][k];
                    }
                    s[i] += a;
                }
            }
            return s;
        });
        double[] w = new double[n];
        for (double[] p : parts) {
            for (int i = 0; i < n; i++) {
                w[i] += p[i];
            }
        }
        double total = 0;
        for (int i = 0; i < n; i++) {
            w[i] /= size;
            total += w[i];
        }
        for (int i = 0; i < n; i++) {
            w[i] = Math.abs(total) < WEIGHT_EPS ? 1.0 / n : w[i] / total;
        }
        return w;
    }

    /** One chunk of the base and of every selected τ_i, in per-thread buffers. */
    private static final class Chunk {
        final float[] base = new float[Support.CHUNK];
        final float[][] tau;

        Chunk(int n) {
            tau = new float[n][Support.CHUNK];
        }

        void read(TensorReader[] src, long off, int len, Selection keep, float[] variance) {
            int n = tau.length;
            src[n].read(off, base, 0, len);
            for (int i = 0; i < n; i++) {
                float[] t = tau[i];
                src[i].read(off, t, 0, len);
                for (int k = 0; k < len; k++) {
                    t[k] -= base[k];
                }
                if (variance != null) {
                    for (int k = 0; k < len; k++) {
                        if (!keep.keeps(variance[(int) off + k], off + k)) {
                            t[k] = 0f;
                        }
                    }
                }
            }
        }
    }

    @Override
    Map<String, String> settings() {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("method", "sce");
        c.put("selectTopK", Double.toString(selectTopK));
        return c;
    }

    /**
     * Configures an {@link Sce}. Each setter may be called once ({@link IllegalStateException} on a second
     * call). Not thread-safe.
     */
    public static final class Builder extends BaselineBuilder<Builder> {
        private Double selectTopK;

        private Builder() {
        }

        /**
         * The fraction ρ of entries (of those whose variance over the candidates is not zero) that the select
         * step keeps, by largest variance (mergekit's {@code select_topk}; default 1: every entry).
         *
         * @throws IllegalArgumentException if not finite
         */
        public Builder selectTopK(double rho) {
            once(this.selectTopK, "selectTopK");
            this.selectTopK = Support.finite(rho, "selectTopK");
            return this;
        }

        /** The configured merger. */
        public Sce build() {
            return new Sce(this);
        }
    }
}
