package org.fwmerge.examples.zoo;

import java.util.List;
import java.util.random.RandomGenerator;
import org.fwmerge.Evaluation;
import org.fwmerge.Model;
import org.fwmerge.Objective;

/**
 * Several tasks' calibration loss evaluated by one graph: ℓ = (1/K) Σ_k ℓ_k, the mean over every
 * task's samples (each task has as many), with the K tasks' own objectives ℓ_k as its {@link #terms()}
 * for the per-task LMO. It exists for speed: a SameDiff call costs milliseconds of set-up whatever its
 * size, so one call over K tasks' samples is about K times faster than {@link Objective#sum} of K
 * single-task objectives, while its minima and gradient directions are the sum's.
 */
final class MultiTaskObjective implements Objective {

    private final Objective whole;
    private final List<Objective> terms;

    MultiTaskObjective(Objective whole, List<Objective> terms) {
        this.whole = whole;
        this.terms = List.copyOf(terms);
    }

    @Override
    public double loss(Model x) {
        return whole.loss(x);
    }

    @Override
    public Evaluation evaluate(Model x) {
        return whole.evaluate(x);
    }

    /** {@code size} samples per task on average: {@code size · K} drawn from all tasks' samples. */
    @Override
    public Objective minibatch(int size, RandomGenerator random) {
        return new MultiTaskObjective(whole.minibatch(size * terms.size(), random), terms);
    }

    @Override
    public List<Objective> terms() {
        return terms;
    }

    @Override
    public String toString() {
        return "mean of " + terms.size() + " tasks' losses (" + whole + ")";
    }
}
