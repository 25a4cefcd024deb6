package org.fwmerge.baseline;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;

/**
 * The reference backend behind wrapper tensors, so that a checkpoint can hand out tensors whose
 * {@code close()} it observes: {@link #tracked} counts how many are open now and at most.
 */
final class CountingBackend implements TensorBackend {
    private final TensorBackend ref = TensorBackends.reference();
    final AtomicInteger open = new AtomicInteger();
    final AtomicInteger maxOpen = new AtomicInteger();

    final class W implements Tensor {
        final Tensor inner;
        private final boolean counted;
        private boolean closed;

        W(Tensor inner, boolean counted) {
            this.inner = inner;
            this.counted = counted;
        }

        @Override
        public long size() {
            return inner.size();
        }

        @Override
        public long[] shape() {
            return inner.shape();
        }

        @Override
        public boolean isReadOnly() {
            return inner.isReadOnly();
        }

        @Override
        public TensorBackend backend() {
            return CountingBackend.this;
        }

        @Override
        public synchronized void close() {
            if (!closed) {
                closed = true;
                inner.close();
                if (counted) {
                    open.decrementAndGet();
                }
            }
        }
    }

    /** A counted read-only view of {@code t}: open until closed. */
    Tensor tracked(Tensor t) {
        int now = open.incrementAndGet();
        maxOpen.accumulateAndGet(now, Math::max);
        return new W(ref.readOnlyView(unwrap(t)), true);
    }

    void reset() {
        open.set(0);
        maxOpen.set(0);
    }

    private Tensor unwrap(Tensor t) {
        if (!(t instanceof W)) {
            throw new IllegalArgumentException("not a counting tensor: " + t);
        }
        W w = (W) t;
        if (w.closed) {
            throw new IllegalStateException("tensor used after close");
        }
        return w.inner;
    }

    @Override
    public String name() {
        return "counting";
    }

    @Override
    public int priority() {
        return -1;
    }

    @Override
    public Tensor zeros(long... shape) {
        return new W(ref.zeros(shape), false);
    }

    @Override
    public Tensor fromFloats(float[] values, long... shape) {
        return new W(ref.fromFloats(values, shape), false);
    }

    @Override
    public Tensor readOnlyFloats(ByteBuffer bytes, long... shape) {
        return new W(ref.readOnlyFloats(bytes, shape), false);
    }

    @Override
    public Tensor readOnlyView(Tensor t) {
        return new W(ref.readOnlyView(unwrap(t)), false);
    }

    @Override
    public Tensor seal(Tensor t) {
        return new W(ref.seal(unwrap(t)), false);
    }

    @Override
    public void get(Tensor t, long offset, float[] dst, int dstOffset, int length) {
        ref.get(unwrap(t), offset, dst, dstOffset, length);
    }

    @Override
    public void set(Tensor t, long offset, float[] src, int srcOffset, int length) {
        ref.set(unwrap(t), offset, src, srcOffset, length);
    }

    @Override
    public double dot(Tensor x, Tensor y) {
        return ref.dot(unwrap(x), unwrap(y));
    }

    @Override
    public void axpy(double a, Tensor x, Tensor y) {
        ref.axpy(a, unwrap(x), unwrap(y));
    }

    @Override
    public void scale(double a, Tensor y) {
        ref.scale(a, unwrap(y));
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        ref.copy(unwrap(src), unwrap(dst));
    }
}
