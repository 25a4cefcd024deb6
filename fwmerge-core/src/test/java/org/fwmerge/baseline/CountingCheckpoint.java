package org.fwmerge.baseline;

import java.util.List;
import java.util.Map;
import org.fwmerge.Model;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.TensorInfo;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/** A model-backed checkpoint whose loaded tensors are counted by a {@link CountingBackend}. */
final class CountingCheckpoint implements Checkpoint {
    private final Model model;
    private final CountingBackend counter;

    CountingCheckpoint(Model model, CountingBackend counter) {
        this.model = model;
        this.counter = counter;
    }

    @Override
    public String source() {
        return "counting(" + model.source() + ")";
    }

    @Override
    public List<String> names() {
        return model.names();
    }

    @Override
    public TensorInfo info(String name) {
        return model.info(name);
    }

    @Override
    public Tensor load(String name, TensorBackend backend) {
        if (backend != counter) {
            throw new IllegalArgumentException("this test checkpoint serves the counting backend only");
        }
        return counter.tracked(model.tensor(name));
    }

    /** Ranges served from the model in place, uncounted: what the test counts is whole-tensor loads. */
    @Override
    public org.fwmerge.io.TensorReader reader(String name) {
        return model.reader(name);
    }

    @Override
    public Map<String, String> metadata() {
        return Map.of();
    }
}
