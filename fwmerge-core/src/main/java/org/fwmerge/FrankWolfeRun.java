package org.fwmerge;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.fwmerge.internal.BlockLayout;
import org.fwmerge.internal.Guard;
import org.fwmerge.internal.LmoPass;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.TensorInfo;

/**
 * One {@link FrankWolfeMerger#merge} call: Algorithm 1 of the paper, the loop every variant shares —
 * gradient, LMO, gap, stop rules, listener, trace and the best iterate — with the step itself left to
 * a {@link FrankWolfeStep} (FW-hard, pairwise, FW-soft). Resident: x_t, one scratch model, ∇ℓ(x_t), and
 * a copy of the best iterate only while a later one is worse.
 */
final class FrankWolfeRun {

    /** Iterations without a better loss after which a variant that can stagnate stops ({@link StopReason#STAGNATED}). */
    static final int PATIENCE = 3;

    private final FrankWolfeMerger cfg;
    private final ModelPool pool;
    private final Guard guard;
    private final List<Checkpoint> vertices = new ArrayList<>();

    FrankWolfeRun(FrankWolfeMerger cfg, ModelPool pool) {
        this.cfg = cfg;
        this.pool = pool;
        this.guard = new Guard(cfg.soft() == null ? "FW-hard" : "FW-soft");
    }

    /** The best iterate seen (lowest loss), kept without a copy while it is the current one. */
    private static final class Best {
        double loss = Double.POSITIVE_INFINITY;
        double gap = Double.NaN;
        int iteration = -1;
        double[][] hull;
        Model copy;
        boolean isCurrent;
        /** The last iteration that lowered the best loss by more than rounding (for stagnation). */
        int improved = -1;

        /**
         * Offers x_t with its loss and gap; {@code previous} holds x_{t−1} (the scratch model after the
         * swap), copied aside when x_{t−1} was the best and x_t is worse.
         */
        void offer(int t, double loss, double gap, double[][] hull, Model previous) {
            if (loss < this.loss - 1e-12 * Math.max(1, Math.abs(loss))) {
                improved = t;
            }
            if (loss <= this.loss) {
                this.loss = loss;
                this.gap = gap;
                this.iteration = t;
                this.hull = deepCopy(hull);
                this.isCurrent = true;
                return;
            }
            if (isCurrent) {
                if (copy == null) {
                    copy = previous.copy();
                } else {
                    copy.copyFrom(previous);
                }
                isCurrent = false;
            }
        }
    }

