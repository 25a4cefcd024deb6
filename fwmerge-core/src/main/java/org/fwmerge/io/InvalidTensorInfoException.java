package org.fwmerge.io;

/**
 * A tensor's byte range does not match its shape and dtype, its shape product overflows, or a
 * sub-byte dtype does not fill whole bytes.
 */
public class InvalidTensorInfoException extends CheckpointException {
    private static final long serialVersionUID = 1L;

    /** @param message what is wrong, naming the file, the tensor (if any) and the offending value */
    public InvalidTensorInfoException(String message) {
        super(message);
    }

    /**
     * @param message what is wrong, naming the file, the tensor (if any) and the offending value
     * @param cause   the underlying failure
     */
    public InvalidTensorInfoException(String message, Throwable cause) {
        super(message, cause);
    }
}
