package org.fwmerge.io;

/**
 * A safetensors header cannot be read: the file is shorter than the 8-byte length prefix, the
 * header length runs past the end of the file, the header is not valid UTF-8, or its JSON is malformed
 * or not of the expected shape (unknown dtype, missing field, non-integer number, duplicate key...).
 */
public class InvalidHeaderException extends CheckpointException {
    private static final long serialVersionUID = 1L;

    /** @param message what is wrong, naming the file, the tensor (if any) and the offending value */
    public InvalidHeaderException(String message) {
        super(message);
    }

    /**
     * @param message what is wrong, naming the file, the tensor (if any) and the offending value
     * @param cause   the underlying failure
     */
    public InvalidHeaderException(String message, Throwable cause) {
        super(message, cause);
    }
}
