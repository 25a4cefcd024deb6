package org.fwmerge.internal;

import java.util.Arrays;
import org.fwmerge.Evaluation;
import org.fwmerge.Model;
import org.fwmerge.NonFiniteValueException;
import org.fwmerge.tensor.Tensor;

/**
 * Checks what a user's objective returns: a finite loss, a gradient for every merged tensor with the
 * right shape and backend, and finite gradient values (checked through ‖g‖², one BLAS pass).
 * Failures name the phase and iteration.
 */
public final class Guard {
    private final String phase;
    private final String step;

    public Guard(String phase) {
        this(phase, "iteration");
    }

    private Guard(String phase, String step) {
        this.phase = phase;
        this.step = step;
    }

    /**
     * A guard for the inner optimisation of one outer iteration (FW-soft's coefficient descent): its
     * messages name both, "FW-soft iteration 3, inner step 17".
     */
    public Guard inner(int iteration) {
        return new Guard(phase + " iteration " + iteration + ",", "inner step");
    }

    /** @return the loss, if finite */
    public double loss(double loss, int iteration) {
        if (!Double.isFinite(loss)) {
            throw new NonFiniteValueException("the objective returned a non-finite loss " + loss + " at " + phase
                    + " " + step + " " + iteration);
        }
        return loss;
    }

    /** @return the evaluation's loss, after checking it and its gradient against {@code x} */
    public double evaluation(Evaluation e, Model x, int iteration) {
        loss(e.loss(), iteration);
        for (String name : x.names()) {
            Tensor g = e.gradient().get(name);
            if (g == null) {
                throw new IllegalStateException("the objective returned no gradient for tensor '" + name + "' at "
                        + phase + " " + step + " " + iteration);
            }
            long[] want = x.tensor(name).shape();
            if (!Arrays.equals(g.shape(), want) || g.backend() != x.backend()) {
                throw new IllegalStateException("the objective's gradient for tensor '" + name + "' has shape "
                        + Arrays.toString(g.shape()) + " on backend " + g.backend().name() + ", expected "
                        + Arrays.toString(want) + " on " + x.backend().name() + " (" + phase + " " + step + " " + iteration + ")");
            }
            double sq = x.backend().dot(g, g);
            if (!Double.isFinite(sq)) {
                throw new NonFiniteValueException("the objective returned a non-finite gradient for tensor '" + name
                        + "' at " + phase + " " + step + " " + iteration);
            }
        }
        return e.loss();
    }
}
