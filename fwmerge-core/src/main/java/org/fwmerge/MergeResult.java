package org.fwmerge;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.fwmerge.internal.OverlayCheckpoint;
import org.fwmerge.io.Checkpoint;

/**
 * Everything a merge did: the merged model, why it stopped, a record per iteration, and the
 * configuration that produced it with the pool it read (provenance). The merged {@link #model()} holds
 * only the merged tensors; {@link #withUnmerged(Checkpoint)} adds the rest from the base for saving.
 * The result owns the model: {@link #close()} frees it.
 *
 * <p>Mergers make results with {@link #builder(Model, String)}; a {@link Merger} of your own does too.
 */
public final class MergeResult implements AutoCloseable {

    private final Model model;
    private final String method;
    private final StopReason stopReason;
    private final List<IterationRecord> iterations;
    private final double returnedLoss;
    private final double returnedGap;
    private final int returnedIteration;
    private final List<String> vertices;
    private final List<String> blocks;
    private final Map<String, String> configuration;
    private final List<List<Double>> hullCoefficients; // null: the method may leave the hull
    private final Duration elapsed;
    private final List<Path> inputs;

    private MergeResult(Builder b) {
        this.model = b.model;
        this.method = b.method;
        this.stopReason = b.stopReason;
        this.iterations = List.copyOf(b.iterations);
        this.returnedLoss = b.returnedLoss;
        this.returnedGap = b.returnedGap;
        this.returnedIteration = b.returnedIteration;
        this.vertices = List.copyOf(b.vertices);
        this.blocks = List.copyOf(b.blocks);
        Map<String, String> c = new LinkedHashMap<>();
        c.put("method", method); // first, whatever the settings say
        c.putAll(b.settings);
        c.put("method", method);
        if (b.pool != null) {
            c.put("base", b.pool.base().source());
            for (int i = 0; i < b.pool.size(); i++) {
                c.put("candidate." + (i + 1), b.pool.candidates().get(i).source());
            }
        }
        this.configuration = Collections.unmodifiableMap(c);
        this.hullCoefficients = b.hullCoefficients;
        this.elapsed = b.elapsed;
        this.inputs = b.pool == null ? List.of() : b.pool.files();
    }

    /**
     * A builder for the result of merging into {@code model} by {@code method} (e.g. {@code "ties"}).
     * Defaults: stop reason {@link StopReason#COMPLETED}, no iterations, no loss or gap (NaN), returned
     * iteration -1, no vertices or blocks, no hull coefficients, no settings, no pool, zero elapsed time.
     */
    public static Builder builder(Model model, String method) {
        return new Builder(model, method);
    }

    /** The merged tensors (the selected parameters only), owned by this result until {@link #close()}. */
    public Model model() {
        return model;
    }

    /** The method's name, e.g. {@code "fw-hard"}, {@code "task-arithmetic"}. */
    public String method() {
        return method;
    }

    /** Why the run ended. */
    public StopReason stopReason() {
        return stopReason;
    }

    /** One record per iteration, in order (empty for one-shot methods). */
    public List<IterationRecord> iterations() {
        return iterations;
    }

    /** ℓ at the returned model ({@link #returnedIteration()}), or NaN if the method has no objective. */
    public double returnedLoss() {
        return returnedLoss;
    }

    /**
     * The FW gap at the returned model (for an iterate in the hull and a convex objective, an upper bound on
     * ℓ(x) − min ℓ; negative when the iterate has left the hull), or NaN for methods without one.
     */
    public double returnedGap() {
        return returnedGap;
    }

    /**
     * Which iterate was returned: t for x_t, the point FW iteration t started from, so the budget T
     * itself for the point after the last iteration. Frank-Wolfe returns the iterate with the lowest
     * loss it evaluated, which is the last one unless a merge function that leaves the hull, a noisy
     * objective or a stagnating FW-soft made later iterates worse. For AdaMerging, its last step; -1 for
     * one-shot methods.
     */
    public int returnedIteration() {
        return returnedIteration;
    }

    /**
     * The vertices selections refer to: index 0 is the base, 1…n the pool's candidates in order, and
     * n+1 the initial point when it was not already one of them (paper Alg. 1 line 1). Empty for
     * methods without vertices.
     */
    public List<String> vertices() {
        return vertices;
    }

    /** Block names, in the order of {@link IterationRecord#selection()}. */
    public List<String> blocks() {
        return blocks;
    }

    /**
     * The settings that produced this result and the pool it read ({@code method}, the method's settings,
     * {@code base}, {@code candidate.1}…), as strings (stored as checkpoint metadata when saved).
     */
    public Map<String, String> configuration() {
        return configuration;
    }

