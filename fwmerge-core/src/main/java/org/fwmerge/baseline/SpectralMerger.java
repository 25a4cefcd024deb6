package org.fwmerge.baseline;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.fwmerge.MergeResult;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.ParameterSelection;
import org.fwmerge.internal.Combine;
import org.fwmerge.internal.Parallel;
import org.fwmerge.internal.Readers;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.TensorReader;
import org.fwmerge.tensor.Matrix;
import org.fwmerge.tensor.Svd;
import org.fwmerge.tensor.Tensor;

/**
 * What the methods that merge each layer's singular spectrum share (TSV-M, Iso-C, Iso-CTS, as FusionBench
 * defines them): θ = θ₀ + λ·Δ, where Δ is the method's merge of the task matrices τᵢ = θᵢ − θ₀ for every
 * 2-D tensor the {@linkplain SpectralBuilder#matrices matrix selection} admits, and the mean of the task
 * vectors for every other tensor. Tensors are merged one at a time; the linear algebra is the backend's,
 * in double, and the output is rounded once.
 */
abstract class SpectralMerger extends BaselineMerger {
    final double scaling;
    final ParameterSelection matrices;

    SpectralMerger(SpectralBuilder<?> b, double defaultScaling) {
        super(b);
        this.scaling = b.scaling == null ? defaultScaling : b.scaling;
        this.matrices = b.matrices == null ? ParameterSelection.all() : b.matrices;
    }

    /** The method's name in results and errors. */
    abstract String method();

    /** A check of the pool before any work (the default accepts every pool). */
    void check(ModelPool pool) {
    }

    /**
     * Δ for one matrix tensor from the candidates' readers and the base's values (row-major), or
     * {@code null} when Δ is zero. Each reader is used by one thread at a time: {@link #eachTask} runs
     * the candidates' work in parallel.
     */
    abstract Matrix merge(String name, TensorReader[] candidates, float[] base, int rows, int cols);

    /**
     * Merges the pool.
     *
     * @throws IllegalArgumentException     if the selection matches no tensor, or the pool does not suit the method
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
            int n = pool.size();
            List<Checkpoint> sources = new ArrayList<>(pool.candidates());
            sources.add(pool.base());
            for (String name : names) {
                long[] shape = pool.base().info(name).shape();
                try (Readers r = Readers.open(sources, name)) {
                    if (shape.length == 2 && matrices.test(name)) {
                        int rows = (int) shape[0];
                        int cols = (int) shape[1];
                        float[] base = new float[Math.multiplyExact(rows, cols)];
                        r.all()[n].read(0, base, 0, base.length);
                        addScaled(out.tensor(name), base, merge(name, Arrays.copyOf(r.all(), n), base, rows, cols));
                    } else {
                        // θ₀ + λ·mean(τᵢ) = (1 − λ)·θ₀ + (λ/n)·Σ θᵢ
                        double[] w = new double[n + 1];
                        Arrays.fill(w, scaling / n);
                        w[n] = 1 - scaling;
                        Combine.into(out.tensor(name), w, r.all());
                    }
                }
            }
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return Support.result(out, method(), configuration(), pool, start);
    }

    /** out ← θ₀ + λ·Δ, formed in double and rounded once ({@code delta == null}: out ← θ₀). */
    private void addScaled(Tensor out, float[] base, Matrix delta) {
        float[] buf = new float[Support.CHUNK];
        for (int off = 0; off < base.length; off += buf.length) {
            int len = Math.min(buf.length, base.length - off);
            System.arraycopy(base, off, buf, 0, len);
            if (delta != null) {
                double[] d = delta.values();
                for (int k = 0; k < len; k++) {
                    buf[k] = (float) (buf[k] + scaling * d[off + k]);
                }
            }
            backend.set(out, off, buf, 0, len);
        }
    }

    /**
     * {@code work(i)} for every candidate i in [0, n), spread over the caller and the common pool (the SVDs
     * of the task matrices are independent); returns when all are done.
     */
    static void eachTask(int n, java.util.function.IntConsumer work) {
        Parallel.items(n, i -> {
            work.accept(i);
            return null;
        });
    }

