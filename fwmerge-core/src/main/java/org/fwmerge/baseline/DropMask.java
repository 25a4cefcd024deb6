package org.fwmerge.baseline;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.fwmerge.io.TensorReader;

/**
 * A random drop of task-vector entries, drawn from a seeded stream per (candidate, tensor): DARE's, where
 * every entry is kept with the same probability, or DELLA's magnitude-ranked one ({@link #ranked}).
 *
 * <p>DARE: an entry is kept when a uniform draw u ∈ [0, 1) satisfies u ≥ p (the reference code keeps
 * {@code rand > p}; the two differ only on a set of probability zero), and a kept entry is multiplied by
 * 1/(1 − p) when rescaling.
 *
 * <p>DELLA (mergekit's {@code della_magprune}): within each row of the tensor (the entries that share every
 * index but the second, as torch's {@code argsort(dim=1)} groups them; a 1-D tensor is one row), the
 * entries are ranked by |τ| and kept with probability (ρ − ε) + 2ε·(r − 1)/(c − 1), r the rank (1: smallest)
 * among the row's c entries: larger entries are kept more often. Tied magnitudes share their mean rank
 * (mergekit's argsort orders them arbitrarily; a mean rank favours no position); a row of one entry is kept
 * with probability ρ (mergekit's formula divides 0 by 0 there).
 *
 * <p>The draws for candidate i and tensor {@code name} come from their own {@link SplittableRandom} stream
 * seeded from (seed, i, name, salt) and are consumed in element order, so the mask depends neither on chunk
 * sizes nor on how often or in which order tensors are visited.
 */
final class DropMask {
    final double p;
    final boolean rescale;
    final long seed;
    /** DELLA's ε; NaN for DARE. */
    final double epsilon;
    private final float factor;

    DropMask(double p, boolean rescale, long seed) {
        this(p, rescale, seed, Double.NaN);
    }

    private DropMask(double p, boolean rescale, long seed, double epsilon) {
        this.p = p;
        this.rescale = rescale;
        this.seed = seed;
        this.epsilon = epsilon;
        this.factor = rescale ? (float) (1.0 / (1.0 - p)) : 1f;
    }

    /**
     * DELLA's magnitude-ranked drop keeping a fraction {@code density} on average, ranks moving the keep
     * probability by ±{@code epsilon}; no factor (mergekit rescales by the L1 norms instead).
     *
     * @throws IllegalArgumentException unless 0 &lt; density − epsilon and density + epsilon &lt; 1
     */
    static DropMask ranked(double density, double epsilon, long seed) {
        if (!(density - epsilon > 0 && density + epsilon < 1)) {
            throw new IllegalArgumentException("epsilon " + epsilon + " must leave density ± epsilon inside (0, 1); density is "
                    + density);
        }
        return new DropMask(1 - density, false, seed, epsilon);
    }

    /** Where the drop of one (candidate, tensor) stands; consumed in element order. */
    interface Cursor {
        /** Applies the mask in place to the next {@code len} entries, {@code v[0..len)}. */
        void apply(float[] v, int len);
    }

    /**
     * The drop of candidate {@code i}'s tensor {@code name} of the given shape, whose τ is {@code candidate}
     * minus {@code anchor} (read once more here when the mask is ranked); {@code salt} separates calls (0 for
     * mergers).
     */
    Cursor cursor(int i, String name, long salt, long[] shape, TensorReader candidate, TensorReader anchor) {
        SplittableRandom rng = stream(i, name, salt);
        if (Double.isNaN(epsilon)) {
            return (v, len) -> {
                for (int k = 0; k < len; k++) {
                    v[k] = rng.nextDouble() >= p ? v[k] * factor : 0f;
                }
            };
        }
        long[] kept = rankedKeep(rng, shape, candidate, anchor);
        long[] position = {0};
        return (v, len) -> {
            long at = position[0];
            for (int k = 0; k < len; k++, at++) {
                if ((kept[(int) (at >>> 6)] & (1L << at)) == 0) {
                    v[k] = 0f;
                }
            }
            position[0] = at;
        };
    }

    /** DELLA's keep bits of one tensor: rows ranked by |τ|, draws in element order. */
    private long[] rankedKeep(SplittableRandom rng, long[] shape, TensorReader candidate, TensorReader anchor) {
        long size = candidate.size();
        int c = shape.length < 2 ? (int) size : (int) shape[1]; // entries per row
        long stride = 1; // distance between a row's entries
        for (int d = 2; d < shape.length; d++) {
            stride *= shape[d];
        }
        double density = 1 - p;
        float[] tau = new float[Math.toIntExact(size)];
        float[] base = new float[Math.min(tau.length, Support.CHUNK)];
        for (int off = 0; off < tau.length; off += base.length) {
            int len = Math.min(base.length, tau.length - off);
            candidate.read(off, tau, off, len);
            anchor.read(off, base, 0, len);
            for (int k = 0; k < len; k++) {
                tau[off + k] = Math.abs(tau[off + k] - base[k]);
            }
        }
        // keep probability of each entry, row by row
        double[] prob = new double[tau.length];
        long rows = c == 0 ? 0 : size / c;
        long[] keys = new long[c];
        for (long r = 0; r < rows; r++) {
            long first = (r / stride) * stride * c + r % stride;
            for (int k = 0; k < c; k++) {
                int at = (int) (first + k * stride);
                // non-negative floats order like their bits; the low word keeps the entry's place in the row
                keys[k] = ((long) Float.floatToRawIntBits(tau[at]) << 32) | k;
            }
            Arrays.sort(keys);
            for (int lo = 0; lo < c;) {
                int hi = lo;
                while (hi + 1 < c && (keys[hi + 1] >>> 32) == (keys[lo] >>> 32)) {
                    hi++;
                }
                double rankNorm = c == 1 ? 0.5 : (0.5 * (lo + hi)) / (c - 1); // mean 0-based rank of the tie group
                double keep = density - epsilon + 2 * epsilon * rankNorm;
                for (int k = lo; k <= hi; k++) {
                    prob[(int) (first + (int) keys[k] * stride)] = keep;
                }
                lo = hi + 1;
            }
        }
        long[] kept = new long[(tau.length + 63) >>> 6];
        for (int k = 0; k < tau.length; k++) {
            if (rng.nextDouble() < prob[k]) {
                kept[k >>> 6] |= 1L << k;
            }
        }
        return kept;
    }

    /** The stream for candidate {@code i}, tensor {@code name}; {@code salt} separates calls (0 for mergers). */
    SplittableRandom stream(int i, String name, long salt) {
        long h = mix(seed ^ 0x9E3779B97F4A7C15L);
        h = mix(h ^ (i * 0xC2B2AE3D27D4EB4FL));
        h = mix(h ^ name.hashCode());
        h = mix(h ^ salt);
        return new SplittableRandom(h);
    }

    /** SplitMix64's finaliser: a bijective scramble of 64 bits. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    @Override
    public String toString() {
        return (Double.isNaN(epsilon) ? "p=" + p + ", rescale=" + rescale : "density=" + (1 - p) + ", epsilon=" + epsilon)
                + ", seed=" + seed;
    }
}
