package org.fwmerge;

import java.util.Map;
import org.fwmerge.tensor.Matrix;

/**
 * The inputs of a model's linear layers on one task's data, summarised as Gram matrices: what RegMean
 * ({@link org.fwmerge.baseline.RegMean}) needs from each candidate's calibration data. The ND4J module's
 * SameDiff objective implements it for the layers it is told the input variables of.
 *
 * <p>Implementations are thread-safe and must not keep or modify the point they are given.
 */
public interface LayerInputs {

    /** How a linear layer's 2-D weight W multiplies its input row x. */
    enum Orientation {
        /** y = x·W, W of shape [in, out] (an ND4J/SameDiff {@code mmul}). */
        IN_BY_OUT,
        /** y = x·Wᵀ, W of shape [out, in] ({@code torch.nn.Linear}, Hugging Face checkpoints). */
        OUT_BY_IN
    }

    /** The weight tensors whose inputs this source observes, by name, with their orientation. */
    Map<String, Orientation> layers();

    /**
     * At the point {@code x} (the merged tensors), XᵀX / N for each {@linkplain #layers() layer}, where X is
     * the N × in matrix of that layer's input rows over all of this source's samples (every position of a
     * sequence is a row), in double, keyed by the weight's name.
     *
     * @throws IllegalArgumentException if {@code x} lacks a tensor the computation needs
     */
    Map<String, Matrix> grams(Model x);
}
