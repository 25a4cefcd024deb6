package org.fwmerge;

import java.time.Duration;
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
 * configuration that produced it (provenance). The merged {@link #model()} holds only the merged
 * tensors; {@link #withUnmerged(Checkpoint)} adds the rest from the base for saving.
 */
public final class MergeResult {

    private final Model model;
    private final String method;
    private final StopReason stopReason;
    private final List<IterationRecord> iterations;
    private final double finalLoss;
    private final double finalGap;
    private final int returnedIteration;
    private final List<String> vertices;
    private final List<String> blocks;
    private final Map<String, String> configuration;
    private final double[][] hullCoefficients;
    private final Duration elapsed;
    private final List<java.nio.file.Path> inputs;

    /**
     * Makes a result; mergers call this, users read results.
     *
     * @param hullCoefficients per block, the weight of each vertex in the merged point (rows sum to 1),
     *                         or null when the method may leave the hull
     * @param finalGap         the FW gap at the returned model, or NaN for methods without one
     * @param returnedIteration the iteration whose iterate was returned, or -1 for one-shot methods
     * @param inputs           the files the merge read ({@link ModelPool#files()}), which
     *                         {@link #withUnmerged} reports so that no writer replaces them
     */
    public MergeResult(Model model, String method, StopReason stopReason, List<IterationRecord> iterations,
            double finalLoss, double finalGap, int returnedIteration, List<String> vertices, List<String> blocks,
            Map<String, String> configuration, double[][] hullCoefficients, Duration elapsed,
            List<java.nio.file.Path> inputs) {
        this.model = Objects.requireNonNull(model, "model");
        this.method = Objects.requireNonNull(method, "method");
        this.stopReason = Objects.requireNonNull(stopReason, "stopReason");
        this.iterations = List.copyOf(iterations);
        this.finalLoss = finalLoss;
        this.finalGap = finalGap;
        this.returnedIteration = returnedIteration;
        this.vertices = List.copyOf(vertices);
        this.blocks = List.copyOf(blocks);
        this.configuration = Collections.unmodifiableMap(new LinkedHashMap<>(configuration));
        this.hullCoefficients = hullCoefficients == null ? null : deepCopy(hullCoefficients);
        this.elapsed = Objects.requireNonNull(elapsed, "elapsed");
        this.inputs = List.copyOf(inputs);
    }

    /** The merged tensors (the selected parameters only). The caller owns it and may close it. */
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

    /** ℓ at the merged model, or NaN if the method has no objective. */
    public double finalLoss() {
        return finalLoss;
    }

    /**
     * The FW gap at the merged model (an upper bound on ℓ(x) − min ℓ for a convex objective), or NaN for
     * methods without one.
     */
    public double finalGap() {
        return finalGap;
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

    /** The settings that produced this result, as strings (stored as checkpoint metadata when saved). */
    public Map<String, String> configuration() {
        return configuration;
    }

    /**
     * Per block (rows, in {@link #blocks()} order), the convex weights of the vertices (columns, in
     * {@link #vertices()} order) that reconstruct the merged model, when every step stayed in the hull.
     */
    public Optional<double[][]> hullCoefficients() {
        return Optional.ofNullable(hullCoefficients).map(MergeResult::deepCopy);
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

    private static double[][] deepCopy(double[][] a) {
        double[][] c = new double[a.length][];
        for (int i = 0; i < a.length; i++) {
            c[i] = a[i].clone();
        }
        return c;
    }

    @Override
    public String toString() {
        return "MergeResult[" + method + ", " + stopReason + ", " + iterations.size() + " iterations, loss=" + finalLoss
                + ", " + elapsed.toMillis() + " ms]";
    }
}
