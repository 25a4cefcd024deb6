package org.fwmerge.internal;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fwmerge.BlockPartition;

/** The merged tensor names grouped into blocks, in first-appearance order. */
public final class BlockLayout {
    private final List<String> tensors;
    private final List<String> blocks;
    private final int[] blockOfTensor;

    public BlockLayout(List<String> tensors, BlockPartition partition) {
        this.tensors = List.copyOf(tensors);
        Map<String, Integer> index = new LinkedHashMap<>();
        blockOfTensor = new int[tensors.size()];
        for (int p = 0; p < tensors.size(); p++) {
            String block = partition.blockOf(tensors.get(p));
            Integer b = index.get(block);
            if (b == null) {
                b = index.size();
                index.put(block, b);
            }
            blockOfTensor[p] = b;
        }
        blocks = List.copyOf(new ArrayList<>(index.keySet()));
    }

    /** Merged tensor names. */
    public List<String> tensors() {
        return tensors;
    }

    /** Block names. */
    public List<String> blocks() {
        return blocks;
    }

    /** Number of blocks. */
    public int blockCount() {
        return blocks.size();
    }

    /** Block index of tensor p (index into {@link #tensors()}). */
    public int blockOf(int p) {
        return blockOfTensor[p];
    }
}
