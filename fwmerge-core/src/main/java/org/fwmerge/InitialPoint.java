package org.fwmerge;

import java.util.Objects;
import org.fwmerge.io.Checkpoint;

/**
 * Where Frank-Wolfe starts: the base model (default), a given checkpoint, or the output of another
 * merger (the paper's best vision result starts from AdaMerging). A start that is not one of the
 * pool's vertices is added to the vertex set (Algorithm 1 line 1), so the iterates stay in the hull
 * of the pool plus the start. Immutable.
 */
public final class InitialPoint {

    private static final InitialPoint BASE = new InitialPoint(null, null);

    private final Checkpoint checkpoint;
    private final Merger merger;

    private InitialPoint(Checkpoint checkpoint, Merger merger) {
        this.checkpoint = checkpoint;
        this.merger = merger;
    }

    /** The pool's base (pre-trained) model θ₀. */
    public static InitialPoint base() {
        return BASE;
    }

    /** A given model (must have the pool's merged tensors and shapes). */
    public static InitialPoint of(Checkpoint checkpoint) {
        return new InitialPoint(Objects.requireNonNull(checkpoint, "checkpoint"), null);
    }

    /** The model another merger produces on the same pool. */
    public static InitialPoint from(Merger merger) {
        return new InitialPoint(null, Objects.requireNonNull(merger, "merger"));
    }

    /** Whether this is the base model. */
    public boolean isBase() {
        return checkpoint == null && merger == null;
    }

    /** The fixed checkpoint, or null. */
    Checkpoint checkpoint() {
        return checkpoint;
    }

    /** The merger, or null. */
    Merger merger() {
        return merger;
    }

    @Override
    public String toString() {
        return isBase() ? "base" : checkpoint != null ? "checkpoint(" + checkpoint.source() + ")" : "merger(" + merger + ")";
    }
}
