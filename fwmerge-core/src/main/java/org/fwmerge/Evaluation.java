package org.fwmerge;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.fwmerge.tensor.Tensor;

/**
 * The loss and gradient of an {@link Objective} at a point. Owns the gradient tensors:
 * {@link #close()} frees them.
 *
 * @param loss     ℓ(x)
 * @param gradient tensor name → ∂ℓ/∂x for every tensor of the point (insertion order kept)
 */
public record Evaluation(double loss, Map<String, Tensor> gradient) implements AutoCloseable {

    /** Copies the gradient map (keeping its order); the tensors themselves are taken over, not copied. */
    public Evaluation {
        Objects.requireNonNull(gradient, "gradient");
        gradient = Collections.unmodifiableMap(new LinkedHashMap<>(gradient));
    }

    /**
     * The gradient for one tensor.
     *
     * @throws IllegalStateException if the objective returned none for it (a broken {@link Objective} contract)
     */
    public Tensor gradient(String name) {
        Tensor g = gradient.get(name);
        if (g == null) {
            throw new IllegalStateException("the objective returned no gradient for tensor '" + name + "' (an objective"
                    + " returns one for every tensor of the point)");
        }
        return g;
    }

    /** Frees the gradient tensors. */
    @Override
    public void close() {
        gradient.values().forEach(Tensor::close);
    }
}
