package org.fwmerge.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import org.fwmerge.Model;
import org.fwmerge.internal.ReferenceBackend;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/**
 * Reading and writing safetensors checkpoints: single files, Hugging Face sharded directories and
 * PEFT LoRA adapters.
 *
 * <p>Reading validates the whole header at open, by the reference implementation's rules and in its
 * order (see {@code docs/safetensors.md}); a bad file fails with a {@link CheckpointException}
 * subtype naming the file, the tensor and the offending value. Files are opened read-only and
 * never written; tensor data are read, in ranges, only when asked for (see {@link Checkpoint#reader}).
 *
 * <p>Writing is atomic: each file is written to a temporary file in the target folder, forced to
 * disk and renamed over the target, so a reader never sees a half-written checkpoint and a failure
 * leaves an existing output untouched. Only one tensor is resident at a time.
 */
public final class Safetensors {

    /** Default shard size limit for {@link #writeSharded}: 5 GB (decimal), as Hugging Face uses. */
    public static final long DEFAULT_MAX_SHARD_BYTES = 5_000_000_000L;

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Safetensors.class);

    /** The single-file name in a checkpoint directory. */
    static final String SINGLE = "model.safetensors";

    /** Elements converted per chunk when writing. */
    private static final int CHUNK = 1 << 16;

    /** Rust's string order: by UTF-8 bytes (differs from {@link String#compareTo} above U+FFFF). */
    private static final Comparator<String> UTF8_ORDER = (x, y) -> Arrays.compareUnsigned(
            x.getBytes(StandardCharsets.UTF_8), y.getBytes(StandardCharsets.UTF_8));

    private Safetensors() {
    }

    /**
     * Opens a checkpoint: a {@code .safetensors} file, a directory holding
     * {@code model.safetensors.index.json} (sharded, read as one model), or a directory holding a
     * single {@code model.safetensors}. The caller closes it.
     *
     * @throws CheckpointException (a subtype) if the file, index or a shard is malformed
     * @throws IOException         if the path cannot be read
     */
    public static Checkpoint open(Path path) throws IOException {
        Objects.requireNonNull(path, "path");
        if (Files.isDirectory(path)) {
            if (Files.exists(path.resolve(ShardedCheckpoint.INDEX))) {
                return ShardedCheckpoint.open(path);
            }
            if (Files.exists(path.resolve(SINGLE))) {
                return SafetensorsFile.open(path.resolve(SINGLE));
            }
            if (Files.exists(path.resolve(LoraCheckpoint.CONFIG))) {
                throw new CheckpointException(path + " is a LoRA adapter directory; open it with openAdapter over its base");
            }
            throw new CheckpointException(path + " holds neither " + ShardedCheckpoint.INDEX + " nor " + SINGLE);
        }
        return SafetensorsFile.open(path);
    }

    /**
     * Opens a PEFT LoRA adapter ({@code adapter_model.safetensors} + {@code adapter_config.json})
     * over {@code base}: the result has the tensors of the base, and each adapted weight reads as
     * W + (B·A)·scaling, formed per tensor in {@code load}. scaling = lora_alpha / r, or
     * lora_alpha / √r with {@code use_rslora}; {@code rank_pattern} and {@code alpha_pattern} override
     * r and alpha per module; {@code fan_in_fan_out} transposes the delta. Closing the result closes
     * the adapter file, not the base.
     *
     * @throws CheckpointMismatchException if the adapter targets a tensor the base lacks or its factor
     *                                     shapes do not fit the base tensor (names the tensor and shapes)
     * @throws CheckpointException         for DoRA ({@code use_dora} or magnitude vectors), non-empty
     *                                     {@code modules_to_save}, or a malformed configuration or file
     */
    public static Checkpoint openAdapter(Checkpoint base, Path adapterDir) throws IOException {
        return LoraCheckpoint.open(base, adapterDir);
    }

    /**
     * Name, dtype and shape of every tensor of a checkpoint ({@link #open} rules), in name order.
     * Lists non-mergeable dtypes and tensors too large to load as well.
     *
     * @throws CheckpointException (a subtype) if the checkpoint is malformed
     */
    public static List<TensorInfo> list(Path path) throws IOException {
        try (Checkpoint c = open(path)) {
            List<TensorInfo> out = new ArrayList<>();
            for (String n : c.names()) {
                out.add(c.info(n));
            }
            return List.copyOf(out);
        }
    }

    /**
     * Writes every tensor of {@code model} to one safetensors file, atomically. Tensors are ordered
     * and the header padded the way the reference writer does (by name, spaces to a multiple of 8),
     * so equal inputs give byte-identical files.
     *
     * @param dtype    F32, F16 or BF16 (narrowing rounds to nearest even) for the floating tensors; a
     *                 tensor of another type (integers, BOOL, F8) is copied as stored, in its own dtype
     * @param metadata stored as {@code __metadata__} (omitted when empty)
     * @throws IllegalArgumentException if {@code dtype} is not F32, F16 or BF16, or {@code file} is an
     *                                  input — one of the files {@code model} reads ({@link Checkpoint#files()})
     *                                  or a file any open checkpoint of this process reads (a pool's base,
     *                                  candidates, shards, adapters), also through a link or another
     *                                  spelling — refused before anything is written
     * @throws IOException              if writing fails (the target is then left as it was) or the
     *                                  model cannot be read
     */
    public static void write(Checkpoint model, Path file, DType dtype, Map<String, String> metadata) throws IOException {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(file, "file");
        checkDType(dtype);
        refuseInputs(model, file, false);
        Map<String, String> meta = copyMetadata(metadata);
        List<String> names = new ArrayList<>(model.names());
        names.sort(UTF8_ORDER);
        writeFile(model, names, file, dtype, meta);
    }

    /**
     * Writes {@code model} in the Hugging Face sharded layout: {@code model-00001-of-0000N.safetensors}
     * files of at most {@code maxShardBytes} of tensor data each (a larger tensor gets a shard of its
     * own) and {@code model.safetensors.index.json}; a model that fits in one shard is written as
     * {@code model.safetensors} with no index. A model written earlier into {@code dir} is replaced
     * whole: once the new files are in place, the shard files the earlier index named (only those) and
     * an earlier {@code model.safetensors} are removed, so the directory holds one consistent model.
     * Shard metadata is {@code metadata} plus {@code "format": "pt"} so transformers can load the
     * files. Each file is written atomically, the index last.
     *
     * @param maxShardBytes shard size limit in bytes, e.g. {@link #DEFAULT_MAX_SHARD_BYTES}
     * @throws IllegalArgumentException if {@code dtype} is not F32, F16 or BF16, {@code maxShardBytes} is
     *                                  not positive, or {@code dir} holds an input (a file {@code model}
     *                                  reads, or that any open checkpoint of this process reads)
     */
    public static void writeSharded(Checkpoint model, Path dir, DType dtype, Map<String, String> metadata,
            long maxShardBytes) throws IOException {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(dir, "dir");
        checkDType(dtype);
        if (maxShardBytes <= 0) {
            throw new IllegalArgumentException("maxShardBytes must be positive, got " + maxShardBytes);
        }
        refuseInputs(model, dir, true);
        OpenInputs.refuseDirectory(dir);
        TreeMap<String, String> meta = new TreeMap<>(copyMetadata(metadata));
        meta.putIfAbsent("format", "pt");
        List<String> names = new ArrayList<>(model.names());
        names.sort(UTF8_ORDER);
        List<List<String>> shards = new ArrayList<>();
        List<String> current = new ArrayList<>();
        long currentBytes = 0;
        long total = 0;
        for (String name : names) {
            long bytes = writtenBytes(model.info(name), dtype);
            total = Math.addExact(total, bytes);
            if (!current.isEmpty() && currentBytes + bytes > maxShardBytes) {
                shards.add(current);
                current = new ArrayList<>();
                currentBytes = 0;
            }
            current.add(name);
            currentBytes += bytes;
        }
        shards.add(current);
        Files.createDirectories(dir);
        // An earlier model written here is replaced whole: the files its index named go once the new
        // model is complete (only those, and a single-file model.safetensors), so the directory never
        // holds stale shards beside the new index.
        java.util.Set<String> earlier = new java.util.TreeSet<>(ShardedCheckpoint.indexedFiles(dir));
        earlier.add(SINGLE);
        if (shards.size() == 1) {
            writeFile(model, shards.get(0), dir.resolve(SINGLE), dtype, meta);
            Files.deleteIfExists(dir.resolve(ShardedCheckpoint.INDEX));
            earlier.remove(SINGLE);
            deleteAll(dir, earlier);
            return;
        }
        int n = shards.size();
        TreeMap<String, String> weightMap = new TreeMap<>(UTF8_ORDER);
        for (int i = 0; i < n; i++) {
            String shardName = String.format("model-%05d-of-%05d.safetensors", i + 1, n);
            writeFile(model, shards.get(i), dir.resolve(shardName), dtype, meta);
            for (String name : shards.get(i)) {
                weightMap.put(name, shardName);
            }
        }
        StringBuilder idx = new StringBuilder();
        idx.append("{\n  \"metadata\": {\n    \"total_size\": ").append(total).append("\n  },\n  \"weight_map\": {");
        boolean first = true;
        for (Map.Entry<String, String> e : weightMap.entrySet()) {
            idx.append(first ? "\n    " : ",\n    ");
            first = false;
            StrictJson.appendString(idx, e.getKey());
            idx.append(": ");
            StrictJson.appendString(idx, e.getValue());
        }
        idx.append("\n  }\n}");
        byte[] bytes = idx.toString().getBytes(StandardCharsets.UTF_8);
        AtomicFiles.write(dir.resolve(ShardedCheckpoint.INDEX), ch -> writeFully(ch, ByteBuffer.wrap(bytes)));
        earlier.removeAll(weightMap.values());
        deleteAll(dir, earlier);
    }

    private static void deleteAll(Path dir, java.util.Set<String> names) throws IOException {
        for (String n : names) {
            Files.deleteIfExists(dir.resolve(n));
        }
    }

    /**
     * Refuses, before anything is written, a target that is one of the files {@code model} reads
     * ({@link Checkpoint#files()}: for a merge result, the whole pool) — compared as files, so a
     * symbolic link or another spelling of the path is caught — or, for a directory, one that holds
     * such a file (a sharded write replaces the files of the model already there).
     */
    private static void refuseInputs(Checkpoint model, Path target, boolean directory) throws IOException {
        if (!Files.exists(target)) {
            return;
        }
        for (Path input : model.files()) {
            if (!Files.exists(input)) {
                continue;
            }
            Path parent = input.toAbsolutePath().getParent();
            boolean clash = directory ? parent != null && Files.isSameFile(parent, target) : Files.isSameFile(input, target);
            if (clash) {
                throw new IllegalArgumentException("refusing to write " + target + ": "
                        + (directory ? "it holds " : "it is ") + input + ", an input of the model being written ("
                        + model.source() + "); choose another output path");
            }
        }
    }

    /** The dtype a tensor is written in: the requested one, or its own when it is not a floating type. */
    private static DType written(TensorInfo info, DType dtype) {
        return info.dtype().isMergeable() ? dtype : info.dtype();
    }

    private static void checkDType(DType dtype) {
        Objects.requireNonNull(dtype, "dtype");
        if (dtype != DType.F32 && dtype != DType.F16 && dtype != DType.BF16) {
            throw new IllegalArgumentException("output dtype must be F32, F16 or BF16, got " + dtype);
        }
    }

    private static Map<String, String> copyMetadata(Map<String, String> metadata) {
        Objects.requireNonNull(metadata, "metadata");
        TreeMap<String, String> out = new TreeMap<>(UTF8_ORDER);
        metadata.forEach((k, v) -> out.put(Objects.requireNonNull(k, "metadata key"),
                Objects.requireNonNull(v, "metadata value of " + k)));
        return out;
    }

    private static long writtenBytes(TensorInfo info, DType dtype) {
        return info.dtype().isMergeable() ? Math.multiplyExact(info.size(), (long) dtype.bits() / 8) : info.byteSize();
    }

    /** The header exactly as the reference writer lays it out, padded with spaces to a multiple of 8. */
    static byte[] header(Checkpoint model, List<String> names, DType dtype, Map<String, String> metadata) {
        StringBuilder sb = new StringBuilder("{");
        boolean first = true;
        if (!metadata.isEmpty()) {
            sb.append("\"__metadata__\":{");
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                if (!first) {
                    sb.append(',');
                }
                first = false;
                StrictJson.appendString(sb, e.getKey());
                sb.append(':');
                StrictJson.appendString(sb, e.getValue());
            }
            sb.append('}');
            first = false;
        }
        long offset = 0;
        for (String name : names) {
            TensorInfo info = model.info(name);
            long end = offset + writtenBytes(info, dtype);
            if (!first) {
                sb.append(',');
            }
            first = false;
            StrictJson.appendString(sb, name);
            sb.append(":{\"dtype\":\"").append(written(info, dtype).name()).append("\",\"shape\":[");
            long[] shape = info.shape();
            for (int i = 0; i < shape.length; i++) {
                sb.append(i == 0 ? "" : ",").append(shape[i]);
            }
            sb.append("],\"data_offsets\":[").append(offset).append(',').append(end).append("]}");
            offset = end;
        }
        sb.append('}');
        byte[] json = sb.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    private static void writeFile(Checkpoint model, List<String> names, Path file, DType dtype,
            Map<String, String> metadata) throws IOException {
        LOG.debug("writing {} tensors of {} to {} as {}", names.size(), model.source(), file, dtype);
        byte[] header = header(model, names, dtype, metadata);
        if (header.length > SafetensorsFile.MAX_HEADER_BYTES) {
            throw new HeaderTooLargeException(file + ": header of " + header.length + " bytes exceeds the limit of "
                    + SafetensorsFile.MAX_HEADER_BYTES + " that readers enforce");
        }
        // A model in memory is read through its own backend (a view, no copy); files through the reference one.
        TensorBackend backend = model instanceof Model m ? m.backend() : ReferenceBackend.INSTANCE;
        AtomicFiles.write(file, ch -> {
            ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length);
            prefix.flip();
            writeFully(ch, prefix);
            writeFully(ch, ByteBuffer.wrap(header));
            int width = dtype.bits() / 8;
            float[] chunk = new float[CHUNK];
            ByteBuffer buf = ByteBuffer.allocate(CHUNK * width).order(ByteOrder.LITTLE_ENDIAN);
            for (String name : names) {
                TensorInfo info = model.info(name);
                if (!info.dtype().isMergeable()) {
                    writeFully(ch, storedForWrite(model, info));
                    continue;
                }
                try (Tensor t = loadForWrite(model, name, backend)) {
                    if (!Arrays.equals(t.shape(), info.shape())) {
                        throw new CheckpointException(model.source() + ": tensor '" + name + "' loaded with shape "
                                + Arrays.toString(t.shape()) + " but is listed as " + Arrays.toString(info.shape()));
                    }
                    long n = t.size();
                    for (long off = 0; off < n; off += CHUNK) {
                        int len = (int) Math.min(CHUNK, n - off);
                        backend.get(t, off, chunk, 0, len);
                        buf.clear();
                        for (int i = 0; i < len; i++) {
                            switch (dtype) {
                                case F32 -> buf.putFloat(chunk[i]);
                                case F16 -> buf.putShort(HalfFloats.floatToHalf(chunk[i]));
                                case BF16 -> buf.putShort(HalfFloats.floatToBFloat16(chunk[i]));
                                default -> throw new AssertionError(dtype);
                            }
                        }
                        buf.flip();
                        writeFully(ch, buf);
                    }
                }
            }
        });
    }

    /** The stored bytes of a tensor that cannot be converted (integers, booleans, F8): copied as they are. */
    private static ByteBuffer storedForWrite(Checkpoint model, TensorInfo info) throws IOException {
        Optional<ByteBuffer> bytes;
        try {
            bytes = model.storedBytes(info.name());
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        if (bytes.isEmpty() || bytes.get().remaining() != info.byteSize()) {
            throw new CheckpointException(model.source() + ": tensor '" + info.name() + "' has dtype " + info.dtype()
                    + ", which is written only as it is stored, and its stored bytes are not available");
        }
        return bytes.get().duplicate();
    }

    private static Tensor loadForWrite(Checkpoint model, String name, TensorBackend backend) throws IOException {
        try {
            return model.load(name, backend);
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }
}
