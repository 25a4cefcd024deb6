package org.fwmerge.baseline;

import java.util.Objects;
import org.fwmerge.ParameterSelection;
import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;

/**
 * The settings every baseline's builder has: which tensors are merged and on which backend. Like every
 * setter of a builder, each may be called once ({@link IllegalStateException} on a second call).
 *
 * @param <B> the concrete builder, returned by the setters for chaining
 */
abstract class BaselineBuilder<B extends BaselineBuilder<B>> {
    private ParameterSelection parameters;
    private TensorBackend backend;
    private final org.fwmerge.internal.Settings settings = new org.fwmerge.internal.Settings();

    BaselineBuilder() {
    }

    /** Which tensors are merged (default all). */
    public B parameters(ParameterSelection selection) {
        once(this.parameters, "parameters");
        this.parameters = Objects.requireNonNull(selection, "selection");
        return self();
    }

    /** The tensor backend (default {@link TensorBackends#get()}). */
    public B backend(TensorBackend backend) {
        once(this.backend, "backend");
        this.backend = Objects.requireNonNull(backend, "backend");
        return self();
    }

    /**
     * Builder guard: a setter may be called once per builder ({@link IllegalStateException} naming it and
     * the value it holds otherwise).
     */
    final void once(Object current, String name) {
        settings.once(name, current);
    }

    /** Whether the setter {@code name} was called on this builder (values copied by toBuilder() are not). */
    final boolean called(String name) {
        return settings.called(name);
    }

    /** Copies a built merger's selection and backend ({@code toBuilder()}); returns this builder. */
    final B copySelection(ParameterSelection selection, TensorBackend tensorBackend) {
        this.parameters = selection;
        this.backend = tensorBackend;
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

    /** Whether {@link #parameters} or {@link #backend} was called (DARE-TIES takes both from its TIES merger). */
    final boolean setsSelectionOrBackend() {
        return called("parameters") || called("backend");
    }

    @SuppressWarnings("unchecked")
    final B self() {
        return (B) this;
    }
}
