package org.fwmerge.io;

/**
 * Checkpoints that should describe the same architecture do not: a tensor is missing or extra, or
 * shapes differ. The message names the candidate, the tensor and both shapes.
 */
public class CheckpointMismatchException extends CheckpointException {
    private static final long serialVersionUID = 1L;

    /** @param message what differs, naming candidate, tensor and shapes */
    public CheckpointMismatchException(String message) {
        super(message);
    }
}
