package org.fwmerge.baseline;

import java.util.List;
import java.util.SplittableRandom;
import java.util.function.ToLongFunction;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.TensorReader;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/**
 * Streams differences τ_i = c_i − a (task vectors, or the FW direction s − x) tensor by tensor in
 * chunks of {@link Support#CHUNK} floats, optionally through a DARE {@link DropMask}. Only the anchor's
 * and one candidate's tensor are open at a time. One instance per merge call (it owns its buffers).
 */
final class Deltas {

    /** Receives one chunk; {@code delta} is valid only during the call. */
    @FunctionalInterface
    interface Visitor {
        void chunk(long offset, float[] delta, int length);
    }

    private final TensorBackend b;
    private final Checkpoint anchor;
    private final List<? extends Checkpoint> candidates;
    private final DropMask drop;
    private final ToLongFunction<String> salt;
    private final float[] bufA = new float[Support.CHUNK];
    private final float[] bufC = new float[Support.CHUNK];

    /**
     * @param drop null for plain differences
     * @param salt per tensor name, mixed into the drop streams (null: 0)
     */
    Deltas(TensorBackend b, Checkpoint anchor, List<? extends Checkpoint> candidates, DropMask drop,
            ToLongFunction<String> salt) {
        this.b = b;
        this.anchor = anchor;
        this.candidates = candidates;
        this.drop = drop;
        this.salt = salt;
    }

    int count() {
        return candidates.size();
    }

    /** Streams τ_i of tensor {@code name}, loading (and closing) that tensor of the anchor and of candidate i. */
    void stream(int i, String name, Visitor v) {
        try (TensorReader at = anchor.reader(name)) {
            stream(i, name, at, v);
        }
    }

    /** Streams τ_i of tensor {@code name} with the anchor tensor already open. */
    void stream(int i, String name, Tensor at, Visitor v) {
        stream(i, name, TensorReader.of(at, false), v);
    }

    private void stream(int i, String name, TensorReader at, Visitor v) {
        try (TensorReader ct = candidates.get(i).reader(name)) {
            stream(i, name, at, ct, v);
        }
    }

    private void stream(int i, String name, TensorReader at, TensorReader ct, Visitor v) {
        long n = ct.size();
        SplittableRandom rng = drop == null ? null : drop.stream(i, name, salt == null ? 0 : salt.applyAsLong(name));
        for (long off = 0; off < n; off += Support.CHUNK) {
            int len = (int) Math.min(Support.CHUNK, n - off);
            at.read(off, bufA, 0, len);
            ct.read(off, bufC, 0, len);
            for (int k = 0; k < len; k++) {
                bufC[k] -= bufA[k];
            }
            if (rng != null) {
                drop.apply(rng, bufC, len);
            }
            v.chunk(off, bufC, len);
        }
    }
}
