package org.fwmerge.internal;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ForkJoinPool;
import java.util.random.RandomGenerator;
import org.fwmerge.Evaluation;
import org.fwmerge.Model;
import org.fwmerge.Objective;
import org.fwmerge.tensor.Tensor;

/**
 * Σ_k ℓ_k: the loss and the gradient add up term by term.
 *
 * <p>The terms are evaluated side by side, a window of at most one term per core at a time, and their
 * results are added in term order, so the sum is bit-identical to evaluating them one after another.
 * Why: per-task objectives are typically small graphs (an ONNX session on one thread, a minibatch of a
 * few samples) whose calls leave most cores idle. The window also holds at most
 * {@link #WINDOW_BYTES} of gradients beyond the running sum: a large model's terms run one at a time
 * (and parallelise inside), so memory stays that of the sequential sum.
 */
public final class SumObjective implements Objective {

    /** Gradient bytes a window of terms may hold at once, beside the running sum. */
    static final long WINDOW_BYTES = 64L << 20;

    private final List<Objective> terms;

    public SumObjective(List<Objective> terms) {
        this.terms = terms;
    }

    @Override
    public double loss(Model x) {
        double s = 0;
        int window = window(x);
        for (int from = 0; from < terms.size(); from += window) {
            int first = from;
            for (double l : Parallel.items(Math.min(window, terms.size() - from), i -> terms.get(first + i).loss(x))) {
                s += l;
            }
        }
        return s;
    }

    @Override
    public Evaluation evaluate(Model x) {
        double loss = 0;
        Map<String, Tensor> sum = new LinkedHashMap<>();
        int window = window(x);
        try {
            for (int from = 0; from < terms.size(); from += window) {
                Evaluation[] evaluations = evaluateWindow(x, from, Math.min(terms.size(), from + window));
                try {
                    for (int i = 0; i < evaluations.length; i++) {
                        Evaluation e = evaluations[i];
                        loss += e.loss();
                        if (sum.isEmpty()) {
                            // The first term's gradients become the running sum: Σ starts as ∇ℓ_0 exactly,
                            // as a copy would, without the copy.
                            for (String name : x.names()) {
                                sum.put(name, e.gradient(name));
                            }
                            evaluations[i] = null;
                            e.gradient().forEach((name, g) -> {
                                if (!sum.containsKey(name)) {
                                    g.close(); // beyond the contract: not ours to keep
                                }
                            });
                        } else {
                            for (String name : x.names()) {
                                x.backend().axpy(1.0, e.gradient(name), sum.get(name));
                            }
                        }
                    }
                } finally {
                    closeAll(evaluations);
                }
            }
        } catch (RuntimeException | Error e) {
            sum.values().forEach(Tensor::close);
            throw e;
        }
        return new Evaluation(loss, sum);
    }

    /** Terms {@code [from, to)} evaluated side by side; on a failure the others' gradients are freed. */
    private Evaluation[] evaluateWindow(Model x, int from, int to) {
        Evaluation[] out = new Evaluation[to - from];
        try {
            Parallel.items(out.length, i -> out[i] = terms.get(from + i).evaluate(x));
        } catch (RuntimeException | Error e) {
            closeAll(out); // items() has waited for every term, so none is still writing into out
            throw e;
        }
        return out;
    }

    private static void closeAll(Evaluation[] evaluations) {
        for (Evaluation e : evaluations) {
            if (e != null) {
                e.close();
            }
        }
    }

    /** Terms per window: one per core, while their gradients (the size of {@code x}) fit {@link #WINDOW_BYTES}. */
    private int window(Model x) {
        int cores = ForkJoinPool.getCommonPoolParallelism() + 1;
        long bytes = Math.max(1, x.parameterCount() * Float.BYTES);
        return (int) Math.max(1, Math.min(Math.min(cores, terms.size()), WINDOW_BYTES / bytes));
    }

    /** A minibatch of each term, drawn in term order from {@code random}. */
    @Override
    public Objective minibatch(int size, RandomGenerator random) {
        List<Objective> batches = new ArrayList<>();
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
