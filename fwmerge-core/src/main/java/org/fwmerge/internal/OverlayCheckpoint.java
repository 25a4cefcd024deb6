package org.fwmerge.internal;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fwmerge.Model;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.TensorInfo;
import org.fwmerge.io.TensorReader;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/** The merged tensors, falling back to the base for every tensor that was not merged. */
public final class OverlayCheckpoint implements Checkpoint {
    private final Model merged;
    private final Checkpoint base;
    private final Map<String, String> metadata;
    private final List<java.nio.file.Path> inputs;

    /** @param inputs the files the merge read, which a writer must not replace */
    public OverlayCheckpoint(Model merged, Checkpoint base, Map<String, String> metadata, List<java.nio.file.Path> inputs) {
        this.merged = merged;
        this.base = base;
        this.metadata = Map.copyOf(new LinkedHashMap<>(metadata));
        this.inputs = List.copyOf(inputs);
    }

    @Override
    public String source() {
        return "merged(" + base.source() + ")";
    }

    @Override
    public List<String> names() {
        return base.names();
    }

    @Override
    public TensorInfo info(String name) {
        return merged.contains(name) ? merged.info(name) : base.info(name);
    }

    @Override
    public Tensor load(String name, TensorBackend backend) {
        return merged.contains(name) ? merged.load(name, backend) : base.load(name, backend);
    }

    @Override
    public TensorReader reader(String name) {
        return merged.contains(name) ? merged.reader(name) : base.reader(name);
    }

    @Override
    public java.util.Optional<java.nio.ByteBuffer> storedBytes(String name) {
        return merged.contains(name) ? java.util.Optional.empty() : base.storedBytes(name);
    }

    /** The files the merge read (the whole pool) and the base's. */
    @Override
    public List<java.nio.file.Path> files() {
        java.util.LinkedHashSet<java.nio.file.Path> out = new java.util.LinkedHashSet<>(inputs);
        out.addAll(base.files());
        return List.copyOf(out);
    }

    @Override
    public Map<String, String> metadata() {
        return metadata;
    }
}
