package org.fwmerge.io;

/**
 * A sharded checkpoint's {@code model.safetensors.index.json} is malformed, names a shard file that is
 * missing or not a plain file name, or disagrees with the tensors the shards hold.
 */
public class InvalidIndexException extends CheckpointException {
    private static final long serialVersionUID = 1L;

    /** @param message what is wrong, naming the file, the tensor (if any) and the offending value */
    public InvalidIndexException(String message) {
        super(message);
    }

    /**
     * @param message what is wrong, naming the file, the tensor (if any) and the offending value
     * @param cause   the underlying failure
     */
    public InvalidIndexException(String message, Throwable cause) {
        super(message, cause);
    }
}
