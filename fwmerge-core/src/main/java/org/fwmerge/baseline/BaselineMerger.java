package org.fwmerge.baseline;

import java.util.Map;
import org.fwmerge.Merger;
import org.fwmerge.ParameterSelection;
import org.fwmerge.tensor.TensorBackend;

/** What every baseline has: the tensors it merges, its backend, and its settings as strings (provenance). */
abstract class BaselineMerger implements Merger {
    final ParameterSelection parameters;
    final TensorBackend backend;

    BaselineMerger(ParameterSelection parameters, TensorBackend backend) {
        this.parameters = parameters;
        this.backend = backend;
    }

    BaselineMerger(BaselineBuilder<?> b) {
        this(b.selection(), b.tensorBackend());
    }

    /** The method's name and settings, in order, as a new mutable map. */
    abstract Map<String, String> settings();

    /** {@link #settings()} plus the parameter selection and the backend: what a result records. */
    final Map<String, String> configuration() {
        Map<String, String> c = settings();
        c.put("parameters", parameters.toString());
        c.put("backend", backend.name());
        return c;
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + configuration();
    }
}
