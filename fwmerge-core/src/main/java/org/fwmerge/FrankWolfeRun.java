package org.fwmerge;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.fwmerge.internal.BlockLayout;
import org.fwmerge.internal.CoefficientDescent;
import org.fwmerge.internal.Guard;
import org.fwmerge.internal.LmoPass;
import org.fwmerge.internal.VertexCheckpoint;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.TensorInfo;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/** The state of one {@link FrankWolfeMerger#merge} call. Resident: x_t, one scratch model, ∇ℓ(x_t). */
final class FrankWolfeRun {
    private final FrankWolfeMerger cfg;
    private final ModelPool pool;
    private final TensorBackend backend;
    private final Guard guard;

    FrankWolfeRun(FrankWolfeMerger cfg, ModelPool pool) {
        this.cfg = cfg;
        this.pool = pool;
        this.backend = cfg.backend();
        this.guard = new Guard(cfg.soft() == null ? "FW-hard" : "FW-soft");
    }

    MergeResult run() {
        long start = System.nanoTime();
        Checkpoint base = pool.base();
        List<String> names = pool.select(cfg.parameters());
        List<Checkpoint> vertices = new ArrayList<>();
        vertices.add(base);
        vertices.addAll(pool.candidates());
        BlockLayout layout = new BlockLayout(names, cfg.lmo().blocks());
        Map<String, Integer> tensorIndex = new HashMap<>();
        for (int p = 0; p < names.size(); p++) {
            tensorIndex.put(names.get(p), p);
        }

        Model x = start(names, vertices);
        boolean trackHull = cfg.soft() == null ? cfg.mergeFn().staysInHull()
                : cfg.soft().coefficients().constraint() != CoefficientOptions.Constraint.UNCONSTRAINED;
        double[][] hull = new double[layout.blockCount()][vertices.size()];
        for (double[] row : hull) {
            row[cfg.initialPoint().isBase() ? 0 : vertices.size() - 1] = 1;
        }

        Model scratch = Model.zerosLike(x);
        List<IterationRecord> trace = new ArrayList<>();
        StopReason reason = StopReason.MAX_ITERATIONS;
        double lossOfX = Double.NaN;
        try {
            for (int t = 0; t < cfg.maxIterations(); t++) {
                long t0 = System.nanoTime();
                double loss;
                double gap;
                LmoPass pass;
                int[][] selection;
                try (Evaluation e = cfg.objective().evaluate(x)) {
                    loss = guard.evaluation(e, x, t);
                    pass = LmoPass.run(e, x, vertices, layout, cfg.lmo().score());
                    gap = pass.gap();
                    selection = gap <= cfg.tolerance() || cfg.soft() == null ? pass.best(1, null)
                            : cfg.soft().isPerTask() ? perTaskSelection(t, x, vertices, layout)
                            : pass.best(Math.min(cfg.soft().k(), vertices.size()), null);
                }
                if (gap <= cfg.tolerance()) {
                    record(trace, new IterationRecord(t, loss, gap, lists(selection), Double.NaN, List.of(),
                            System.nanoTime() - t0));
                    lossOfX = loss;
                    reason = StopReason.CONVERGED;
                    break;
                }
                if (cfg.soft() == null && cfg.pairwise()) {
                    int[] away = awayVertices(pass, hull, selection);
                    double gamma = pairwiseStep(t, loss, gap, pass, x, vertices, layout, tensorIndex, selection, away,
                            hull, scratch);
                    record(trace, new IterationRecord(t, loss, gap, lists(selection), gamma, List.of(),
                            System.nanoTime() - t0));
                    if (gamma == 0) {
                        lossOfX = loss;
                        reason = StopReason.STALLED;
                        break;
                    }
                } else if (cfg.soft() == null) {
                    double gamma = hardStep(t, loss, gap, pass, x, vertices, layout, tensorIndex, selection, scratch);
                    record(trace, new IterationRecord(t, loss, gap, lists(selection), gamma, List.of(),
                            System.nanoTime() - t0));
                    if (gamma == 0) {
                        lossOfX = loss;
                        reason = StopReason.STALLED;
                        break;
                    }
                    for (int blk = 0; blk < hull.length; blk++) {
                        for (int i = 0; i < hull[blk].length; i++) {
                            hull[blk][i] *= 1 - gamma;
                        }
                        hull[blk][selection[blk][0]] += gamma;
                    }
                } else {
                    double[][] lambda = softStep(t, x, vertices, layout, tensorIndex, selection, scratch);
                    List<List<Double>> coefficients = new ArrayList<>();
                    for (int blk = 0; blk < hull.length; blk++) {
                        List<Double> row = new ArrayList<>();
                        double sum = 0;
                        for (double[] l : lambda) {
                            row.add(l[blk]);
                            sum += l[blk];
                        }
                        coefficients.add(row);
                        for (int i = 0; i < hull[blk].length; i++) {
                            hull[blk][i] *= 1 - sum;
                        }
                        for (int j = 0; j < lambda.length; j++) {
                            hull[blk][selection[blk][j]] += lambda[j][blk];
                        }
                    }
                    record(trace, new IterationRecord(t, loss, gap, lists(selection), Double.NaN, coefficients,
                            System.nanoTime() - t0));
                }
                Model swap = x;
                x = scratch;
                scratch = swap;
            }
            if (Double.isNaN(lossOfX)) {
                lossOfX = guard.loss(cfg.objective().loss(x), cfg.maxIterations());
            }
        } catch (RuntimeException e) {
            x.close();
            throw e;
        } finally {
            scratch.close();
            if (vertices.size() > pool.size() + 1) {
                vertices.get(vertices.size() - 1).close();
            }
        }
        List<String> labels = vertices.stream().map(Checkpoint::source).toList();
        if (labels.size() > pool.size() + 1) {
            labels = new ArrayList<>(labels);
            labels.set(labels.size() - 1, "initial point: " + cfg.initialPoint());
        }
        return new MergeResult(x, cfg.configuration().get("method"), reason, trace, lossOfX, labels, layout.blocks(),
                provenance(), trackHull ? hull : null, Duration.ofNanos(System.nanoTime() - start), pool.files());
    }

