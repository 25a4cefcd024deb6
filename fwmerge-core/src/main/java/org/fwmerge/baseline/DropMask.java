package org.fwmerge.baseline;

import java.util.SplittableRandom;

/**
 * DARE's random drop: each entry is kept when a uniform draw u ∈ [0, 1) satisfies u ≥ p (the
 * reference code keeps {@code rand > p}; the two differ only on a set of probability zero), and a kept
 * entry is multiplied by 1/(1 − p) when rescaling. The draws for candidate i and tensor {@code name}
 * come from their own {@link SplittableRandom} stream seeded from (seed, i, name, salt) and are
 * consumed in element order, so the mask depends neither on chunk sizes nor on how often or in which
 * order tensors are visited.
 */
final class DropMask {
    final double p;
    final boolean rescale;
    final long seed;
    private final float factor;

    DropMask(double p, boolean rescale, long seed) {
        this.p = p;
        this.rescale = rescale;
        this.seed = seed;
        this.factor = rescale ? (float) (1.0 / (1.0 - p)) : 1f;
    }

    /** The stream for candidate {@code i}, tensor {@code name}; {@code salt} separates calls (0 for mergers). */
    SplittableRandom stream(int i, String name, long salt) {
        long h = mix(seed ^ 0x9E3779B97F4A7C15L);
        h = mix(h ^ (i * 0xC2B2AE3D27D4EB4FL));
        h = mix(h ^ name.hashCode());
        h = mix(h ^ salt);
        return new SplittableRandom(h);
    }

    /** Applies the mask in place to {@code v[0..len)}, drawing {@code len} numbers from {@code rng}. */
    void apply(SplittableRandom rng, float[] v, int len) {
        for (int k = 0; k < len; k++) {
            v[k] = rng.nextDouble() >= p ? v[k] * factor : 0f;
        }
    }

    /** SplitMix64's finaliser: a bijective scramble of 64 bits. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    @Override
    public String toString() {
        return "p=" + p + ", rescale=" + rescale + ", seed=" + seed;
    }
}
