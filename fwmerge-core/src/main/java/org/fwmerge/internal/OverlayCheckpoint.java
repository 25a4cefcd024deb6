package org.fwmerge.internal;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fwmerge.Model;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.TensorInfo;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/** The merged tensors, falling back to the base for every tensor that was not merged. */
public final class OverlayCheckpoint implements Checkpoint {
    private final Model merged;
    private final Checkpoint base;
    private final Map<String, String> metadata;

    public OverlayCheckpoint(Model merged, Checkpoint base, Map<String, String> metadata) {
        this.merged = merged;
        this.base = base;
        this.metadata = Map.copyOf(new LinkedHashMap<>(metadata));
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
    public Map<String, String> metadata() {
        return metadata;
    }
}
