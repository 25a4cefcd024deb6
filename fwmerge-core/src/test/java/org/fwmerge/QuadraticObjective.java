package org.fwmerge;

import java.util.LinkedHashMap;
import java.util.Map;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/**
 * ℓ(θ) = ½‖θ − c‖² with ∇ℓ = θ − c: a convex test objective whose minimiser over a hull is the
 * Euclidean projection of c. Counts its evaluations.
 */
public final class QuadraticObjective implements Objective {
    private final Model c;
    final java.util.concurrent.atomic.AtomicInteger evaluations = new java.util.concurrent.atomic.AtomicInteger();

    public QuadraticObjective(Model c) {
        this.c = c;
    }

    @Override
    public double loss(Model x) {
        evaluations.incrementAndGet();
        TensorBackend b = x.backend();
        double s = 0;
        for (String name : x.names()) {
            try (Tensor d = b.copyOf(x.tensor(name))) {
                b.axpy(-1, c.tensor(name), d);
                s += b.dot(d, d);
            }
        }
        return 0.5 * s;
    }

    @Override
    public Evaluation evaluate(Model x) {
        TensorBackend b = x.backend();
        Map<String, Tensor> g = new LinkedHashMap<>();
        for (String name : x.names()) {
            Tensor d = b.copyOf(x.tensor(name));
            b.axpy(-1, c.tensor(name), d);
            g.put(name, d);
        }
        return new Evaluation(loss(x), g);
    }

    @Override
    public String toString() {
        return "½‖θ − c‖²";
    }
}
