package org.fwmerge;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
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
    private final List<IterationRecord> trace = new ArrayList<>();

    FrankWolfeRun(FrankWolfeMerger cfg, ModelPool pool) {
        this.cfg = cfg;
        this.pool = pool;
        this.guard = new Guard(label(cfg.variant()));
    }

    /** The variant's name in messages. */
    private static String label(Variant v) {
        return v instanceof Variant.Soft ? "FW-soft" : v instanceof Variant.Pairwise ? "FW-pairwise" : "FW-hard";
    }

    /** The variant's step over the run's shared state. */
    private static FrankWolfeStep step(Variant v, FrankWolfeState state) {
        if (v instanceof Variant.Soft soft) {
            return new SoftStep(state, soft);
        }
        if (v instanceof Variant.Pairwise pairwise) {
            return new PairwiseStep(state, pairwise);
        }
        return new HardStep(state, (Variant.Hard) v);
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

        /** The best iterate, given the last one: the other of the two is freed. */
        Model take(Model last) {
            if (isCurrent) {
                if (copy != null) {
                    copy.close();
                }
                return last;
            }
            last.close();
            return copy;
        }

        void discard() {
            if (copy != null) {
                copy.close();
            }
        }
    }

    /** The two models the loop alternates between: x_t, and the scratch that receives x_{t+1}. */
    private static final class Iterates {
        Model x;
        Model scratch;

        Iterates(Model x) {
            this.x = x;
            this.scratch = Model.zerosLike(x);
        }

        void swap() {
            Model s = x;
            x = scratch;
            scratch = s;
        }
    }

    MergeResult run() {
        long start = System.nanoTime();
        List<String> names = pool.select(cfg.parameters());
        vertices.add(pool.base());
        vertices.addAll(pool.candidates());
        BlockLayout layout = new BlockLayout(names, cfg.lmo().blocks());
        checkMemory(names);
        Iterates it = new Iterates(start(names));
        FrankWolfeState state = new FrankWolfeState(cfg, guard, vertices, layout,
                cfg.initialPoint().isBase() ? 0 : vertices.size() - 1);
        FrankWolfeStep step = step(cfg.variant(), state);
        Best best = new Best();
        StopReason reason;
        try {
            reason = iterate(step, state, it, best);
        } catch (RuntimeException e) {
            it.x.close();
            best.discard();
            throw e;
        } finally {
            it.scratch.close();
            if (vertices.size() > pool.size() + 1) {
                vertices.get(vertices.size() - 1).close(); // the initial point's own copy
            }
        }
        List<String> labels = new ArrayList<>(vertices.stream().map(Checkpoint::source).toList());
        if (labels.size() > pool.size() + 1) {
            labels.set(labels.size() - 1, "initial point: " + cfg.initialPoint());
        }
        MergeResult.Builder r = MergeResult.builder(best.take(it.x), cfg.variant().method()).stopReason(reason)
                .iterations(trace).returned(best.iteration, best.loss, best.gap).vertices(labels).blocks(layout.blocks())
                .settings(cfg.configuration()).pool(pool).elapsed(Duration.ofNanos(System.nanoTime() - start));
        if (step.staysInHull()) {
            r.hullCoefficients(best.hull);
        }
        return r.build();
    }

    /** Algorithm 1's loop, from x₀ in {@code it.x}: returns why it stopped, {@code it.x} holding the last iterate. */
    private StopReason iterate(FrankWolfeStep step, FrankWolfeState state, Iterates it, Best best) {
        for (int t = 0; ; t++) {
            long t0 = System.nanoTime();
            double loss;
            double gap;
            LmoPass pass;
            try (Evaluation e = cfg.objective().evaluate(it.x)) {
                loss = guard.evaluation(e, it.x, t);
                pass = LmoPass.run(e, it.x, vertices, state.layout, cfg.lmo().score());
                gap = pass.gap();
            }
            best.offer(t, loss, gap, state.hull, it.scratch);
            // In the hull, gap ≥ 0 bounds the suboptimality. A step that leaves it (unconstrained
            // coefficients, a merge function outside M) can make ⟨g, x − s⟩ negative at a point that is
            // far from stationary — moving away from the vertices still descends — so there only a gap
            // near zero either way counts as converged.
            double tolerance = cfg.tolerance().threshold(loss);
            if (step.staysInHull() ? gap <= tolerance : Math.abs(gap) <= tolerance) {
                if (t < cfg.maxIterations()) {
                    record(new IterationRecord(t, loss, gap, lists(pass.best(1, null)), Double.NaN, List.of(),
                            System.nanoTime() - t0));
                }
                return StopReason.CONVERGED;
            }
            if (t == cfg.maxIterations()) {
                return StopReason.MAX_ITERATIONS; // x_T evaluated for its loss and gap, no step taken
            }
            if (step.canStagnate() && t - best.improved >= PATIENCE) {
                record(new IterationRecord(t, loss, gap, List.of(), Double.NaN, List.of(), System.nanoTime() - t0));
                return StopReason.STAGNATED;
            }
            int[][] selection = step.select(t, pass, it.x);
            FrankWolfeStep.Outcome o = step.take(t, loss, gap, pass, selection, it.x, it.scratch);
            record(new IterationRecord(t, loss, gap, lists(selection), o.stepSize(), o.coefficients(),
                    System.nanoTime() - t0));
            if (!o.moved()) {
                return StopReason.STALLED;
            }
            it.swap();
        }
    }

    private void record(IterationRecord r) {
        trace.add(r);
        cfg.listener().onIteration(r, cfg.maxIterations());
    }

    /**
     * Fails before any work when the backend cannot hold what the run needs: the point, the next point
     * and the gradient (3 float32 copies of the merged parameters), plus FW-soft's resident directions,
     * one per selected vertex (k, or one per objective term for {@link SoftOptions#perTask()}); the copy
     * of the best iterate and the objective's own memory come on top.
     */
    private void checkMemory(List<String> names) {
        long params = 0;
        for (String name : names) {
            params += org.fwmerge.tensor.Tensor.sizeOf(pool.base().info(name).shape());
        }
        int directions = 0;
        if (cfg.variant() instanceof Variant.Soft soft && soft.options().coefficients().residentDirections()) {
            int k = soft.options().isPerTask() ? cfg.objective().terms().size() : soft.options().k();
            directions = Math.min(k, pool.size() + 1 + (cfg.initialPoint().isBase() ? 0 : 1));
        }
        int copies = 3 + directions;
        long need = 4L * params * copies;
        long available = cfg.backend().availableBytes();
        if (need > available) {
            throw new IllegalStateException(String.format(
                    "Frank-Wolfe on %,d parameters needs at least %.2f GB of tensor memory (%d float32 copies: point, next "
                            + "point, gradient%s) but backend %s can allocate %.2f GB more; give it more with %s",
                    params, need / 1e9, copies, directions > 0 ? ", " + directions + " resident directions" : "",
                    cfg.backend().name(), available / 1e9, cfg.backend().memorySetting()));
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
