package org.fwmerge.internal;

import java.util.List;
import org.fwmerge.Evaluation;
import org.fwmerge.Lmo;
import org.fwmerge.Model;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.TensorReader;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/**
 * One streaming pass of the LMO over the vertices: per vertex i and block b the inner product
 * ⟨g_b, θ_i,b⟩ and the selection score.
 *
 * <p>The pass is blocked: a block of the gradient (and of the point) is fetched once and stays in
 * cache while the same block of every vertex streams past it, read straight from the checkpoints
 * and converted to float32 on the way, so the gradient is read once per pass instead of once per
 * vertex, no vertex tensor is ever held whole, and ⟨g, x⟩ and ‖g‖² come from the same pass. Each
 * tensor is split into one range per core.
 */
public final class LmoPass {
    /** ⟨g_b, θ_i,b⟩, [vertex][block]. */
    private final double[][] innerProducts;
    /** Selection score (lower is better), [vertex][block]. */
    private final double[][] scores;
    /** ⟨g_b, x_b⟩ per block. */
    private final double[] atPoint;

    /** Elements per block: gradient, point and vertex blocks (3 × 64 KiB) stay in L2 together. */
    static final int BLOCK = 1 << 14;

    /** Per-thread gradient and vertex blocks, reused across passes (FW-soft runs one per inner step). */
    private static final Scratch<float[][]> BLOCKS = new Scratch<>(() -> new float[2][BLOCK]);

    private LmoPass(double[][] innerProducts, double[][] scores, double[] atPoint) {
        this.innerProducts = innerProducts;
        this.scores = scores;
        this.atPoint = atPoint;
    }

    /** Scores every vertex against gradient {@code g} at point {@code x}. */
    public static LmoPass run(Evaluation g, Model x, List<? extends Checkpoint> vertices, BlockLayout layout,
            Lmo.Score score) {
        List<String> names = layout.tensors();
        int nv = vertices.size();
        int nb = layout.blockCount();
        boolean cosine = score == Lmo.Score.COSINE_SUM;
        double[] atPoint = new double[nb];
        double[][] ip = new double[nv][nb];
        double[][] sc = cosine ? new double[nv][nb] : ip;
        for (int p = 0; p < names.size(); p++) {
            String name = names.get(p);
            int blk = layout.blockOf(p);
            try (Readers readers = Readers.open(vertices, name)) {
                double[] s = tensorSums(g.gradient(name), x.tensor(name), readers.all(), cosine);
                atPoint[blk] += s[0];
                for (int i = 0; i < nv; i++) {
                    ip[i][blk] += s[2 + i];
                    if (cosine) {
                        double denom = Math.sqrt(s[1]) * Math.sqrt(s[2 + nv + i]);
                        sc[i][blk] += denom == 0 ? 0 : s[2 + i] / denom;
                    }
                }
            }
        }
        return new LmoPass(ip, sc, atPoint);
    }

    /** [⟨g,x⟩, ‖g‖², ⟨g,θ_0⟩ … ⟨g,θ_{n−1}⟩, (cosine) ‖θ_0‖² … ‖θ_{n−1}‖²] over one tensor. */
    private static double[] tensorSums(Tensor gp, Tensor xp, TensorReader[] readers, boolean cosine) {
        int nv = readers.length;
        int width = 2 + nv + (cosine ? nv : 0);
        List<double[]> parts = Parallel.ranges(gp.size(), (from, to) -> {
            float[][] blocks = BLOCKS.take();
            try {
                return rangeSums(gp, xp, readers, cosine, width, from, to, blocks[0], blocks[1]);
            } finally {
                BLOCKS.give(blocks);
            }
        });
        double[] total = new double[width];
        for (double[] s : parts) {
            for (int k = 0; k < width; k++) {
                total[k] += s[k];
            }
        }
        return total;
    }

    /** The sums of {@link #tensorSums} over elements [from, to), through the blocks {@code gb}, {@code vb}. */
    private static double[] rangeSums(Tensor gp, Tensor xp, TensorReader[] readers, boolean cosine, int width, long from,
            long to, float[] gb, float[] vb) {
        TensorBackend b = xp.backend();
        int nv = readers.length;
        double[] s = new double[width];
        for (long off = from; off < to; off += BLOCK) {
            int len = (int) Math.min(BLOCK, to - off);
            b.get(xp, off, vb, 0, len);
            gp.backend().get(gp, off, gb, 0, len);
            s[0] += Kernels.dot(gb, vb, len);
            s[1] += Kernels.dot(gb, gb, len);
            for (int i = 0; i < nv; i++) {
                readers[i].read(off, vb, 0, len);
                s[2 + i] += Kernels.dot(gb, vb, len);
                if (cosine) {
                    s[2 + nv + i] += Kernels.dot(vb, vb, len);
                }
            }
        }
        return s;
    }

    /** ⟨g_b, θ_i,b⟩: the gradient's block b against vertex i's. */
    public double innerProduct(int vertex, int block) {
        return innerProducts[vertex][block];
    }

    /** ⟨g_b, x_b⟩: the gradient's block b against the point's. */
    public double atPoint(int block) {
        return atPoint[block];
    }

    /**
     * The FW gap Σ_b (⟨g_b, x_b⟩ − min_i ⟨g_b, θ_i,b⟩): ≥ 0 when x lies in the hull of the vertices, where
     * it bounds the suboptimality of a convex loss; negative values mean x has left the hull.
     */
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
