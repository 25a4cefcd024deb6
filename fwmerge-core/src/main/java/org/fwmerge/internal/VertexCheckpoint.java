package org.fwmerge.internal;

import java.util.List;
import java.util.Map;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.TensorInfo;
import org.fwmerge.io.TensorReader;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/**
 * A vertex assembled block by block from different checkpoints (layer-wise LMO): tensor p is read
 * from {@code vertices.get(choice[block of p])} when asked for, so nothing is held.
 */
public final class VertexCheckpoint implements Checkpoint {
    private final List<? extends Checkpoint> vertices;
    private final BlockLayout layout;
    private final int[] choice;
    private final Map<String, Integer> tensorIndex;

    public VertexCheckpoint(List<? extends Checkpoint> vertices, BlockLayout layout, int[] choice,
            Map<String, Integer> tensorIndex) {
        this.vertices = vertices;
        this.layout = layout;
        this.choice = choice.clone();
        this.tensorIndex = tensorIndex;
    }

    private Checkpoint owner(String name) {
        Integer p = tensorIndex.get(name);
        if (p == null) {
            throw new IllegalArgumentException("vertex has no merged tensor '" + name + "'");
        }
        return vertices.get(choice[layout.blockOf(p)]);
    }

    @Override
    public String source() {
        return "vertex" + java.util.Arrays.toString(choice);
    }

    @Override
    public List<String> names() {
        return layout.tensors();
    }

    @Override
    public TensorInfo info(String name) {
        return owner(name).info(name);
    }

    @Override
    public Tensor load(String name, TensorBackend backend) {
        return owner(name).load(name, backend);
    }

    @Override
    public TensorReader reader(String name) {
        return owner(name).reader(name);
    }

    @Override
    public Map<String, String> metadata() {
        return Map.of();
    }
}