    /**
     * Per block (rows, in {@link #blocks()} order), the convex weights of the vertices (columns, in
     * {@link #vertices()} order) that reconstruct the merged model, when every step stayed in the hull.
     */
    public Optional<List<List<Double>>> hullCoefficients() {
        return Optional.ofNullable(hullCoefficients);
    }

    /** Wall time of the merge. */
    public Duration elapsed() {
        return elapsed;
    }

    /**
     * The merged tensors with every other tensor of {@code base} (e.g. task heads left out of the
     * merge), as one checkpoint ready to be written. Its {@link Checkpoint#files()} are the pool's and
     * the base's files, so the writers refuse an output path that would replace one of them; tensors
     * that were not merged keep their stored bytes ({@link Checkpoint#storedBytes}), so integer or
     * boolean tensors pass through unchanged.
     */
    public Checkpoint withUnmerged(Checkpoint base) {
        return new OverlayCheckpoint(model, base, configuration, inputs);
    }

    /** Frees the merged model. */
    @Override
    public void close() {
        model.close();
    }

    @Override
    public String toString() {
        return "MergeResult[" + method + ", " + stopReason + ", " + iterations.size() + " iterations, loss="
                + returnedLoss + ", " + elapsed.toMillis() + " ms]";
    }

    /**
     * Assembles a {@link MergeResult} from what a merger did: the model and method are given to
     * {@link MergeResult#builder}, the rest is optional and every setter replaces its value. Not thread-safe.
     */
    public static final class Builder {
        private final Model model;
        private final String method;
        private StopReason stopReason = StopReason.COMPLETED;
        private List<IterationRecord> iterations = List.of();
        private double returnedLoss = Double.NaN;
        private double returnedGap = Double.NaN;
        private int returnedIteration = -1;
        private List<String> vertices = List.of();
        private List<String> blocks = List.of();
        private Map<String, String> settings = Map.of();
        private List<List<Double>> hullCoefficients;
        private Duration elapsed = Duration.ZERO;
        private ModelPool pool;

        private Builder(Model model, String method) {
            this.model = Objects.requireNonNull(model, "model");
            this.method = Objects.requireNonNull(method, "method");
        }

        /** Why the merge ended (default {@link StopReason#COMPLETED}). */
        public Builder stopReason(StopReason reason) {
            this.stopReason = Objects.requireNonNull(reason, "reason");
            return this;
        }

        /** The iterations, in order (copied). */
        public Builder iterations(List<IterationRecord> records) {
            this.iterations = List.copyOf(records);
            return this;
        }

        /**
         * The iterate returned: its iteration, loss and FW gap (NaN where the method has none).
         *
         * @throws IllegalArgumentException if {@code iteration < -1}
         */
        public Builder returned(int iteration, double loss, double gap) {
            if (iteration < -1) {
                throw new IllegalArgumentException("returned iteration must be ≥ -1, got " + iteration);
            }
            this.returnedIteration = iteration;
            this.returnedLoss = loss;
            this.returnedGap = gap;
            return this;
        }

        /** What the selections' vertex indices refer to (copied). */
        public Builder vertices(List<String> labels) {
            this.vertices = List.copyOf(labels);
            return this;
        }

        /** Block names, in selection order (copied). */
        public Builder blocks(List<String> names) {
            this.blocks = List.copyOf(names);
            return this;
        }

        /** The method's settings as strings, in order (copied; the method and the pool are added). */
        public Builder settings(Map<String, String> settings) {
            this.settings = new LinkedHashMap<>(settings);
            return this;
        }

        /**
         * Per block, the convex weight of each vertex in the merged model (copied), for a method whose
         * iterates stayed in the hull; do not call otherwise.
         */
        public Builder hullCoefficients(double[][] weights) {
            List<List<Double>> rows = new ArrayList<>();
            for (double[] row : weights) {
                List<Double> r = new ArrayList<>(row.length);
                for (double w : row) {
                    r.add(w);
                }
                rows.add(Collections.unmodifiableList(r));
            }
            this.hullCoefficients = Collections.unmodifiableList(rows);
            return this;
        }

        /** The wall time of the merge. */
        public Builder elapsed(Duration elapsed) {
            this.elapsed = Objects.requireNonNull(elapsed, "elapsed");
            return this;
        }

        /**
         * The pool merged: its base and candidates are recorded in {@link MergeResult#configuration()}, and
         * its files are the inputs that writers of {@link MergeResult#withUnmerged} refuse to replace.
         */
        public Builder pool(ModelPool pool) {
            this.pool = Objects.requireNonNull(pool, "pool");
            return this;
        }

        /** The result. */
        public MergeResult build() {
            return new MergeResult(this);
        }
    }
}
