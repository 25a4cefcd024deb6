package org.fwmerge;

import java.util.List;
import java.util.Objects;
import org.fwmerge.internal.SumObjective;

/**
 * The loss ℓ(θ, D) that merging minimises, with its gradient. The calibration data D live inside
 * the objective.
 *
 * <p>The point {@code x} holds exactly the tensors being merged (see
 * {@link FrankWolfeMerger.Builder#parameters(ParameterSelection)}); an objective keeps any other weights (task heads,
 * frozen parts) itself. Implementations must not modify {@code x}, must return a gradient tensor for
 * every tensor of {@code x} (same shape, same backend), and must be safe to call from several
 * threads. Non-finite values are caught by the merger, which stops with an exception naming the
 * iteration.
 *
 * <p>An objective that is a sum of per-task losses exposes them through {@link #terms()}; the
 * per-task soft LMO ({@link SoftOptions#perTask()}) uses each term's gradient to pick one checkpoint per task.
 *
 * <p>A wrong gradient does not make a merge fail, it makes it wrong: unit-test a new objective with
 * {@link org.fwmerge.testing.ObjectiveCheck#verify(Objective, Model)}, which compares the gradient with
 * finite differences of the loss and checks the rest of this contract.
 */
public interface Objective {

    /** ℓ(x): the loss at {@code x}. */
    double loss(Model x);

    /**
     * ℓ(x) and ∇ℓ(x). The caller owns the returned gradient tensors and closes them.
     */
    Evaluation evaluate(Model x);

    /**
     * This objective on a random minibatch of its samples, for one inner step of FW-soft or
     * AdaMerging ({@link CoefficientOptions#withBatchSize}): {@code size} samples drawn without
     * replacement with {@code random}, the loss being the same mean over them. The default — for an
     * objective without samples, or when it has at most {@code size} — is the objective itself; a sum
     * draws a batch of each term.
     *
     * @param size   samples to draw, ≥ 1
     * @param random the source of the draw (seeded by the caller, so runs repeat)
     */
    default Objective minibatch(int size, java.util.random.RandomGenerator random) {
        return this;
    }

    /** The per-task terms whose sum this objective is; empty if it is not such a sum. */
    default List<Objective> terms() {
        return List.of();
    }

    /**
     * ℓ(x) = Σ_k ℓ_k(x). Its {@link #terms()} are the given objectives, so the per-task LMO can use them.
     *
     * @throws IllegalArgumentException if {@code terms} is empty
     */
    static Objective sum(List<? extends Objective> terms) {
        Objects.requireNonNull(terms, "terms");
        if (terms.isEmpty()) {
            throw new IllegalArgumentException("a sum objective needs at least one term");
        }
        return new SumObjective(List.copyOf(terms));
    }
}
