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
     * Δ for one matrix tensor from its readers (candidates, then the base last), or {@code null} when Δ is
     * zero.
     */
    abstract Matrix merge(String name, TensorReader[] src, int rows, int cols);

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
                        addScaled(out.tensor(name), r.all()[n], merge(name, r.all(), (int) shape[0], (int) shape[1]));
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
    private void addScaled(Tensor out, TensorReader base, Matrix delta) {
        float[] buf = new float[Support.CHUNK];
        for (long off = 0; off < out.size(); off += buf.length) {
            int len = (int) Math.min(buf.length, out.size() - off);
            base.read(off, buf, 0, len);
            if (delta != null) {
                double[] d = delta.values();
                for (int k = 0; k < len; k++) {
                    buf[k] = (float) (buf[k] + scaling * d[(int) off + k]);
                }
            }
            backend.set(out, off, buf, 0, len);
        }
    }

    /** (θ_c − θ₀)·weight as a rows × cols matrix, each entry formed in double. */
    static Matrix task(TensorReader candidate, TensorReader base, int rows, int cols, double weight) {
        double[] v = new double[Math.multiplyExact(rows, cols)];
        float[] c = new float[Support.CHUNK];
        float[] b = new float[Support.CHUNK];
        for (int off = 0; off < v.length; off += c.length) {
            int len = Math.min(c.length, v.length - off);
            candidate.read(off, c, 0, len);
            base.read(off, b, 0, len);
            for (int k = 0; k < len; k++) {
                v[off + k] = ((double) c[k] - b[k]) * weight;
            }
        }
        return new Matrix(rows, cols, v);
    }

    /** Σᵢ τᵢ over the candidates src[0..n) against the base src[n]. */
    static Matrix sumOfTasks(TensorReader[] src, int rows, int cols) {
        int n = src.length - 1;
        Matrix sum = task(src[0], src[n], rows, cols, 1);
        for (int i = 1; i < n; i++) {
            double[] t = task(src[i], src[n], rows, cols, 1).values();
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

    /** Copies triplets [0, count) of {@code d} into positions [at, at + count) of the stacked u, s, vt. */
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
