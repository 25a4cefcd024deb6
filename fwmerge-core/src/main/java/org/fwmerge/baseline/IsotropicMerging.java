package org.fwmerge.baseline;

import java.util.LinkedHashMap;
import java.util.Map;
import org.fwmerge.io.TensorReader;
import org.fwmerge.tensor.Matrix;
import org.fwmerge.tensor.Svd;

/**
 * Isotropic merging (Marczak et al., ICML 2025), Iso-C and Iso-CTS, as FusionBench defines them
 * ({@code method/isotropic_merging/iso_utils.py}). For each matrix tensor (m × n, p = min(m, n)) with
 * Σ = Σᵢ τᵢ = U·diag(σ)·Vᵀ:
 * <ul>
 *   <li><b>Iso-C</b>: Δ = σ̄·U·Vᵀ, the task-arithmetic sum with its spectrum flattened to the mean singular
 *       value σ̄.
 *   <li><b>Iso-CTS</b> ({@link Builder#taskSpecific(boolean) taskSpecific(true)}): the top c directions of Σ
 *       form a common subspace, where c = p − T·d with d = round((p − ⌊p·f⌋) / T) (round half to even, as
 *       Python's {@code round}) and f the {@linkplain Builder#commonSpaceFraction common-space fraction}
 *       (default {@value #DEFAULT_COMMON_SPACE_FRACTION}); each task matrix, with the common subspace
 *       projected out of its columns (τᵢ − U_c·U_cᵀ·τᵢ), adds its own top d triplets. The stacked U (m × p)
 *       and Vᵀ (p × n) are replaced by their orthogonal polar factors, and every singular value by the mean
 *       of the p stacked ones.
 * </ul>
 * Every other tensor gets the mean of the task vectors; θ = θ₀ + λ·Δ with λ = 1 by default (FusionBench's
 * {@code scaling_factor: 1.0}). Memory, per matrix tensor and whatever T: the sum and one task matrix
 * (m × n each), their SVDs, and for Iso-CTS the stacked U and Vᵀ — at most about 3(mn + mp + pn) doubles —
 * plus the output model; candidates are streamed tensor by tensor (Iso-CTS reads each twice).
 */
public final class IsotropicMerging extends SpectralMerger {

    /** Default fraction of the spectrum given to the common subspace in Iso-CTS (FusionBench). */
    public static final double DEFAULT_COMMON_SPACE_FRACTION = 0.8;

    private final boolean taskSpecific;
    private final double commonSpaceFraction;

    private IsotropicMerging(Builder b) {
        super(b, 1.0);
        this.taskSpecific = b.taskSpecific != null && b.taskSpecific;
        this.commonSpaceFraction = b.commonSpaceFraction == null ? DEFAULT_COMMON_SPACE_FRACTION : b.commonSpaceFraction;
    }

    /** A builder with every setting at its default (Iso-C). */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    String method() {
        return taskSpecific ? "iso-cts" : "iso-c";
    }

    @Override
    Matrix merge(String name, TensorReader[] candidates, float[] base, int rows, int cols) {
        Svd sum = backend.svd(sumOfTasks(candidates, base, rows, cols));
        return taskSpecific ? commonAndTaskSpecific(name, candidates, base, rows, cols, sum) : flattened(sum);
    }

    /** Iso-C: σ̄·U·Vᵀ. */
    private Matrix flattened(Svd sum) {
        Matrix delta = backend.multiply(sum.u(), sum.vt());
        double mean = mean(sum.s());
        double[] v = delta.values();
        for (int k = 0; k < v.length; k++) {
            v[k] *= mean;
        }
        return delta;
    }

    /** Iso-CTS: the common subspace of the sum plus each task's own directions, flattened. */
    private Matrix commonAndTaskSpecific(String name, TensorReader[] candidates, float[] base, int rows, int cols, Svd sum) {
        int n = candidates.length;
        int p = Math.min(rows, cols);
        int perTask = (int) Math.rint((p - (int) (p * commonSpaceFraction)) / (double) n);
        int common = p - perTask * n;
        if (common < 0) {
            throw new IllegalArgumentException("Iso-CTS cannot split tensor '" + name + "' (" + rows + " x " + cols
                    + ", " + p + " directions) among " + n + " tasks with commonSpaceFraction " + commonSpaceFraction
                    + ": the tasks' " + perTask + " directions each leave " + common
                    + " for the common subspace; raise the fraction");
        }
        Matrix u = Matrix.zeros(rows, p);
        double[] s = new double[p];
        Matrix vt = Matrix.zeros(p, cols);
        if (perTask > 0) {
            Matrix uc = columns(sum.u(), common);
            Matrix uct = uc.transpose();
            eachTask(n, i -> {
                Matrix w = task(candidates[i], base, rows, cols, 1);
                if (common > 0) {
                    double[] proj = backend.multiply(uc, backend.multiply(uct, w)).values();
                    double[] wv = w.values();
                    for (int k = 0; k < wv.length; k++) {
                        wv[k] -= proj[k];
                    }
                }
                place(backend.svd(w), perTask, i * perTask, u, s, vt);
            });
        }
        place(sum, common, n * perTask, u, s, vt);
        double mean = mean(s);
        java.util.Arrays.fill(s, mean);
        return reassemble(u, s, vt);
    }

    /** The first {@code count} columns of {@code a}. */
    private static Matrix columns(Matrix a, int count) {
        double[] v = new double[a.rows() * count];
        for (int i = 0; i < a.rows(); i++) {
            System.arraycopy(a.values(), i * a.cols(), v, i * count, count);
        }
        return new Matrix(a.rows(), count, v);
    }

    private static double mean(double[] s) {
        double t = 0;
        for (double x : s) {
            t += x;
        }
        return t / s.length;
    }

    @Override
    Map<String, String> settings() {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("method", method());
        putCommon(c);
        if (taskSpecific) {
            c.put("commonSpaceFraction", Double.toString(commonSpaceFraction));
        }
        return c;
    }

    /**
     * Configures an {@link IsotropicMerging}. Each setter may be called once ({@link IllegalStateException} on
     * a second call); {@link #build()} leaves the builder unchanged. Not thread-safe.
     */
    public static final class Builder extends SpectralBuilder<Builder> {
        private Boolean taskSpecific;
        private Double commonSpaceFraction;

        private Builder() {
        }

        /** {@code true} for Iso-CTS (common and task-specific subspaces), {@code false} for Iso-C (default). */
        public Builder taskSpecific(boolean cts) {
            once(this.taskSpecific, "taskSpecific");
            this.taskSpecific = cts;
            return this;
        }

        /**
         * Iso-CTS's share of each matrix's directions kept for the common subspace (default
         * {@value IsotropicMerging#DEFAULT_COMMON_SPACE_FRACTION}).
         *
         * @throws IllegalArgumentException if not in [0, 1]
         */
        public Builder commonSpaceFraction(double f) {
            once(this.commonSpaceFraction, "commonSpaceFraction");
            if (!(f >= 0 && f <= 1)) {
                throw new IllegalArgumentException("commonSpaceFraction must be in [0, 1], got " + f);
            }
            this.commonSpaceFraction = f;
            return this;
        }

        /**
         * The configured merger.
         *
         * @throws IllegalStateException if a common-space fraction is set for Iso-C
         */
        public IsotropicMerging build() {
            if (commonSpaceFraction != null && (taskSpecific == null || !taskSpecific)) {
                throw new IllegalStateException("commonSpaceFraction applies to Iso-CTS only: call taskSpecific(true)");
            }
            return new IsotropicMerging(this);
        }
    }
}
