package org.fwmerge.baseline;

import java.util.List;
import org.fwmerge.internal.Scratch;

/**
 * Exact order statistics of |τ_i| without holding τ_i: a two-pass radix selection over the bits of
 * the float magnitudes (non-negative floats order like their bit patterns). Pass 1 counts the high
 * 16 bits, pass 2 the low 16 bits of the entries in the chosen high bucket; each pass streams τ_i
 * once, with a fixed 2^16-entry histogram as the only state.
 */
final class Threshold {

    private static final int BUCKETS = 1 << 16;

    /** Per-thread histogram (512 KiB): one per candidate and pass would be garbage growing with the pool. */
    private static final Scratch<long[]> HISTOGRAM = new Scratch<>(() -> new long[BUCKETS]);

    private Threshold() {
    }

    /**
     * The rank (1-based, ascending) of the threshold for keeping the top fraction {@code k} of
     * {@code d} entries, as the TIES reference code computes it: {@code keep = int(d·k)},
     * rank = d − keep, then every entry with |τ| ≥ the rank-th smallest magnitude is kept. Returns 0
     * when the rank would be 0 (k = 1: keep every entry).
     */
    static long rank(long d, double k) {
        long keep = (long) (d * k);
        return d - keep;
    }

    /** The {@code rank}-th smallest |τ_i| (1 ≤ rank ≤ count of entries) over {@code names}. */
    static float smallestMagnitude(Deltas deltas, int i, List<String> names, long rank) {
        long[] hist = HISTOGRAM.take();
        try {
            return smallestMagnitude(deltas, i, names, rank, hist);
        } finally {
            HISTOGRAM.give(hist);
        }
    }

    private static float smallestMagnitude(Deltas deltas, int i, List<String> names, long rank, long[] hist) {
        java.util.Arrays.fill(hist, 0);
        for (String name : names) {
            deltas.stream(i, name, (off, v, len) -> {
                for (int k = 0; k < len; k++) {
                    hist[Float.floatToRawIntBits(Math.abs(v[k])) >>> 16]++;
                }
            });
        }
        long[] remaining = {rank};
        int hi = find(hist, remaining);
        java.util.Arrays.fill(hist, 0);
        for (String name : names) {
            deltas.stream(i, name, (off, v, len) -> {
                for (int k = 0; k < len; k++) {
                    int bits = Float.floatToRawIntBits(Math.abs(v[k]));
                    if (bits >>> 16 == hi) {
                        hist[bits & 0xFFFF]++;
                    }
                }
            });
        }
        int lo = find(hist, remaining);
        return Float.intBitsToFloat(hi << 16 | lo);
    }

    /** The bucket holding the remaining[0]-th element; remaining[0] becomes the rank within it. */
    private static int find(long[] hist, long[] remaining) {
        long r = remaining[0];
        for (int h = 0; h < hist.length; h++) {
            if (r <= hist[h]) {
                remaining[0] = r;
                return h;
            }
            r -= hist[h];
        }
        throw new IllegalStateException("rank " + remaining[0] + " exceeds the number of entries");
    }
}
