package org.fwmerge.baseline;

import java.util.Objects;
import org.fwmerge.ParameterSelection;
import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;

/**
 * The settings every baseline's builder has: which tensors are merged and on which backend. Like the
 * rest of a builder, each may be set once ({@link IllegalStateException} otherwise).
 *
 * @param <B> the concrete builder, returned by the setters for chaining
 */
abstract class BaselineBuilder<B extends BaselineBuilder<B>> {
    private ParameterSelection parameters;
    private TensorBackend backend;

    BaselineBuilder() {
    }

    /** Which tensors are merged (default all). */
    public B parameters(ParameterSelection selection) {
        Support.once(this.parameters, "parameters");
        this.parameters = Objects.requireNonNull(selection, "selection");
        return self();
    }

    /** The tensor backend (default {@link TensorBackends#get()}). */
    public B backend(TensorBackend backend) {
        Support.once(this.backend, "backend");
        this.backend = Objects.requireNonNull(backend, "backend");
        return self();
    }

    /** The selection set, or every tensor. */
    final ParameterSelection selection() {
        return parameters == null ? ParameterSelection.all() : parameters;
    }

    /** The backend set, or the default one. */
    final TensorBackend tensorBackend() {
        return backend == null ? TensorBackends.get() : backend;
    }

    /** Whether {@link #parameters} or {@link #backend} was set (DARE-TIES takes both from its TIES merger). */
    final boolean setsSelectionOrBackend() {
        return parameters != null || backend != null;
    }

    @SuppressWarnings("unchecked")
    private B self() {
        return (B) this;
    }
}
