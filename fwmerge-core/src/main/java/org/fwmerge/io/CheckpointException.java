package org.fwmerge.io;

import java.io.IOException;

/**
 * A checkpoint file or directory is malformed, inconsistent with the others in a pool, or holds
 * data that cannot be merged. The message names the file, the tensor and the offending value.
 * Subclasses tell the kind of problem apart.
 */
public class CheckpointException extends IOException {
    private static final long serialVersionUID = 1L;

    /** @param message what is wrong, naming file, tensor and value */
    public CheckpointException(String message) {
        super(message);
    }

    /**
     * @param message what is wrong, naming file, tensor and value
     * @param cause   the underlying failure
     */
    public CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }
}
