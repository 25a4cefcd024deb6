package org.fwmerge.internal;

import java.util.List;
import org.fwmerge.Evaluation;
import org.fwmerge.Lmo;
import org.fwmerge.Model;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/**
 * One streaming pass of the LMO over the vertices: per vertex i and block b the inner product
 * ⟨g_b, θ_i,b⟩ and the selection score, with one candidate tensor resident at a time.
 */
public final class LmoPass {
    /** ⟨g_b, θ_i,b⟩, [vertex][block]. */
    public final double[][] innerProducts;
    /** Selection score (lower is better), [vertex][block]. */
    public final double[][] scores;
    /** ⟨g_b, x_b⟩ per block. */
    public final double[] atPoint;

    private LmoPass(double[][] innerProducts, double[][] scores, double[] atPoint) {
        this.innerProducts = innerProducts;
        this.scores = scores;
        this.atPoint = atPoint;
    }

    /** Scores every vertex against gradient {@code g} at point {@code x}. */
    public static LmoPass run(Evaluation g, Model x, List<? extends Checkpoint> vertices, BlockLayout layout,
            Lmo.Score score) {
        TensorBackend b = x.backend();
        List<String> names = layout.tensors();
        int nb = layout.blockCount();
        double[] atPoint = new double[nb];
        boolean cosine = score == Lmo.Score.COSINE_SUM;
        double[] gradNorm = new double[names.size()];
        for (int p = 0; p < names.size(); p++) {
            Tensor gp = g.gradient(names.get(p));
            atPoint[layout.blockOf(p)] += b.dot(gp, x.tensor(names.get(p)));
            // Norms are only needed for the cosine score: one pass over g saved per tensor otherwise.
            gradNorm[p] = cosine ? Math.sqrt(b.dot(gp, gp)) : 0;
        }
        double[][] ip = new double[vertices.size()][nb];
        double[][] sc = cosine ? new double[vertices.size()][nb] : ip;
        for (int i = 0; i < vertices.size(); i++) {
            Checkpoint v = vertices.get(i);
            for (int p = 0; p < names.size(); p++) {
                int blk = layout.blockOf(p);
                try (Tensor t = v.load(names.get(p), b)) {
                    double d = b.dot(g.gradient(names.get(p)), t);
                    ip[i][blk] += d;
                    if (cosine) {
                        double denom = gradNorm[p] * Math.sqrt(b.dot(t, t));
                        sc[i][blk] += denom == 0 ? 0 : d / denom;
                    }
                }
            }
        }
        return new LmoPass(ip, sc, atPoint);
    }

    /** The FW gap Σ_b (⟨g_b, x_b⟩ − min_i ⟨g_b, θ_i,b⟩), which is ≥ 0 whenever x is in the hull. */
    public double gap() {
        double gap = 0;
        for (int blk = 0; blk < atPoint.length; blk++) {
            double min = Double.POSITIVE_INFINITY;
            for (double[] row : innerProducts) {
                min = Math.min(min, row[blk]);
            }
            gap += atPoint[blk] - min;
        }
        return gap;
    }

    /**
     * Per block, the {@code k} vertices with the lowest score, best first, skipping {@code excluded}
     * ones ([block][vertex], may be null). Ties go to the lower index.
     */
    public int[][] best(int k, boolean[][] excluded) {
        int nb = atPoint.length;
        int[][] out = new int[nb][];
        for (int blk = 0; blk < nb; blk++) {
            final int bb = blk;
            out[blk] = java.util.stream.IntStream.range(0, scores.length)
                    .filter(i -> excluded == null || !excluded[bb][i])
                    .boxed()
                    .sorted((i, j) -> {
                        int c = Double.compare(scores[i][bb], scores[j][bb]);
                        return c != 0 ? c : Integer.compare(i, j);
                    })
                    .limit(k).mapToInt(Integer::intValue).toArray();
        }
        return out;
    }
}
