package org.fwmerge;

/**
 * An objective returned NaN or infinity during a merge; the message names the tensor (for a
 * gradient), the phase and the iteration. The merge stops: continuing would spread NaN through the model.
 */
public final class NonFiniteValueException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    /** @param message what was non-finite, where and when */
    public NonFiniteValueException(String message) {
        super(message);
    }
}
