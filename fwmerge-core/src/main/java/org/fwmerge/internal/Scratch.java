package org.fwmerge.internal;

import java.util.function.Supplier;

/**
 * Per-thread scratch buffers for the streaming kernels, reused across calls so that a pass over many
 * candidates allocates nothing per candidate or per chunk: fresh chunk buffers per call were the
 * garbage that grew the heap with the pool. {@link #take()} hands out this thread's buffer (or a new
 * one when a call on the same thread already holds it, so nested use is safe); {@link #give} returns it.
 *
 * <pre>{@code
 * float[] buf = SCRATCH.take();
 * try { ... } finally { SCRATCH.give(buf); }
 * }</pre>
 *
 * @param <T> the buffer type
 */
public final class Scratch<T> {
    private final ThreadLocal<T> free = new ThreadLocal<>();
    private final Supplier<T> make;

    /** @param make a new buffer, for a thread's first call or a nested one */
    public Scratch(Supplier<T> make) {
        this.make = make;
    }

    /** This thread's buffer, or a new one if it is in use by an enclosing call. */
    public T take() {
        T t = free.get();
        if (t == null) {
            return make.get();
        }
        free.set(null);
        return t;
    }

    /** Returns a buffer taken by this thread (the last one given is kept for the next call). */
    public void give(T buffer) {
        free.set(buffer);
    }
}
