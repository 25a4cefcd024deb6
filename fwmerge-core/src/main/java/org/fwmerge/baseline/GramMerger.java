package org.fwmerge.baseline;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.fwmerge.MergeResult;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.internal.Combine;
import org.fwmerge.internal.Readers;
import org.fwmerge.io.Checkpoint;

/**
 * What the methods whose output is a weighted sum of the inputs, with weights from the inputs' inner
 * products, share ({@link ModelStock}, {@link MultiSlerp}, {@link Karcher}): per tensor, one parallel pass for
 * the Gram matrix of the vectors v_i (θ_i − θ₀ or θ_i, in double), the method's weights from it, and one
 * pass forming Σ_i w_i θ_i + w_n θ₀ in double, rounded once. Memory: the output, an n × n matrix and chunk
 * buffers.
 */
abstract class GramMerger extends BaselineMerger {

    GramMerger(BaselineBuilder<?> b) {
        super(b);
    }

    /** The method's name in results. */
    abstract String method();

    /** Whether the vectors are the candidates' differences from the base (else the candidates themselves). */
    abstract boolean differences();

    /** A check of the pool before any work (the default accepts every pool). */
    void check(ModelPool pool) {
    }

    /**
     * The output's weights w_0 … w_{n−1} of the candidates and w_n of the base, from the Gram matrix of the
     * vectors of tensor {@code name}.
     */
    abstract double[] combination(String name, double[][] gram);

    /**
     * Merges the pool.
     *
     * @throws IllegalArgumentException     if the pool does not suit the method, or the selection matches no tensor
     * @throws java.io.UncheckedIOException if a checkpoint cannot be read
     */
    @Override
    public final MergeResult merge(ModelPool pool) {
        Objects.requireNonNull(pool, "pool");
        check(pool);
        long start = System.nanoTime();
        List<String> names = pool.select(parameters);
        Model out = Support.zeros(pool, names, backend, method());
        try {
            List<Checkpoint> sources = new ArrayList<>(pool.candidates());
            sources.add(pool.base());
            for (String name : names) {
                try (Readers r = Readers.open(sources, name)) {
                    Combine.into(out.tensor(name), combination(name, Support.gram(r.all(), differences())), r.all());
                }
            }
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return Support.result(out, method(), configuration(), pool, start);
    }

    /** ‖Σ a_i v_i‖ from the Gram matrix. */
    static double length(double[][] g, double[] a) {
        double q = 0;
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a.length; j++) {
                q += a[i] * g[i][j] * a[j];
            }
        }
        return Math.sqrt(Math.max(0, q));
    }
}