    MergeResult run() {
        long start = System.nanoTime();
        List<String> names = pool.select(cfg.parameters());
        vertices.add(pool.base());
        vertices.addAll(pool.candidates());
        BlockLayout layout = new BlockLayout(names, cfg.lmo().blocks());
        checkMemory(names);
        Model x = start(names);
        FrankWolfeState state = new FrankWolfeState(cfg, guard, vertices, layout, cfg.initialPoint().isBase() ? 0 : vertices.size() - 1);
        double[][] hull = state.hull;
        FrankWolfeStep step = cfg.soft() != null ? new SoftStep(state) : cfg.pairwise() ? new PairwiseStep(state)
                : new HardStep(state);

        Model scratch = Model.zerosLike(x);
        Best best = new Best();
        List<IterationRecord> trace = new ArrayList<>();
        StopReason reason;
        try {
            for (int t = 0; ; t++) {
                long t0 = System.nanoTime();
                double loss;
                double gap;
                LmoPass pass;
                try (Evaluation e = cfg.objective().evaluate(x)) {
                    loss = guard.evaluation(e, x, t);
                    pass = LmoPass.run(e, x, vertices, layout, cfg.lmo().score());
                    gap = pass.gap();
                }
                best.offer(t, loss, gap, hull, scratch);
                // In the hull, gap ≥ 0 bounds the suboptimality. A step that leaves it (unconstrained
                // coefficients, a merge function outside M) can make ⟨g, x − s⟩ negative at a point that is
                // far from stationary — moving away from the vertices still descends — so there only a gap
                // near zero either way counts as converged.
                double tolerance = cfg.tolerance().threshold(loss);
                if (step.staysInHull() ? gap <= tolerance : Math.abs(gap) <= tolerance) {
                    if (t < cfg.maxIterations()) {
                        record(trace, new IterationRecord(t, loss, gap, lists(pass.best(1, null)), Double.NaN, List.of(),
                                System.nanoTime() - t0));
                    }
                    reason = StopReason.CONVERGED;
                    break;
                }
                if (t == cfg.maxIterations()) {
                    reason = StopReason.MAX_ITERATIONS; // x_T evaluated for its loss and gap, no step taken
                    break;
                }
                if (step.canStagnate() && t - best.improved >= PATIENCE) {
                    record(trace, new IterationRecord(t, loss, gap, List.of(), Double.NaN, List.of(), System.nanoTime() - t0));
                    reason = StopReason.STAGNATED;
                    break;
                }
                int[][] selection = step.select(t, pass, x);
                FrankWolfeStep.Outcome o = step.take(t, loss, gap, pass, selection, x, scratch);
                record(trace, new IterationRecord(t, loss, gap, lists(selection), o.stepSize(), o.coefficients(),
                        System.nanoTime() - t0));
                if (!o.moved()) {
                    reason = StopReason.STALLED;
                    break;
                }
                Model swap = x;
                x = scratch;
                scratch = swap;
            }
        } catch (RuntimeException e) {
            x.close();
            if (best.copy != null) {
                best.copy.close();
            }
            throw e;
        } finally {
            scratch.close();
            if (vertices.size() > pool.size() + 1) {
                vertices.get(vertices.size() - 1).close();
            }
        }
        Model returned = x;
        if (!best.isCurrent) {
            x.close();
            returned = best.copy;
        } else if (best.copy != null) {
            best.copy.close();
        }
        List<String> labels = vertices.stream().map(Checkpoint::source).toList();
        if (labels.size() > pool.size() + 1) {
            labels = new ArrayList<>(labels);
            labels.set(labels.size() - 1, "initial point: " + cfg.initialPoint());
        }
        return new MergeResult(returned, cfg.configuration().get("method"), reason, trace, best.loss, best.gap,
                best.iteration, labels, layout.blocks(), provenance(), step.staysInHull() ? best.hull : null,
                Duration.ofNanos(System.nanoTime() - start), pool.files());
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

    /**
     * Fails before any work when the backend cannot hold what the run needs: the point, the next point
     * and the gradient (3 float32 copies of the merged parameters), plus the resident directions of
     * FW-soft (k more); the copy of the best iterate and the objective's own memory come on top.
     */
    private void checkMemory(List<String> names) {
        long params = 0;
        for (String name : names) {
            params += org.fwmerge.tensor.Tensor.sizeOf(pool.base().info(name).shape());
        }
        SoftOptions soft = cfg.soft();
        int copies = 3 + (soft != null && soft.coefficients().residentDirections() ? Math.max(soft.k(), 1) : 0);
        long need = 4L * params * copies;
        long available = cfg.backend().availableBytes();
        if (need > available) {
            throw new IllegalStateException(String.format(
                    "Frank-Wolfe on %,d parameters needs at least %.2f GB of tensor memory (%d float32 copies: point, next "
                            + "point, gradient%s) but backend %s can allocate %.2f GB more; give it more with %s",
                    params, need / 1e9, copies, copies > 3 ? ", resident directions" : "", cfg.backend().name(),
                    available / 1e9, cfg.backend().memorySetting()));
        }
    }

    /** x₀ as a writable model; a start that is not the base is appended to the vertices. */
    private Model start(List<String> names) {
        InitialPoint ip = cfg.initialPoint();
        if (ip.isBase()) {
            return Model.load(pool.base(), names, cfg.backend());
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
        Model x = Model.load(c, names, cfg.backend());
        if (produced != null) {
            produced.close();
        }
        vertices.add(x.copy());
        return x;
    }

    private static double[][] deepCopy(double[][] a) {
        double[][] c = new double[a.length][];
        for (int i = 0; i < a.length; i++) {
            c[i] = a[i].clone();
        }
        return c;
    }

    private static List<List<Integer>> lists(int[][] selection) {
        List<List<Integer>> out = new ArrayList<>();
        for (int[] row : selection) {
            out.add(Arrays.stream(row).boxed().toList());
        }
        return out;
    }
}