    private Map<String, String> provenance() {
        Map<String, String> c = new java.util.LinkedHashMap<>(cfg.configuration());
        c.put("base", pool.base().source());
        for (int i = 0; i < pool.size(); i++) {
            c.put("candidate." + (i + 1), pool.candidates().get(i).source());
        }
        return c;
    }

    private void record(List<IterationRecord> trace, IterationRecord r) {
        trace.add(r);
        cfg.listener().onIteration(r, cfg.maxIterations());
    }

    /** x₀ as a writable model; a start that is not the base is appended to the vertices. */
    private Model start(List<String> names, List<Checkpoint> vertices) {
        InitialPoint ip = cfg.initialPoint();
        if (ip.isBase()) {
            return Model.load(pool.base(), names, backend);
        }
        Checkpoint c;
        Model produced = null;
        if (ip.checkpoint() != null) {
            c = ip.checkpoint();
        } else {
            produced = ip.merger().merge(pool).model();
            c = produced;
        }
        for (String name : names) {
            if (!c.contains(name)) {
                throw new IllegalArgumentException("initial point " + ip + " has no tensor '" + name + "' to merge");
            }
            TensorInfo want = pool.base().info(name);
            if (!want.sameShape(c.info(name))) {
                throw new IllegalArgumentException("initial point " + ip + ": tensor '" + name + "' has shape "
                        + Arrays.toString(c.info(name).shape()) + ", the pool has " + Arrays.toString(want.shape()));
            }
        }
        Model x = Model.load(c, names, backend);
        if (produced != null) {
            produced.close();
        }
        vertices.add(x.copy());
        return x;
    }

