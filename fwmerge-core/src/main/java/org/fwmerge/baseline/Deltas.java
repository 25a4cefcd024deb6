package org.fwmerge.baseline;

import java.util.List;
import java.util.function.ToLongFunction;
import org.fwmerge.internal.Readers;
import org.fwmerge.internal.Scratch;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.TensorReader;
import org.fwmerge.tensor.Tensor;

/**
 * Streams differences τ_i = c_i − a (task vectors, or the FW direction s − x) in chunks read from
 * the checkpoints, optionally through a DARE or DELLA {@link DropMask}: one candidate at a time
 * ({@link #stream}) or every candidate's chunk side by side ({@link #sweep}), so that the anchor
 * is read once per chunk and the chunks stay in cache. Thread-safe: each thread streams through its own
 * buffers, reused from call to call.
 */
final class Deltas {

    /** Elements per chunk of a {@link #sweep}: n candidates' chunks (16 KiB each) stay in L2 together. */
    static final int SWEEP_CHUNK = 1 << 12;

    /** Receives one chunk; {@code delta} is valid only during the call. */
    @FunctionalInterface
    interface Visitor {
        void chunk(long offset, float[] delta, int length);
    }

    /** Receives one chunk of the anchor and of every τ_i ({@code tau[i]}); valid only during the call. */
    @FunctionalInterface
    interface Sweep {
        void chunk(long offset, int length, float[] anchor, float[][] tau);
    }

    /** Per-thread anchor and candidate chunks of {@link #stream}. */
    private static final Scratch<float[][]> STREAM = new Scratch<>(() -> new float[2][Support.CHUNK]);
    /** Per-thread chunks of a {@link #sweep}, kept for the pool size last swept. */
    private static final Scratch<SweepBuffers> SWEEP = new Scratch<>(() -> new SweepBuffers(new float[0], new float[0][]));

    private record SweepBuffers(float[] anchor, float[][] tau) {
    }

    private final Checkpoint anchor;
    private final List<? extends Checkpoint> candidates;
    private final DropMask[] drops; // per candidate; null entries: plain differences
    private final ToLongFunction<String> salt;

    /**
     * @param drop null for plain differences, else the mask of every candidate
     * @param salt per tensor name, mixed into the drop streams (null: 0)
     */
    Deltas(Checkpoint anchor, List<? extends Checkpoint> candidates, DropMask drop, ToLongFunction<String> salt) {
        this(anchor, candidates, filled(candidates.size(), drop), salt);
    }

    /** Differences with a mask per candidate ({@code drops[i]} null: candidate i undropped). */
    Deltas(Checkpoint anchor, List<? extends Checkpoint> candidates, DropMask[] drops, ToLongFunction<String> salt) {
        if (drops.length != candidates.size()) {
            throw new IllegalArgumentException(drops.length + " drop masks for " + candidates.size() + " candidates");
        }
        this.anchor = anchor;
        this.candidates = candidates;
        this.drops = drops.clone();
        this.salt = salt;
    }

    private static DropMask[] filled(int n, DropMask drop) {
        DropMask[] d = new DropMask[n];
        java.util.Arrays.fill(d, drop);
        return d;
    }

    /** The same differences without drop masks. */
    Deltas plain() {
        return splittable() ? this : new Deltas(anchor, candidates, (DropMask) null, null);
    }

    /** Whether candidate i's differences go through a drop mask. */
    boolean drops(int i) {
        return drops[i] != null;
    }

    int count() {
        return candidates.size();
    }

    /**
     * Whether a tensor may be swept in several ranges at once: not through a drop mask, whose random
     * stream for (candidate, tensor) runs from the tensor's first element.
     */
    boolean splittable() {
        for (DropMask d : drops) {
            if (d != null) {
                return false;
            }
        }
        return true;
    }

    /** A range of one tensor (index into the names), the unit of parallel work. */
    record Piece(int tensor, long from, long to) {
    }

