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
     * Builder guard: a setting may be set once ({@link IllegalStateException} naming it otherwise); one
     * that {@code toBuilder()} copied from a merger may be replaced, once.
     */
    final void once(Object current, String name) {
        settings.once(current, name);
    }

    /** Marks settings as copied from a built merger (replaceable once); returns this builder. */
    final B inherit(String... names) {
        settings.inherit(names);
        return self();
    }

    /** Copies a built merger's selection and backend ({@code toBuilder()}), replaceable once. */
    final B inheritSelection(ParameterSelection selection, TensorBackend tensorBackend) {
        this.parameters = selection;
        this.backend = tensorBackend;
        return inherit("parameters", "backend");
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