    private double hardStep(int t, double loss, double gap, LmoPass pass, Model x, List<Checkpoint> vertices, BlockLayout layout,
            Map<String, Integer> tensorIndex, int[][] selection, Model scratch) {
        int[] choice = new int[layout.blockCount()];
        for (int blk = 0; blk < choice.length; blk++) {
            choice[blk] = selection[blk][0];
        }
        Checkpoint s = new VertexCheckpoint(vertices, layout, choice, tensorIndex);
        MergeFn fn = cfg.mergeFn();
        // ⟨g, s − x⟩ block by block from the LMO pass: exact for whatever score picked s.
        double exactSlope = 0;
        for (int blk = 0; blk < choice.length; blk++) {
            exactSlope += pass.innerProducts[choice[blk]][blk] - pass.atPoint[blk];
        }
        double slope = fn == MergeFn.convexCombination() ? exactSlope : Double.NaN;
        double[] inScratch = {Double.NaN};
        double gamma = cfg.stepSize().stepSize(context(t, loss, gap, slope, g -> {
            fn.merge(x, s, g, scratch);
            inScratch[0] = g;
            return guard.loss(cfg.objective().loss(scratch), t);
        }));
        checkStep(gamma, t);
        if (gamma != 0 && gamma != inScratch[0]) {
            fn.merge(x, s, gamma, scratch);
        }
        return gamma;
    }

    /** Per block, the active vertex (weight > 0) with the largest ⟨g_b, θ_i,b⟩ (ties: lowest index). */
    private static int[] awayVertices(LmoPass pass, double[][] hull, int[][] selection) {
        int[] away = new int[hull.length];
        for (int blk = 0; blk < hull.length; blk++) {
            int a = -1;
            for (int i = 0; i < hull[blk].length; i++) {
                if (hull[blk][i] > 0 && (a < 0 || pass.innerProducts[i][blk] > pass.innerProducts[a][blk])) {
                    a = i;
                }
            }
            away[blk] = a;
        }
        return away;
    }

    /**
     * x ← x + γ·γ_max·(s − a) per block, γ ∈ [0, 1] from the step rule, γ_max the smallest weight of an
     * away vertex among blocks that move; updates the hull weights. Returns the actual step γ·γ_max.
     */
    private double pairwiseStep(int t, double loss, double gap, LmoPass pass, Model x, List<Checkpoint> vertices,
            BlockLayout layout, Map<String, Integer> tensorIndex, int[][] selection, int[] away, double[][] hull,
            Model scratch) {
        int nb = layout.blockCount();
        int[] to = new int[nb];
        double maxStep = Double.POSITIVE_INFINITY;
        double slope = 0;
        for (int blk = 0; blk < nb; blk++) {
            to[blk] = selection[blk][0];
            if (to[blk] != away[blk]) {
                maxStep = Math.min(maxStep, hull[blk][away[blk]]);
                slope += pass.innerProducts[to[blk]][blk] - pass.innerProducts[away[blk]][blk];
            }
        }
        if (maxStep == Double.POSITIVE_INFINITY) {
            return 0;
        }
        Checkpoint s = new VertexCheckpoint(vertices, layout, to, tensorIndex);
        Checkpoint a = new VertexCheckpoint(vertices, layout, away, tensorIndex);
        TensorBackend b = backend;
        List<String> names = layout.tensors();
        double range = maxStep;
        double scaledSlope = slope * range;
        double[] inScratch = {Double.NaN};
        java.util.function.DoubleConsumer form = gamma -> {
            for (int p = 0; p < names.size(); p++) {
                String name = names.get(p);
                Tensor o = scratch.tensor(name);
                b.copy(x.tensor(name), o);
                int blk = layout.blockOf(p);
                if (to[blk] != away[blk]) {
                    try (Tensor st = s.load(name, b); Tensor at = a.load(name, b)) {
                        b.axpy(gamma * range, st, o);
                        b.axpy(-gamma * range, at, o);
                    }
                }
            }
            inScratch[0] = gamma;
        };
        double gamma = cfg.stepSize().stepSize(context(t, loss, gap, scaledSlope, g -> {
            form.accept(g);
            return guard.loss(cfg.objective().loss(scratch), t);
        }));
        checkStep(gamma, t);
        if (gamma == 0) {
            return 0;
        }
        if (gamma != inScratch[0]) {
            form.accept(gamma);
        }
        for (int blk = 0; blk < nb; blk++) {
            if (to[blk] != away[blk]) {
                double moved = gamma * range;
                hull[blk][to[blk]] += moved;
                // A full step empties the away vertex exactly (a "drop step"), keeping the active set clean.
                hull[blk][away[blk]] = gamma == 1 && hull[blk][away[blk]] == range ? 0
                        : Math.max(0, hull[blk][away[blk]] - moved);
            }
        }
        return gamma * range;
    }

