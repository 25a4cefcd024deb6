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
        return Float.intBitsToFloat(smallestKey(deltas, i, names, rank, false).bits());
    }

    /**
     * The position of an entry in the order of magnitudes, ties broken by {@link #hash}: entries with
     * |τ| bits above {@code bits}, or equal and with an unsigned hash ≥ {@code hash}, come at or after it.
     * {@code hash} 0 stands for the first of the tied entries, and needs no hash to test.
     */
    record Key(int bits, int hash) {
        /** Whether an entry of magnitude bits {@code b} at {@code index} comes at or after this key. */
        boolean atOrBelow(int b, long index, int salt) {
            return b > bits || b == bits && (hash == 0 || Integer.compareUnsigned(Threshold.hash(index, salt), hash) >= 0);
        }
    }

    /**
     * The entry hash that orders tied magnitudes: a bijection of the index (for tensors under 2^32 entries),
     * so that ties are broken without favouring any position; {@code salt} varies it by candidate and tensor.
     */
    static int hash(long index, int salt) {
        int h = (int) index + salt;
        h = (h ^ (h >>> 16)) * 0x85EBCA6B;
        h = (h ^ (h >>> 13)) * 0xC2B2AE35;
        return h ^ (h >>> 16);
    }

    /** The hash salt of candidate {@code i}, tensor {@code name}. */
    static int salt(int i, String name) {
        return name.hashCode() * 0x9E3779B9 + i * 0x632BE5AB;
    }

    /**
     * The key of the {@code rank}-th smallest entry (1 ≤ rank ≤ count of entries) over {@code names}:
     * its magnitude, and, with {@code exact}, its hash among the entries tied with it (two more passes,
     * only when it is not the first of them; {@code names} must then be one tensor). Without
     * {@code exact} the key is the first of the tied entries: every tie is counted in.
     */
    static Key smallestKey(Deltas deltas, int i, List<String> names, long rank, boolean exact) {
        long[] hist = HISTOGRAM.take();
        try {
            long[] remaining = {rank};
            int bits = Float.floatToRawIntBits(smallestMagnitude(deltas, i, names, remaining, hist));
            if (!exact || remaining[0] == 1) {
                return new Key(bits, 0);
            }
            if (names.size() != 1) {
                throw new IllegalArgumentException("exact ties are broken within one tensor, not " + names.size());
            }
            String name = names.get(0);
            int salt = salt(i, name);
            java.util.Arrays.fill(hist, 0);
            deltas.stream(i, name, (off, v, len) -> {
                for (int k = 0; k < len; k++) {
                    if (Float.floatToRawIntBits(Math.abs(v[k])) == bits) {
                        hist[hash(off + k, salt) >>> 16]++;
                    }
                }
            });
            int hi = find(hist, remaining);
            java.util.Arrays.fill(hist, 0);
            deltas.stream(i, name, (off, v, len) -> {
                for (int k = 0; k < len; k++) {
                    if (Float.floatToRawIntBits(Math.abs(v[k])) == bits) {
                        int h = hash(off + k, salt);
                        if (h >>> 16 == hi) {
                            hist[h & 0xFFFF]++;
                        }
                    }
                }
            });
            int lo = find(hist, remaining);
            return new Key(bits, hi << 16 | lo);
        } finally {
            HISTOGRAM.give(hist);
        }
    }

    /** The rank-th smallest magnitude; {@code remaining[0]} becomes its rank among the entries equal to it. */
    private static float smallestMagnitude(Deltas deltas, int i, List<String> names, long[] remaining, long[] hist) {
        java.util.Arrays.fill(hist, 0);
        for (String name : names) {
            deltas.stream(i, name, (off, v, len) -> {
                for (int k = 0; k < len; k++) {
                    hist[Float.floatToRawIntBits(Math.abs(v[k])) >>> 16]++;
                }
            });
        }
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
