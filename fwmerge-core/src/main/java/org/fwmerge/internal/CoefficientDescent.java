package org.fwmerge.internal;

import java.util.ArrayList;
import java.util.List;
import org.fwmerge.CoefficientOptions;
import org.fwmerge.Evaluation;
import org.fwmerge.Model;
import org.fwmerge.Objective;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.tensor.TensorBackend;

/**
 * Projected gradient descent on per-block coefficients of x(λ) = a + Σ_j λ_{j,b} (v_j − a): the
 * machinery shared by FW-soft (a = x_t, v_j = the selected vertices) and AdaMerging (a = θ₀,
 * v_j = θ_j). ∂ℓ/∂λ_{j,b} = ⟨∇_b ℓ(x(λ)), v_{j,b} − a_b⟩ is a block dot product, so the objective
 * only needs ∇ℓ with respect to the merged weights.
 *
 * <p>With resident directions the k differences v_j − a are computed once (k extra buffers);
 * otherwise each step re-reads v_j tensor by tensor, so memory stays constant in k. With every
 * sample at every step (batch size 0) the best point seen (lowest loss over all evaluated λ,
 * including the start) is returned; with minibatches, whose losses are not comparable from step to
 * step, the last one, with its loss on every sample.
 */
public final class CoefficientDescent {

    /** What the optimisation ended with. */
    public record Outcome(double[][] lambda, double loss, double startLoss, int evaluations) {
    }

    private static final double BETA1 = 0.9;
    private static final double BETA2 = 0.999;
    private static final double EPS = 1e-8;

    private CoefficientDescent() {
    }

    /**
     * Optimises λ ([vertex j][block b]) and writes the best x(λ) into {@code out}.
     *
     * @param anchor   a (not modified)
     * @param vertices v_1…v_k over the anchor's tensor names
     * @param out      receives the best point; same names as the anchor, must not alias it
     * @param guard    checks loss and gradient of each evaluation (throws on non-finite values)
     * @param onStep   called after each step with (step, loss) — for progress; may be null
     * @param seed     seeds the minibatches' draw (unused with batch size 0)
     */
    public static Outcome run(Objective objective, Model anchor, List<? extends Checkpoint> vertices, BlockLayout layout,
            CoefficientOptions options, Model out, Guard guard, StepListener onStep, long seed) {
        TensorBackend b = anchor.backend();
        List<String> names = layout.tensors();
        int k = vertices.size();
        int nb = layout.blockCount();
        double[][] lambda = new double[k][nb];
        double init = options.initialCoefficient(k);
        for (double[] row : lambda) {
            java.util.Arrays.fill(row, init);
        }
        project(lambda, options);

        List<Model> resident = new ArrayList<>();
        try {
            if (options.residentDirections()) {
                for (Checkpoint v : vertices) {
                    Model d = Model.load(v, names, b);
                    for (String name : names) {
                        b.axpy(-1.0, anchor.tensor(name), d.tensor(name));
                    }
                    resident.add(d);
                }
            }
            double[][] m = new double[k][nb];
            double[][] s = new double[k][nb];
            double[][] best = copy(lambda);
            double bestLoss = Double.POSITIVE_INFINITY;
            double startLoss = Double.NaN;
            int evaluations = 0;
            // Minibatch losses of different steps are not comparable: with batches the last λ is kept
            // (as the paper's code does) and judged by one evaluation on every sample.
            boolean batched = options.batchSize() > 0;
            java.util.SplittableRandom draw = new java.util.SplittableRandom(seed);
            for (int step = 0; step <= options.steps(); step++) {
                form(anchor, vertices, resident, layout, lambda, out);
                if (step == options.steps()) {
                    // The last update is checked by a loss-only evaluation.
                    double loss = guard.loss(objective.loss(out), step);
                    evaluations++;
                    if (batched || loss < bestLoss) {
                        bestLoss = loss;
                        best = copy(lambda);
                    }
                    break;
                }
                double[][] grad = new double[k][nb];
                double loss;
                Objective stepObjective = batched ? objective.minibatch(options.batchSize(), draw) : objective;
                try (Evaluation e = stepObjective.evaluate(out)) {
                    loss = guard.evaluation(e, out, step);
                    evaluations++;
                    // ∂ℓ/∂λ_{j,b} = ⟨g_b, v_j,b − a_b⟩: one blocked pass over the vertices (or the resident directions).
                    LmoPass pass = LmoPass.run(e, anchor, resident.isEmpty() ? vertices : resident, layout,
                            org.fwmerge.Lmo.Score.INNER_PRODUCT);
                    for (int j = 0; j < k; j++) {
                        for (int blk = 0; blk < nb; blk++) {
                            grad[j][blk] = pass.innerProduct(j, blk) - (resident.isEmpty() ? pass.atPoint(blk) : 0);
                        }
                    }
                }
                if (step == 0) {
                    startLoss = loss;
                }
                if (!batched && loss < bestLoss) {
                    bestLoss = loss;
                    best = copy(lambda);
                }
                if (onStep != null) {
                    onStep.onStep(step, loss);
                }
                update(lambda, grad, m, s, step + 1, options);
                project(lambda, options);
            }
            if (!batched) {
                form(anchor, vertices, resident, layout, best, out);
            }
            return new Outcome(best, bestLoss, startLoss, evaluations);
        } finally {
            resident.forEach(Model::close);
        }
    }