    private StepSizeRule.Context context(int t, double loss, double gap, double slope,
            java.util.function.DoubleUnaryOperator lossAt) {
        return new StepSizeRule.Context() {
            @Override
            public int iteration() {
                return t;
            }

            @Override
            public double loss() {
                return loss;
            }

            @Override
            public double gap() {
                return gap;
            }

            @Override
            public double slope() {
                return slope;
            }

            @Override
            public double lossAt(double gamma) {
                return lossAt.applyAsDouble(gamma);
            }
        };
    }

    private void checkStep(double gamma, int t) {
        if (!(gamma >= 0 && gamma <= 1)) {
            throw new IllegalStateException("step-size rule " + cfg.stepSize() + " returned γ = " + gamma
                    + " at FW-hard iteration " + t + "; a step size must be finite and in [0, 1]");
        }
    }

    private double[][] softStep(int t, Model x, List<Checkpoint> vertices, BlockLayout layout, Map<String, Integer> tensorIndex,
            int[][] selection, Model scratch) {
        int k = selection[0].length;
        List<Checkpoint> picked = new ArrayList<>();
        for (int j = 0; j < k; j++) {
            int[] choice = new int[layout.blockCount()];
            for (int blk = 0; blk < choice.length; blk++) {
                choice[blk] = selection[blk][j];
            }
            picked.add(new VertexCheckpoint(vertices, layout, choice, tensorIndex));
        }
        return CoefficientDescent.run(cfg.objective(), x, picked, layout, cfg.soft().coefficients(), scratch,
                guard.inner(t), null)
                .lambda();
    }

    /** One vertex per objective term: the best for that term's gradient, no vertex twice in a block. */
    private int[][] perTaskSelection(int t, Model x, List<Checkpoint> vertices, BlockLayout layout) {
        List<Objective> terms = cfg.objective().terms();
        if (terms.isEmpty()) {
            throw new IllegalStateException("SoftOptions.perTask() needs an objective that is a sum of per-task terms "
                    + "(Objective.sum(...)); " + cfg.objective() + " has none");
        }
        int k = Math.min(terms.size(), vertices.size());
        int nb = layout.blockCount();
        int[][] out = new int[nb][k];
        boolean[][] used = new boolean[nb][vertices.size()];
        for (int j = 0; j < k; j++) {
            try (Evaluation e = terms.get(j).evaluate(x)) {
                guard.evaluation(e, x, t);
                int[][] best = LmoPass.run(e, x, vertices, layout, cfg.lmo().score()).best(1, used);
                for (int blk = 0; blk < nb; blk++) {
                    out[blk][j] = best[blk][0];
                    used[blk][best[blk][0]] = true;
                }
            }
        }
        return out;
    }

    private static List<List<Integer>> lists(int[][] selection) {
        List<List<Integer>> out = new ArrayList<>();
        for (int[] row : selection) {
            out.add(Arrays.stream(row).boxed().toList());
        }
        return out;
    }
}
