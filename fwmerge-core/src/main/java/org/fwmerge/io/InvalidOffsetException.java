package org.fwmerge.io;

/**
 * A tensor's {@code data_offsets} leave a gap, overlap another tensor, or end before they begin;
 * also an offset too large to be a file position.
 */
public class InvalidOffsetException extends CheckpointException {
    private static final long serialVersionUID = 1L;

    /** @param message what is wrong, naming the file, the tensor (if any) and the offending value */
    public InvalidOffsetException(String message) {
        super(message);
    }

    /**
     * @param message what is wrong, naming the file, the tensor (if any) and the offending value
     * @param cause   the underlying failure
     */
    public InvalidOffsetException(String message, Throwable cause) {
        super(message, cause);
    }
}
