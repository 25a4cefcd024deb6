package org.fwmerge;

import java.util.Objects;

/**
 * The linear minimisation oracle: how candidates are scored against the gradient g and how the
 * vertex s_t is chosen (paper §3.2, Algorithm 1 line 3).
 *
 * <p>Over the convex hull of the pool a linear function is minimised at a vertex, so the LMO is an
 * argmin over checkpoints computed in one streaming pass (one candidate tensor resident at a time).
 * {@link #taskWise()} scores each checkpoint over all merged parameters; {@link #layerWise()}
 * (block-coordinate FW) lets each block pick its own checkpoint, so s_t is assembled block by block.
 * The default score is the paper's inner product ⟨g_b, θ_i,b⟩; {@link Score#COSINE_SUM} is the
 * authors' code's sum of per-tensor cosines. Whatever the score, the FW gap reported is the true
 * gap ⟨g, x_t⟩ − min_i ⟨g, θ_i⟩ summed over blocks. FW-hard takes the best vertex per block,
 * FW-soft the best k (see {@link SoftOptions}). Immutable.
 */
public interface Lmo {

    /** How a candidate's block is scored against the gradient (lower is better). */
    enum Score {
        /** ⟨g_b, θ_i,b⟩ — the paper's linear model of the loss. */
        INNER_PRODUCT,
        /** Σ over tensors p in the block of cos(g_p, θ_i,p) — what the authors' released code does. */
        COSINE_SUM
    }

    /** How merged tensors group into blocks that choose their vertex independently. */
    BlockPartition blocks();

    /** The score used to rank candidates. */
    Score score();

    /** This LMO with another score. */
    default Lmo withScore(Score score) {
        return of(blocks(), score);
    }

    /** One choice for the whole model: s_t is a single checkpoint. */
    static Lmo taskWise() {
        return of(BlockPartition.whole(), Score.INNER_PRODUCT);
    }

    /** One choice per tensor. */
    static Lmo layerWise() {
        return of(BlockPartition.perTensor(), Score.INNER_PRODUCT);
    }

    /** One choice per block of the given partition. */
    static Lmo layerWise(BlockPartition blocks) {
        return of(blocks, Score.INNER_PRODUCT);
    }

    private static Lmo of(BlockPartition blocks, Score score) {
        Objects.requireNonNull(blocks, "blocks");
        Objects.requireNonNull(score, "score");
        record Spec(BlockPartition blocks, Score score) implements Lmo {
            @Override
            public String toString() {
                return "Lmo[blocks=" + blocks + ", score=" + score + "]";
            }
        }
        return new Spec(blocks, score);
    }
}
