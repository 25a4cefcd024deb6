package org.fwmerge.baseline;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.fwmerge.MergeResult;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.internal.Readers;
import org.fwmerge.io.TensorReader;
import org.fwmerge.tensor.Tensor;

/**
 * What mergekit's two-model methods ({@link Slerp}, {@link NearSwap}) share: a base and exactly one other
 * model, one parameter t, and a merge that forms each output tensor from the two tensors' readers.
 */
abstract class PairMerger extends BaselineMerger {

    final double t;
    private final String method;
    private final String what;

    /**
     * @param method the name recorded in results, e.g. {@code slerp}
     * @param what   what the method does, for the message refusing another pool, e.g. "interpolates between"
     */
    PairMerger(PairBuilder<?> b, String method, String what) {
        super(b);
        this.t = b.t;
        this.method = method;
        this.what = what;
    }

    /** Forms {@code out} from the base's and the other model's tensor. */
    abstract void mergeTensor(TensorReader base, TensorReader other, Tensor out);

    /**
     * Merges the pool's base and its one candidate.
     *
     * @throws IllegalArgumentException     if the pool does not hold exactly one candidate, or the selection
     *                                      matches no tensor
     * @throws java.io.UncheckedIOException if a checkpoint cannot be read
     */
    @Override
    public final MergeResult merge(ModelPool pool) {
        Objects.requireNonNull(pool, "pool");
        if (pool.size() != 1) {
            throw new IllegalArgumentException(method + " " + what + " the base and exactly one other model; the pool has "
                    + pool.size() + " candidates");
        }
        long start = System.nanoTime();
        List<String> names = pool.select(parameters);
        Model out = Support.zeros(pool, names, backend, method);
        try {
            for (String name : names) {
                try (Readers r = Readers.open(List.of(pool.base(), pool.candidates().get(0)), name)) {
                    mergeTensor(r.all()[0], r.all()[1], out.tensor(name));
                }
            }
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return Support.result(out, method, configuration(), pool, start);
    }

    @Override
    final Map<String, String> settings() {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("method", method);
        c.put("t", Double.toString(t));
        return c;
    }

    /**
     * The builder of a two-model method: t is required. Each setter may be called once
     * ({@link IllegalStateException} on a second call); building leaves the builder unchanged. Not thread-safe.
     */
    abstract static class PairBuilder<B extends PairBuilder<B>> extends BaselineBuilder<B> {
        private Double t;

        /**
         * The method's parameter t (mergekit {@code t}; required).
         *
         * @throws IllegalArgumentException if not finite
         */
        public B t(double t) {
            once(this.t, "t");
            this.t = Support.finite(t, "t");
            return self();
        }

        /** @throws IllegalStateException with {@code meaning} if t was not given */
        final void requireT(String meaning) {
            if (t == null) {
                throw new IllegalStateException("t is required (mergekit's 't' parameter): " + meaning);
            }
        }
    }
}