    /** Each tensor in ranges of at least {@link org.fwmerge.internal.Parallel#MIN_PER_RANGE} (whole tensors under a drop mask). */
    List<Piece> pieces(List<String> names, org.fwmerge.Model out) {
        int cores = java.util.concurrent.ForkJoinPool.getCommonPoolParallelism() + 1;
        List<Piece> pieces = new java.util.ArrayList<>();
        for (int p = 0; p < names.size(); p++) {
            long size = out.tensor(names.get(p)).size();
            int parts = splittable() ? (int) Math.max(1, Math.min(cores, size / org.fwmerge.internal.Parallel.MIN_PER_RANGE)) : 1;
            long step = (size + parts - 1) / parts;
            step = (step + Deltas.SWEEP_CHUNK - 1) / Deltas.SWEEP_CHUNK * Deltas.SWEEP_CHUNK;
            for (long from = 0; from < size || from == 0; from += step) {
                pieces.add(new Piece(p, from, Math.min(size, from + step)));
                if (step == 0) {
                    break;
                }
            }
        }
        return pieces;
    }

    /** Streams τ_i of tensor {@code name}. */
    void stream(int i, String name, Visitor v) {
        try (TensorReader at = anchor.reader(name)) {
            stream(i, name, at, v);
        }
    }

    /** Streams τ_i of tensor {@code name} against an anchor tensor in memory. */
    void stream(int i, String name, Tensor at, Visitor v) {
        stream(i, name, TensorReader.of(at, false), v);
    }

    private void stream(int i, String name, TensorReader at, Visitor v) {
        float[][] buffers = STREAM.take();
        try (TensorReader ct = candidates.get(i).reader(name)) {
            long n = ct.size();
            float[] bufA = buffers[0];
            float[] bufC = buffers[1];
            DropMask.Cursor drop = cursor(i, name, ct, at);
            for (long off = 0; off < n; off += Support.CHUNK) {
                int len = (int) Math.min(Support.CHUNK, n - off);
                at.read(off, bufA, 0, len);
                ct.read(off, bufC, 0, len);
                for (int k = 0; k < len; k++) {
                    bufC[k] -= bufA[k];
                }
                if (drop != null) {
                    drop.apply(bufC, len);
                }
                v.chunk(off, bufC, len);
            }
        } finally {
            STREAM.give(buffers);
        }
    }

    /**
     * Sweeps elements {@code [from, to)} of tensor {@code name}: per chunk, the anchor's values and
     * every τ_i. The same τ as {@link #stream} gives, drop masks included.
     *
     * @throws IllegalArgumentException if {@code from > 0} and the deltas are not {@link #splittable()}
     */
    void sweep(String name, long from, long to, Sweep s) {
        if (from != 0 && !splittable()) {
            throw new IllegalArgumentException("a drop mask is swept from the tensor's start, not from " + from);
        }
        int n = candidates.size();
        SweepBuffers buffers = SWEEP.take();
        if (buffers.tau().length != n) {
            buffers = new SweepBuffers(new float[SWEEP_CHUNK], new float[n][SWEEP_CHUNK]);
        }
        try (TensorReader at = anchor.reader(name); Readers c = Readers.open(candidates, name)) {
            float[] bufA = buffers.anchor();
            float[][] tau = buffers.tau();
            DropMask.Cursor[] drop = new DropMask.Cursor[n];
            for (int i = 0; i < n; i++) {
                drop[i] = cursor(i, name, c.all()[i], at);
            }
            for (long off = from; off < to; off += SWEEP_CHUNK) {
                int len = (int) Math.min(SWEEP_CHUNK, to - off);
                at.read(off, bufA, 0, len);
                for (int i = 0; i < n; i++) {
                    float[] v = tau[i];
                    c.all()[i].read(off, v, 0, len);
                    for (int k = 0; k < len; k++) {
                        v[k] -= bufA[k];
                    }
                    if (drop[i] != null) {
                        drop[i].apply(v, len);
                    }
                }
                s.chunk(off, len, bufA, tau);
            }
        } finally {
            SWEEP.give(buffers);
        }
    }

    /** Candidate i's drop over tensor {@code name} from its start, or null without one. */
    private DropMask.Cursor cursor(int i, String name, TensorReader candidate, TensorReader at) {
        return drops[i] == null ? null : drops[i].cursor(i, name, salt == null ? 0 : salt.applyAsLong(name),
                candidates.get(i).info(name).shape(), candidate, at);
    }
}
