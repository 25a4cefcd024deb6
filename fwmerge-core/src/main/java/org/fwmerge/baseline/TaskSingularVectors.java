package org.fwmerge.baseline;

import java.util.LinkedHashMap;
import java.util.Map;
import org.fwmerge.ModelPool;
import org.fwmerge.io.TensorReader;
import org.fwmerge.tensor.Matrix;
import org.fwmerge.tensor.Svd;

/**
 * TSV-M, Task Singular Vectors merging (Gargiulo et al., CVPR 2025), as FusionBench defines it
 * ({@code method/task_singular_vector}, {@code compute_and_sum_svd_mem_reduction}). For each matrix tensor
 * (m × n, p = min(m, n)) and T candidates: each task matrix wᵢ·τᵢ contributes its top k = ⌊p·(1/T)⌋
 * singular triplets, placed side by side into U (m × p), s and Vᵀ (p × n) (unused places stay zero);
 * U and Vᵀ are replaced by their orthogonal polar factors, which removes the interference between the
 * tasks' directions, and Δ = polar(U)·diag(s)·polar(Vᵀ). Every other tensor gets the mean of the
 * task vectors; θ = θ₀ + λ·Δ with λ = 1 by default (FusionBench's {@code alpha: 1}). A matrix with
 * p &lt; T keeps no triplet (k = 0): Δ = 0 there, as in FusionBench.
 *
 * <p>Memory, per matrix tensor, whatever T: the m × n task matrix and its SVD, the stacked U and Vᵀ and
 * their SVDs — about 3(mn + mp + pn) doubles at once — plus the output model. Candidates are streamed
 * tensor by tensor.
 */
public final class TaskSingularVectors extends SpectralMerger {

    private final double[] weights;

    private TaskSingularVectors(Builder b) {
        super(b, 1.0);
        this.weights = b.weights;
    }

    /** A builder with every setting at its default. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    String method() {
        return "tsv-m";
    }

    @Override
    void check(ModelPool pool) {
        if (weights != null && weights.length != pool.size()) {
            throw new IllegalArgumentException("TSV-M has " + weights.length + " task weights for a pool of "
                    + pool.size() + " candidates");
        }
    }

    @Override
    Matrix merge(String name, TensorReader[] candidates, float[] base, int rows, int cols) {
        int n = candidates.length;
        int p = Math.min(rows, cols);
        // FusionBench: int(p * (1 / T)), the product rounded in double as here.
        int k = (int) (p * (1.0 / n));
        if (k == 0) {
            return null;
        }
        Matrix u = Matrix.zeros(rows, p);
        double[] s = new double[p];
        Matrix vt = Matrix.zeros(p, cols);
        eachTask(n, i -> place(backend.svd(task(candidates[i], base, rows, cols, weights == null ? 1 : weights[i])), k, i * k,
                u, s, vt));
        return reassemble(u, s, vt);
    }

    @Override
    Map<String, String> settings() {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("method", method());
        putCommon(c);
        if (weights != null) {
            c.put("weights", java.util.Arrays.toString(weights));
        }
        return c;
    }

    /**
     * Configures a {@link TaskSingularVectors}. Each setter may be called once ({@link IllegalStateException}
     * on a second call); {@link #build()} leaves the builder unchanged. Not thread-safe.
     */
    public static final class Builder extends SpectralBuilder<Builder> {
        private double[] weights;

        private Builder() {
        }

        /**
         * Per-candidate weights applied to each task vector before its SVD (FusionBench's {@code alpha} given
         * as a list), one per candidate in pool order; default none (all 1).
         *
         * @throws IllegalArgumentException if empty or a weight is not finite
         */
        public Builder weights(double... w) {
            once(this.weights, "weights");
            if (w.length == 0) {
                throw new IllegalArgumentException("weights must not be empty");
            }
            for (int i = 0; i < w.length; i++) {
                Support.finite(w[i], "weights[" + i + "]");
            }
            this.weights = w.clone();
            return this;
        }

        /** The configured merger. */
        public TaskSingularVectors build() {
            return new TaskSingularVectors(this);
        }
    }
}
