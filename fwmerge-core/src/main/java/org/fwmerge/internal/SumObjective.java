package org.fwmerge.internal;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fwmerge.Evaluation;
import org.fwmerge.Model;
import org.fwmerge.Objective;
import org.fwmerge.tensor.Tensor;

/** Σ_k ℓ_k: the loss and the gradient add up term by term. */
public final class SumObjective implements Objective {
    private final List<Objective> terms;

    public SumObjective(List<Objective> terms) {
        this.terms = terms;
    }

    @Override
    public double loss(Model x) {
        double s = 0;
        for (Objective o : terms) {
            s += o.loss(x);
        }
        return s;
    }

    @Override
    public Evaluation evaluate(Model x) {
        double loss = 0;
        Map<String, Tensor> sum = new LinkedHashMap<>();
        for (Objective o : terms) {
            try (Evaluation e = o.evaluate(x)) {
                loss += e.loss();
                for (String name : x.names()) {
                    Tensor g = e.gradient(name);
                    Tensor acc = sum.get(name);
                    if (acc == null) {
                        sum.put(name, x.backend().copyOf(g));
                    } else {
                        x.backend().axpy(1.0, g, acc);
                    }
                }
            }
        }
        return new Evaluation(loss, sum);
    }

    /** A minibatch of each term, drawn in term order from {@code random}. */
    @Override
    public Objective minibatch(int size, java.util.random.RandomGenerator random) {
        List<Objective> batches = new java.util.ArrayList<>();
        for (Objective o : terms) {
            batches.add(o.minibatch(size, random));
        }
        return new SumObjective(List.copyOf(batches));
    }

    @Override
    public List<Objective> terms() {
        return terms;
    }

    @Override
    public String toString() {
        return "sum" + terms;
    }
}