    /** (θ_c − θ₀)·weight as a rows × cols matrix, each entry formed in double. */
    static Matrix task(TensorReader candidate, float[] base, int rows, int cols, double weight) {
        double[] v = new double[Math.multiplyExact(rows, cols)];
        float[] c = new float[Support.CHUNK];
        for (int off = 0; off < v.length; off += c.length) {
            int len = Math.min(c.length, v.length - off);
            candidate.read(off, c, 0, len);
            for (int k = 0; k < len; k++) {
                v[off + k] = ((double) c[k] - base[off + k]) * weight;
            }
        }
        return new Matrix(rows, cols, v);
    }

    /** Σᵢ τᵢ over the candidates against the base. */
    static Matrix sumOfTasks(TensorReader[] candidates, float[] base, int rows, int cols) {
        Matrix sum = task(candidates[0], base, rows, cols, 1);
        for (int i = 1; i < candidates.length; i++) {
            double[] t = task(candidates[i], base, rows, cols, 1).values();
            double[] s = sum.values();
            for (int k = 0; k < s.length; k++) {
                s[k] += t[k];
            }
        }
        return sum;
    }

    /**
     * The orthogonal polar factor U·Vᵀ of {@code a} (FusionBench's whitening of the stacked singular vectors):
     * the matrix with orthonormal columns (or rows) nearest to it.
     */
    final Matrix polar(Matrix a) {
        Svd d = backend.svd(a);
        return backend.multiply(d.u(), d.vt());
    }

    /**
     * polar(U)·diag(s)·polar(Vᵀ) for stacked singular triplets: U is m × p, s has p entries, Vᵀ is p × n.
     */
    final Matrix reassemble(Matrix u, double[] s, Matrix vt) {
        Matrix pu = polar(u);
        double[] v = pu.values();
        int p = pu.cols();
        for (int k = 0; k < v.length; k++) {
            v[k] *= s[k % p];
        }
        return backend.multiply(pu, polar(vt));
    }

    /**
     * Copies triplets [0, count) of {@code d} into positions [at, at + count) of the stacked u, s, vt (tasks
     * place theirs into disjoint positions, so they may do it concurrently).
     */
    static void place(Svd d, int count, int at, Matrix u, double[] s, Matrix vt) {
        int m = u.rows();
        int p = u.cols();
        for (int i = 0; i < m; i++) {
            System.arraycopy(d.u().values(), i * d.u().cols(), u.values(), i * p + at, count);
        }
        System.arraycopy(d.s(), 0, s, at, count);
        System.arraycopy(d.vt().values(), 0, vt.values(), at * vt.cols(), count * vt.cols());
    }

    /** The settings TSV-M and Iso add to a result: the scaling λ and which tensors are matrices. */
    final void putCommon(java.util.Map<String, String> c) {
        c.put("scaling", Double.toString(scaling));
        c.put("matrices", matrices.toString());
    }

    /**
     * The settings of the spectral methods' builders: the scaling λ and which 2-D tensors are merged as
     * matrices. Each setter may be called once.
     *
     * @param <B> the concrete builder
     */
    abstract static class SpectralBuilder<B extends SpectralBuilder<B>> extends BaselineBuilder<B> {
        private Double scaling;
        private ParameterSelection matrices;

        SpectralBuilder() {
        }

        /**
         * The scaling λ of the merged task vector (FusionBench's {@code alpha} / {@code scaling_factor};
         * default 1).
         *
         * @throws IllegalArgumentException if not finite
         */
        public B scaling(double lambda) {
            once(this.scaling, "scaling");
            this.scaling = Support.finite(lambda, "scaling");
            return self();
        }

        /**
         * Which 2-D tensors are merged by their spectrum (default all of them; FusionBench's
         * {@code exclude_keys} is {@code ParameterSelection.exclude(...)}); the others, like every tensor
         * that is not 2-D, get the mean of the task vectors.
         */
        public B matrices(ParameterSelection selection) {
            once(this.matrices, "matrices");
            this.matrices = Objects.requireNonNull(selection, "selection");
            return self();
        }
    }
}
