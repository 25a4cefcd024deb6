package org.fwmerge.io;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/**
 * A Hugging Face sharded checkpoint: {@code model.safetensors.index.json} plus the shard files its
 * {@code weight_map} names, read as one model. The index and every shard are validated at open;
 * the index must agree exactly with what the shards hold.
 */
final class ShardedCheckpoint implements Checkpoint {

    /** The index file name Hugging Face uses. */
    static final String INDEX = "model.safetensors.index.json";

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ShardedCheckpoint.class);

    private final String source;
    private final List<SafetensorsFile> shards;
    private final TreeMap<String, SafetensorsFile> byTensor;
    private final Map<String, String> metadata;
    private final OpenInputs.Registration index;

    private ShardedCheckpoint(String source, List<SafetensorsFile> shards, TreeMap<String, SafetensorsFile> byTensor,
            OpenInputs.Registration index) {
        this.source = source;
        this.index = index;
        this.shards = shards;
        this.byTensor = byTensor;
        this.metadata = mergedMetadata(source, shards);
    }

    /**
     * Every shard's {@code __metadata__} together. Shards written together carry the same entries; where
     * two shards give one key different values (shards of different saves mixed in one directory, or a
     * writer that labels each shard), the first shard in index order wins and the conflict is logged as
     * a warning naming the key, both values and both files.
     */
    private static Map<String, String> mergedMetadata(String source, List<SafetensorsFile> shards) {
        Map<String, String> merged = new java.util.LinkedHashMap<>();
        Map<String, Path> from = new java.util.HashMap<>();
        for (SafetensorsFile shard : shards) {
            for (Map.Entry<String, String> e : shard.metadata().entrySet()) {
                String earlier = merged.putIfAbsent(e.getKey(), e.getValue());
                if (earlier == null) {
                    from.put(e.getKey(), shard.path());
                } else if (!earlier.equals(e.getValue())) {
                    LOG.warn("{}: metadata key '{}' is '{}' in {} but '{}' in {}; keeping the first", source, e.getKey(),
                            earlier, from.get(e.getKey()).getFileName(), e.getValue(), shard.path().getFileName());
                }
            }
        }
        return java.util.Collections.unmodifiableMap(merged);
    }

    /** Opens the sharded checkpoint in {@code dir} (which holds {@link #INDEX}). */
    static ShardedCheckpoint open(Path dir) throws IOException {
        Path index = dir.resolve(INDEX);
        String where = index.toString();
        Object root;
        try {
            root = StrictJson.parse(StrictJson.decodeUtf8(Files.readAllBytes(index)));
        } catch (StrictJson.SyntaxException e) {
            throw new InvalidIndexException(where + ": invalid JSON: " + e.getMessage(), e);
        }
        if (!(root instanceof Map<?, ?> top) || !(top.get("weight_map") instanceof Map<?, ?> weightMap)) {
            throw new InvalidIndexException(where + ": expected an object with a \"weight_map\" object");
        }
        // Validate every file name before touching the file system: names come from an untrusted file.
        TreeMap<String, String> fileOf = new TreeMap<>();
        for (Map.Entry<?, ?> e : weightMap.entrySet()) {
            String tensor = (String) e.getKey();
            if (!(e.getValue() instanceof String f)) {
                throw new InvalidIndexException(where + ": tensor '" + tensor + "' maps to " + e.getValue()
                        + ", not a file name");
            }
            checkShardName(where, tensor, f);
            fileOf.put(tensor, f);
        }
        if (fileOf.isEmpty()) {
            throw new InvalidIndexException(where + ": weight_map is empty");
        }
        LinkedHashMap<String, SafetensorsFile> opened = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, String> e : fileOf.entrySet()) {
                String f = e.getValue();
                if (opened.containsKey(f)) {
                    continue;
                }
                Path shard = dir.resolve(f);
                if (!Files.isRegularFile(shard)) { // follows links: the Hugging Face cache links shards to blobs
                    throw new InvalidIndexException(where + ": tensor '" + e.getKey() + "' is in shard \"" + f
                            + "\", which does not exist in " + dir);
                }
                opened.put(f, SafetensorsFile.open(shard));
            }
            TreeMap<String, SafetensorsFile> byTensor = new TreeMap<>();
            for (Map.Entry<String, String> e : fileOf.entrySet()) {
                SafetensorsFile shard = opened.get(e.getValue());
                if (!shard.contains(e.getKey())) {
                    throw new InvalidIndexException(where + ": tensor '" + e.getKey() + "' is listed in shard \""
                            + e.getValue() + "\" but " + shard.source() + " does not hold it");
                }
                byTensor.put(e.getKey(), shard);
            }
            for (Map.Entry<String, SafetensorsFile> s : opened.entrySet()) {
                for (String name : s.getValue().names()) {
                    String listed = fileOf.get(name);
                    if (!s.getKey().equals(listed)) {
                        throw new InvalidIndexException(where + ": tensor '" + name + "' is in shard " + s.getValue().source()
                                + (listed == null ? " but not in the index" : " but the index places it in \"" + listed + "\""));
                    }
                }
            }
            checkTotalSize(where, top.get("metadata"));
            return new ShardedCheckpoint(dir.toString(), List.copyOf(opened.values()), byTensor, OpenInputs.register(index));
        } catch (IOException | RuntimeException e) {
            opened.values().forEach(SafetensorsFile::close);
            throw e;
        }
    }

    /**
     * The shard files the index in {@code dir} names (plain names only), for a writer replacing that
     * model; empty when there is no index, and when it cannot be read (logged: those files are then left).
     */
    static java.util.Set<String> indexedFiles(Path dir) {
        Path index = dir.resolve(INDEX);
        if (!Files.exists(index)) {
            return java.util.Set.of();
        }
        try {
            Object root = StrictJson.parse(StrictJson.decodeUtf8(Files.readAllBytes(index)));
            java.util.Set<String> out = new java.util.TreeSet<>();
            if (root instanceof Map<?, ?> top && top.get("weight_map") instanceof Map<?, ?> weightMap) {
                for (Map.Entry<?, ?> e : weightMap.entrySet()) {
                    if (e.getValue() instanceof String f) {
                        checkShardName(index.toString(), String.valueOf(e.getKey()), f);
                        out.add(f);
                    }
                }
            }
            return out;
        } catch (IOException | StrictJson.SyntaxException | RuntimeException e) {
            LOG.warn("{}: cannot read the earlier index ({}); the shard files it names are left in place", index,
                    e.getMessage());
            return java.util.Set.of();
        }
    }

    /** Refuses names that could point outside the directory: absolute, "..", or with a separator. */
    private static void checkShardName(String where, String tensor, String f) throws InvalidIndexException {
        if (f.isEmpty() || f.equals(".") || f.equals("..") || f.contains("/") || f.contains("\\")
                || f.indexOf('\0') >= 0 || Path.of(f).isAbsolute() || f.contains(":")) {
            throw new InvalidIndexException(where + ": tensor '" + tensor + "' maps to \"" + f
                    + "\", which is not a plain file name in the checkpoint directory");
        }
    }

    /** total_size, when present, must be a non-negative integer; it is informative and not compared. */
    private static void checkTotalSize(String where, Object metadata) throws InvalidIndexException {
        if (metadata instanceof Map<?, ?> m && m.containsKey("total_size")) {
            BigInteger total = StrictJson.unsigned64(m.get("total_size"));
            if (total == null) {
                throw new InvalidIndexException(where + ": metadata.total_size " + m.get("total_size")
                        + " is not a non-negative integer");
            }
        }
    }

    @Override
    public String source() {
        return source;
    }

    @Override
    public List<String> names() {
        return List.copyOf(byTensor.keySet());
    }

    @Override
    public TensorInfo info(String name) {
        return shard(name).info(name);
    }

    @Override
    public boolean contains(String name) {
        return byTensor.containsKey(name);
    }

    @Override
    public Tensor load(String name, TensorBackend backend) {
        return shard(name).load(name, backend);
    }

    @Override
    public TensorReader reader(String name) {
        return shard(name).reader(name);
    }

    @Override
    public java.util.Optional<java.nio.ByteBuffer> storedBytes(String name) {
        return shard(name).storedBytes(name);
    }

    /** The index and every shard file. */
    @Override
    public List<Path> files() {
        List<Path> out = new ArrayList<>();
        out.add(Path.of(source).resolve(INDEX));
        out.addAll(shardPaths());
        return List.copyOf(out);
    }

    private SafetensorsFile shard(String name) {
        Objects.requireNonNull(name, "name");
        SafetensorsFile s = byTensor.get(name);
        if (s == null) {
            throw new IllegalArgumentException(source + " has no tensor '" + name + "'");
        }
        return s;
    }

    /**
     * The {@code __metadata__} of all shards together: each key once, with the value of the first shard
     * (in index order) that has it; a key with different values in two shards is logged as a warning.
     */
    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    /** The shard files, in index order. */
    List<Path> shardPaths() {
        List<Path> out = new ArrayList<>();
        shards.forEach(s -> out.add(s.path()));
        return out;
    }

    @Override
    public void close() {
        index.close();
        shards.forEach(SafetensorsFile::close);
    }

    @Override
    public String toString() {
        return "ShardedCheckpoint[" + source + ", " + shards.size() + " shards, " + byTensor.size() + " tensors]";
    }
}
