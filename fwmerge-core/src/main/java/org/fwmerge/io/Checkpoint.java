package org.fwmerge.io;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Map;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/**
 * A read-only, lazily loaded set of named tensors: a safetensors file, a sharded directory, a base
 * model plus a LoRA adapter, or a model held in memory.
 *
 * <p>Opening a checkpoint validates its structure; tensor data are read only when
 * {@link #load} asks for them, so a pool of many large checkpoints costs no memory until used.
 * Implementations are thread-safe.
 */
public interface Checkpoint extends AutoCloseable {

    /** Where this checkpoint comes from (a path, or a description), used in messages and provenance. */
    String source();

    /** Tensor names in a stable order (sorted by name for files). */
    List<String> names();

    /**
     * Name, stored dtype and shape of a tensor.
     *
     * @throws IllegalArgumentException if there is no such tensor
     */
    TensorInfo info(String name);

    /** Whether a tensor of this name exists. */
    default boolean contains(String name) {
        return names().contains(name);
    }

    /**
     * The tensor's values converted to float32, as a read-only tensor of {@code backend} holding a
     * copy: the whole tensor in memory, which merging kernels avoid by streaming {@link #reader}
     * instead. The caller owns the returned tensor and should close it when done so native memory
     * is released at once.
     *
     * @throws IllegalArgumentException       if there is no such tensor
     * @throws java.io.UncheckedIOException   wrapping a {@link CheckpointException} if the dtype is
     *                                        not mergeable, or an I/O error while reading
     */
    Tensor load(String name, TensorBackend backend);

    /**
     * Chunked access to the tensor's values as float32, for kernels that stream a candidate instead
     * of holding it: a file reads each requested range from disk (converting F16/BF16/F64 as it
     * goes), so its memory does not grow with what has been read. The default loads the tensor with
     * the reference backend and serves ranges from it (fine for models in memory); the caller closes
     * the reader.
     *
     * @throws IllegalArgumentException     if there is no such tensor
     * @throws java.io.UncheckedIOException wrapping a {@link CheckpointException} if the dtype is not
     *                                      mergeable
     */
    default TensorReader reader(String name) {
        return TensorReader.of(load(name, org.fwmerge.tensor.TensorBackends.reference()), true);
    }

    /** The string metadata stored with the checkpoint (empty if none). */
    Map<String, String> metadata();

    /**
     * The tensor's bytes exactly as stored — its own dtype, little-endian, {@code info(name).byteSize()}
     * of them — when this checkpoint holds them so (a file); empty when it does not (a model in memory,
     * a LoRA-adapted weight formed on demand). Writers use it to pass tensors that are not merged and
     * cannot be converted to float32 (integers, booleans, F8) through unchanged.
     *
     * @throws IllegalArgumentException     if there is no such tensor
     * @throws java.io.UncheckedIOException if the bytes cannot be read
     */
    default Optional<ByteBuffer> storedBytes(String name) {
        info(name);
        return Optional.empty();
    }

    /**
     * The files this checkpoint reads (empty for one held in memory). Writers refuse to write over any
     * of them, so an output can never replace an input.
     */
    default List<Path> files() {
        return List.of();
    }

    /** Closes the files; tensors already loaded stay valid (they are copies), readers do not. */
    @Override
    default void close() {
    }
}
