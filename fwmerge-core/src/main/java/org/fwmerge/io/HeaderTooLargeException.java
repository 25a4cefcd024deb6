package org.fwmerge.io;

/**
 * A safetensors header length exceeds the 100,000,000-byte limit of the reference implementation
 * (checked before anything of that size is allocated).
 */
public class HeaderTooLargeException extends CheckpointException {
    private static final long serialVersionUID = 1L;

    /** @param message what is wrong, naming the file, the tensor (if any) and the offending value */
    public HeaderTooLargeException(String message) {
        super(message);
    }

    /**
     * @param message what is wrong, naming the file, the tensor (if any) and the offending value
     * @param cause   the underlying failure
     */
    public HeaderTooLargeException(String message, Throwable cause) {
        super(message, cause);
    }
}