    /** out = a + Σ_j λ_{j,b} (v_j − a) (or, resident, a + Σ_j λ_{j,b} d_j), tensor by tensor. */
    static void form(Model anchor, List<? extends Checkpoint> vertices, List<Model> resident, BlockLayout layout,
            double[][] lambda, Model out) {
        List<String> names = layout.tensors();
        List<Checkpoint> sources = new ArrayList<>();
        sources.add(anchor);
        sources.addAll(resident.isEmpty() ? vertices : resident);
        double[] w = new double[sources.size()];
        for (int p = 0; p < names.size(); p++) {
            String name = names.get(p);
            int blk = layout.blockOf(p);
            w[0] = 1;
            for (int j = 0; j < lambda.length; j++) {
                w[1 + j] = lambda[j][blk];
                if (resident.isEmpty()) {
                    w[0] -= lambda[j][blk];
                }
            }
            try (Readers r = Readers.open(sources, name)) {
                Combine.into(out.tensor(name), w, r.all());
            }
        }
    }

    private static void update(double[][] lambda, double[][] grad, double[][] m, double[][] s, int t,
            CoefficientOptions o) {
        double lr = o.learningRate();
        for (int j = 0; j < lambda.length; j++) {
            for (int blk = 0; blk < lambda[j].length; blk++) {
                double g = grad[j][blk];
                if (o.optimizer() == CoefficientOptions.Optimizer.GRADIENT_DESCENT) {
                    lambda[j][blk] -= lr * g;
                } else {
                    m[j][blk] = BETA1 * m[j][blk] + (1 - BETA1) * g;
                    s[j][blk] = BETA2 * s[j][blk] + (1 - BETA2) * g * g;
                    double mHat = m[j][blk] / (1 - Math.pow(BETA1, t));
                    double sHat = s[j][blk] / (1 - Math.pow(BETA2, t));
                    lambda[j][blk] -= lr * mHat / (Math.sqrt(sHat) + EPS);
                }
            }
        }
    }

    /** Projects each block's coefficient vector (over the vertices) onto the feasible set. */
    static void project(double[][] lambda, CoefficientOptions o) {
        if (lambda.length == 0) {
            return;
        }
        double[] col = new double[lambda.length];
        for (int blk = 0; blk < lambda[0].length; blk++) {
            for (int j = 0; j < lambda.length; j++) {
                col[j] = lambda[j][blk];
            }
            Projections.project(col, o.constraint());
            for (int j = 0; j < lambda.length; j++) {
                lambda[j][blk] = col[j];
            }
        }
    }

    private static double[][] copy(double[][] a) {
        double[][] c = new double[a.length][];
        for (int i = 0; i < a.length; i++) {
            c[i] = a[i].clone();
        }
        return c;
    }

    /** Progress callback for long inner loops. */
    @FunctionalInterface
    public interface StepListener {
        void onStep(int step, double loss);
    }
}
