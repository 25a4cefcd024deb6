package org.fwmerge;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.CheckpointMismatchException;
import org.fwmerge.io.TensorInfo;

/**
 * A base (pre-trained) model and the fine-tuned candidates to merge, checked against each other
 * when the pool is made and read lazily afterwards.
 *
 * <p>Every candidate must hold exactly the base's tensor names with the same shapes; the first
 * difference is reported as a {@link CheckpointMismatchException} naming the candidate, the tensor
 * and both shapes. Nothing is loaded when the pool is made: mergers stream the candidates tensor by
 * tensor, so memory does not grow with the number of candidates. Closing the pool closes every
 * checkpoint in it.
 */
public final class ModelPool implements AutoCloseable {

    private final Checkpoint base;
    private final List<Checkpoint> candidates;

    private ModelPool(Checkpoint base, List<Checkpoint> candidates) {
        this.base = base;
        this.candidates = candidates;
    }

    /**
     * A pool over already-opened checkpoints.
     *
     * @throws CheckpointMismatchException if a candidate's tensors or shapes differ from the base's
     * @throws IllegalArgumentException    if there are no candidates
     */
    public static ModelPool of(Checkpoint base, List<? extends Checkpoint> candidates) throws CheckpointMismatchException {
        Objects.requireNonNull(base, "base");
        Objects.requireNonNull(candidates, "candidates");
        if (candidates.isEmpty()) {
            throw new IllegalArgumentException("a model pool needs at least one candidate besides the base " + base.source());
        }
        List<Checkpoint> list = List.copyOf(candidates);
        for (Checkpoint c : list) {
            checkCompatible(base, c);
        }
        return new ModelPool(base, list);
    }

    /** Checks that {@code candidate} has exactly the tensors and shapes of {@code base}. */
    static void checkCompatible(Checkpoint base, Checkpoint candidate) throws CheckpointMismatchException {
        for (String name : base.names()) {
            if (!candidate.contains(name)) {
                throw new CheckpointMismatchException("candidate " + candidate.source() + " lacks tensor '" + name
                        + "' of shape " + Arrays.toString(base.info(name).shape()) + " that base " + base.source() + " has");
            }
            TensorInfo b = base.info(name);
            TensorInfo c = candidate.info(name);
            if (!b.sameShape(c)) {
                throw new CheckpointMismatchException("candidate " + candidate.source() + ": tensor '" + name + "' has shape "
                        + Arrays.toString(c.shape()) + " but base " + base.source() + " has " + Arrays.toString(b.shape()));
            }
        }
        if (candidate.names().size() != base.names().size()) {
            List<String> extra = new ArrayList<>(candidate.names());
            extra.removeAll(base.names());
            throw new CheckpointMismatchException("candidate " + candidate.source() + " has tensor '" + extra.get(0)
                    + "' of shape " + Arrays.toString(candidate.info(extra.get(0)).shape()) + " that base "
                    + base.source() + " lacks");
        }
    }

    /** The base (pre-trained) model θ₀. */
    public Checkpoint base() {
        return base;
    }

    /** The candidates θ₁…θₙ, in the order given. */
    public List<Checkpoint> candidates() {
        return candidates;
    }

    /** Number of candidates n (the base not counted). */
    public int size() {
        return candidates.size();
    }

    /** A pool over a subset of the candidates (same base), e.g. the first k for a scaling study. */
    public ModelPool subset(List<Integer> indices) {
        List<Checkpoint> sub = new ArrayList<>();
        for (int i : indices) {
            sub.add(candidates.get(i));
        }
        return new ModelPool(base, List.copyOf(sub));
    }

    /** Closes the base and every candidate. */
    @Override
    public void close() {
        base.close();
        candidates.forEach(Checkpoint::close);
    }

    @Override
    public String toString() {
        return "ModelPool[base=" + base.source() + ", " + candidates.size() + " candidates]";
    }
}
