package org.fwmerge.io;

/**
 * The data buffer is not exactly as long as the header says: the file was truncated or has trailing
 * bytes after the last tensor.
 */
public class IncompleteBufferException extends CheckpointException {
    private static final long serialVersionUID = 1L;

    /** @param message what is wrong, naming the file, the tensor (if any) and the offending value */
    public IncompleteBufferException(String message) {
        super(message);
    }

    /**
     * @param message what is wrong, naming the file, the tensor (if any) and the offending value
     * @param cause   the underlying failure
     */
    public IncompleteBufferException(String message, Throwable cause) {
        super(message, cause);
    }
}
