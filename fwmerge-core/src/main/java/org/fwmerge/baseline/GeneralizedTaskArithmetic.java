package org.fwmerge.baseline;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.fwmerge.MergeResult;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.tensor.Tensor;

/**
 * mergekit's "generalized task arithmetic" family (arcee-ai/mergekit, {@code generalized_task_arithmetic.py}
 * and {@code sparsify.py}), the definitions behind its {@code task_arithmetic}, {@code ties},
 * {@code dare_linear} and {@code dare_ties} methods, so that a mergekit configuration gives the same
 * model here. Per tensor, with per-model weight w_i and density ρ_i:
 * <ol>
 * <li>τ_i = θ_i − θ₀;</li>
 * <li>sparsify τ_i: {@link Sparsification#MAGNITUDE} keeps the ⌊ρ_i·n⌋ entries of largest |τ_i| of the
 *     tensor (ties at the threshold: the lowest indices; mergekit's unstable argsort picks any of them);
 *     {@link Sparsification#RANDOM} keeps each entry with probability ρ_i (seeded, reproducible; mergekit
 *     draws from torch's global generator); with {@code rescale} the kept entries are scaled to the
 *     original L1 norm, ‖τ_i‖₁/‖τ̃_i‖₁, unless either norm is below 10⁻⁷; ρ_i ≥ 1 keeps everything;</li>
 * <li>δ_i = w_i·τ̃_i;</li>
 * <li>sign consensus ({@link Consensus#SUM}: the sign of Σ_i δ_i, {@link Consensus#COUNT}: of Σ_i sign δ_i,
 *     0 counting as +): an entry of δ_i is kept where its sign equals the elected one (zeros never);
 *     mixed = Σ kept δ_i, divisor = Σ w_i over kept entries (0 → 1). Without consensus mixed = Σ_i δ_i and
 *     divisor = Σ_i w_i (|·| &lt; 10⁻⁸ → 1);</li>
 * <li>with {@code normalize}, mixed /= divisor; then θ = θ₀ + λ·mixed.</li>
 * </ol>
 * Arithmetic is float32 throughout, like mergekit at {@code dtype: float32}; sums run over models in
 * pool order, so results agree with mergekit's to float rounding, not bit for bit.
 *
 * <p>Memory: O(1) in the number of models — per tensor the output, the base, and for consensus two
 * tensor-sized accumulators; candidates are streamed in chunks, read 3–5 times each (thresholds, norms,
 * one or two combining passes).
 */
public final class GeneralizedTaskArithmetic extends BaselineMerger {

    /** How each task vector is sparsified (mergekit {@code sparsification_method}). */
    public enum Sparsification {
        /** No sparsification. */
        NONE,
        /** Keep the top fraction ρ of entries by magnitude, per tensor (TIES). */
        MAGNITUDE,
        /** Keep each entry with probability ρ (DARE). */
        RANDOM
    }

    /** How the sign of each entry is elected (mergekit {@code consensus_method}). */
    public enum Consensus {
        /** No election: every entry is summed. */
        NONE,
        /** The sign of the weighted sum (TIES). */
        SUM,
        /** The sign of the count of positive minus negative entries. */
        COUNT
    }

    /** mergekit's methods of this family, with their defaults for {@code normalize} and {@code rescale}. */
    public enum Method {
        /** {@code task_arithmetic}: no sparsification, no consensus, normalize false. */
        TASK_ARITHMETIC(Sparsification.NONE, Consensus.NONE, false, false),
        /** {@code ties}: magnitude, sum consensus, normalize true, rescale false. */
        TIES(Sparsification.MAGNITUDE, Consensus.SUM, true, false),
        /** {@code dare_ties}: random, sum consensus, normalize false, rescale true. */
        DARE_TIES(Sparsification.RANDOM, Consensus.SUM, false, true),
        /** {@code dare_linear}: random, no consensus, normalize false, rescale true. */
        DARE_LINEAR(Sparsification.RANDOM, Consensus.NONE, false, true);

        final Sparsification sparsification;
        final Consensus consensus;
        final boolean normalize;
        final boolean rescale;

        Method(Sparsification sparsification, Consensus consensus, boolean normalize, boolean rescale) {
            this.sparsification = sparsification;
            this.consensus = consensus;
            this.normalize = normalize;
            this.rescale = rescale;
        }
    }

    private static final double RESCALE_EPS = 1e-7;
    private static final double DIVISOR_EPS = 1e-8;

    private final Method method;
    private final double[] weights;
    private final double[] densities;
    private final boolean normalize;
    private final boolean rescale;
    private final double lambda;
    private final long seed;

    private GeneralizedTaskArithmetic(Builder b) {
        super(b);
        this.method = b.method;
        this.weights = b.weights.clone();
        this.densities = b.densities == null ? null : b.densities.clone();
        this.normalize = b.normalize == null ? method.normalize : b.normalize;
        this.rescale = b.rescale == null ? method.rescale : b.rescale;
        this.lambda = b.lambda == null ? 1.0 : b.lambda;
        this.seed = b.seed == null ? Dare.DEFAULT_SEED : b.seed;
    }

    /**
     * A builder that starts from this merger's settings, to vary it; the merger itself is unchanged.
     * As on any builder, each setter may be called once.
     */
    public Builder toBuilder() {
        Builder b = new Builder(method);
        b.weights = weights.clone();
        b.densities = densities == null ? null : densities.clone();
        b.normalize = normalize;
        b.rescale = rescale;
        b.lambda = lambda;
        b.seed = seed;
        return b.copySelection(parameters, backend);
    }

    /**
     * A builder for one of mergekit's methods; {@link Builder#weights} is required, as in mergekit.
     */
    public static Builder builder(Method method) {
        return new Builder(Objects.requireNonNull(method, "method"));
    }

    /**
     * Merges the pool.
     *
     * @throws IllegalArgumentException     if the number of weights or densities differs from the pool
     *                                      size, or the selection matches no tensor
     * @throws java.io.UncheckedIOException if a checkpoint cannot be read or a tensor cannot be merged
     */
    @Override
    public MergeResult merge(ModelPool pool) {
        Objects.requireNonNull(pool, "pool");
        long start = System.nanoTime();
        int n = pool.size();
        if (weights.length != n || (densities != null && densities.length != n)) {
            throw new IllegalArgumentException(weights.length + " weights and "
                    + (densities == null ? "default" : Integer.toString(densities.length)) + " densities for a pool of "
                    + n + " candidates");
        }
        String name = name();
        List<String> names = pool.select(parameters);
        Model out = Support.zeros(pool, names, backend, name);
        try {
            Deltas plain = new Deltas(pool.base(), pool.candidates(), null, null);
            List<Deltas> sources = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                double rho = density(i);
                boolean drop = method.sparsification == Sparsification.RANDOM && rho < 1;
                sources.add(drop ? new Deltas(pool.base(), pool.candidates(), new DropMask(1 - rho, false, seed), null)
                        : plain);
            }
            for (String t : names) {
                try (Tensor base = pool.base().load(t, backend)) {
                    mergeTensor(plain, sources, t, base, out.tensor(t));
                }
            }
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return Support.result(out, name, configuration(), pool, start);
    }

    private double density(int i) {
        return densities == null ? 1.0 : densities[i];
    }

    /** δ_i = w_i·τ̃_i of one tensor: the sparsification's parameters, found in preliminary passes, then streamed. */
    private final class Delta {
        private final Deltas source;
        private final int i;
        private final String name;
        private final float weight;
        private final boolean magnitude;
        private float threshold; // MAGNITUDE: keep |τ| > threshold, and the first `ties` entries equal to it
        private long ties;
        private float factor = 1;

        Delta(Deltas plain, Deltas source, int i, String name, long size) {
            this.source = source;
            this.i = i;
            this.name = name;
            this.weight = (float) weights[i];
            double rho = density(i);
            this.magnitude = method.sparsification == Sparsification.MAGNITUDE && rho < 1;
            if (magnitude) {
                long k = (long) (rho * size);
                if (k == 0) {
                    throw new IllegalArgumentException("density " + rho + " of candidate " + (i + 1) + " keeps no entry of"
                            + " tensor '" + name + "' (" + size + " entries); mergekit refuses this too");
                }
                threshold = Threshold.smallestMagnitude(plain, i, List.of(name), size - k + 1);
                long[] above = {0};
                plain.stream(i, name, (off, v, len) -> {
                    for (int j = 0; j < len; j++) {
                        above[0] += Math.abs(v[j]) > threshold ? 1 : 0;
                    }
                });
                ties = k - above[0];
            }
            if (rescale && method.sparsification != Sparsification.NONE && rho < 1) {
                double[] l1 = l1Norms(plain);
                factor = l1[0] < RESCALE_EPS || l1[1] < RESCALE_EPS ? 1f : (float) (l1[0] / l1[1]);
            }
        }

        /**
         * ‖τ_i‖₁ and ‖τ̃_i‖₁ of the tensor: one pass for the magnitude trim (applied to each chunk after its
         * norm is taken), two for the random drop, whose mask comes with the source's own stream.
         */
        private double[] l1Norms(Deltas plain) {
            double[] l1 = new double[2];
            long[] quota = {ties};
            plain.stream(i, name, (off, v, len) -> {
                for (int j = 0; j < len; j++) {
                    l1[0] += Math.abs(v[j]);
                }
                if (magnitude) {
                    mask(v, len, quota);
                    for (int j = 0; j < len; j++) {
                        l1[1] += Math.abs(v[j]);
                    }
                }
            });
            if (!magnitude) {
                source.stream(i, name, (off, v, len) -> {
                    for (int j = 0; j < len; j++) {
                        l1[1] += Math.abs(v[j]);
                    }
                });
            }
            return l1;
        }

        /** Zeroes the entries the magnitude trim drops; ties at the threshold are kept in index order. */
        private void mask(float[] v, int len, long[] quota) {
            for (int j = 0; j < len; j++) {
                float a = Math.abs(v[j]);
                if (a > threshold) {
                    continue;
                }
                if (a == threshold && quota[0] > 0) {
                    quota[0]--;
                } else {
                    v[j] = 0f;
                }
            }
        }

        /** Streams δ_i: sparsified, rescaled, weighted (in mergekit's order of float operations). */
        void stream(Deltas.Visitor visitor) {
            long[] quota = {ties};
            source.stream(i, name, (off, v, len) -> {
                if (magnitude) {
                    mask(v, len, quota);
                }
                for (int j = 0; j < len; j++) {
                    v[j] = v[j] * factor * weight;
                }
                visitor.chunk(off, v, len);
            });
        }
    }

    private void mergeTensor(Deltas plain, List<Deltas> sources, String name, Tensor base, Tensor out) {
        long size = out.size();
        List<Delta> deltas = new ArrayList<>();
        for (int i = 0; i < sources.size(); i++) {
            deltas.add(new Delta(plain, sources.get(i), i, name, size));
        }
        float[] acc = new float[Support.CHUNK];
        float[] aux = new float[Support.CHUNK];
        Support.fillZero(backend, out);
        if (method.consensus == Consensus.NONE) {
            for (Delta d : deltas) {
                d.stream((off, v, len) -> addInto(out, off, v, len, acc));
            }
            float divisor = 0;
            for (double w : weights) {
                divisor += (float) w;
            }
            finish(base, out, null, Math.abs(divisor) < DIVISOR_EPS ? 1f : divisor, acc, aux);
            return;
        }
        try (Tensor elected = backend.zeros(out.shape()); Tensor divisor = backend.zeros(out.shape())) {
            boolean count = method.consensus == Consensus.COUNT;
            for (Delta d : deltas) {
                d.stream((off, v, len) -> {
                    if (count) {
                        for (int j = 0; j < len; j++) {
                            v[j] = Math.signum(v[j]);
                        }
                    }
                    addInto(elected, off, v, len, acc);
                });
            }
            float[] e = new float[Support.CHUNK];
            for (Delta d : deltas) {
                d.stream((off, v, len) -> {
                    backend.get(elected, off, e, 0, len);
                    backend.get(out, off, acc, 0, len);
                    backend.get(divisor, off, aux, 0, len);
                    for (int j = 0; j < len; j++) {
                        float majority = e[j] >= 0 ? 1f : -1f;
                        if (Math.signum(v[j]) == majority) {
                            acc[j] += v[j];
                            aux[j] += d.weight;
                        }
                    }
                    backend.set(out, off, acc, 0, len);
                    backend.set(divisor, off, aux, 0, len);
                });
            }
            finish(base, out, divisor, Float.NaN, acc, aux);
        }
    }

    private void addInto(Tensor t, long off, float[] v, int len, float[] acc) {
        backend.get(t, off, acc, 0, len);
        for (int j = 0; j < len; j++) {
            acc[j] += v[j];
        }
        backend.set(t, off, acc, 0, len);
    }

    /** out ← base + λ·(out / divisor) where normalising; divisor per entry (0 → 1) or one scalar. */
    private void finish(Tensor base, Tensor out, Tensor divisor, float scalarDivisor, float[] acc, float[] aux) {
        float[] b = new float[Support.CHUNK];
        float l = (float) lambda;
        for (long off = 0; off < out.size(); off += Support.CHUNK) {
            int len = (int) Math.min(Support.CHUNK, out.size() - off);
            backend.get(out, off, acc, 0, len);
            backend.get(base, off, b, 0, len);
            if (divisor != null) {
                backend.get(divisor, off, aux, 0, len);
            }
            for (int j = 0; j < len; j++) {
                float m = acc[j];
                if (normalize) {
                    float d = divisor == null ? scalarDivisor : aux[j] == 0 ? 1f : aux[j];
                    m /= d;
                }
                acc[j] = b[j] + m * l;
            }
            backend.set(out, off, acc, 0, len);
        }
    }

    /** mergekit's method name as fwmerge records it, e.g. {@code mergekit-dare-ties}. */
    private String name() {
        return "mergekit-" + method.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }

    @Override
    Map<String, String> settings() {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("method", name());
        c.put("weights", Arrays.toString(weights));
        c.put("densities", densities == null ? "1.0" : Arrays.toString(densities));
        c.put("normalize", Boolean.toString(normalize));
        c.put("rescale", Boolean.toString(rescale));
        c.put("lambda", Double.toString(lambda));
        if (method.sparsification == Sparsification.RANDOM) {
            c.put("seed", Long.toString(seed));
        }
        return c;
    }

    /**
     * Configures a {@link GeneralizedTaskArithmetic}. Each setting is checked when set; each setter may be
     * called once ({@link IllegalStateException} on a second call); {@link #build()} leaves the builder unchanged. Not thread-safe.
     */
    public static final class Builder extends BaselineBuilder<Builder> {
        private final Method method;
        private double[] weights;
        private double[] densities;
        private Boolean normalize;
        private Boolean rescale;
        private Double lambda;
        private Long seed;

        private Builder(Method method) {
            this.method = method;
        }

        /**
         * The weight w_i of each candidate, in pool order (mergekit {@code weight}; required).
         *
         * @throws IllegalArgumentException if empty or not finite
         */
        public Builder weights(double... w) {
            once(this.weights, "weights");
            this.weights = perCandidate(w, "weight", Double.NEGATIVE_INFINITY);
            return this;
        }

        /**
         * The density ρ_i of each candidate, in pool order (mergekit {@code density}, default 1: keep all).
         *
         * @throws IllegalArgumentException if empty, not finite or not positive
         */
        public Builder densities(double... rho) {
            once(this.densities, "densities");
            this.densities = perCandidate(rho, "density", 0);
            return this;
        }

        /** Whether the mixed task vector is divided by the summed weights (default: the method's). */
        public Builder normalize(boolean normalize) {
            once(this.normalize, "normalize");
            this.normalize = normalize;
            return this;
        }

        /** Whether sparsified task vectors are scaled back to their L1 norm (default: the method's). */
        public Builder rescale(boolean rescale) {
            once(this.rescale, "rescale");
            this.rescale = rescale;
            return this;
        }

        /**
         * The scaling λ of the mixed task vector (mergekit {@code lambda}, default 1).
         *
         * @throws IllegalArgumentException if not finite
         */
        public Builder lambda(double lambda) {
            once(this.lambda, "lambda");
            this.lambda = Support.finite(lambda, "lambda");
            return this;
        }

        /** The seed of the random sparsification (default {@value Dare#DEFAULT_SEED}). */
        public Builder seed(long seed) {
            once(this.seed, "seed");
            this.seed = seed;
            return this;
        }

        /**
         * The configured merger.
         *
         * @throws IllegalStateException if no weights were given, or densities and weights differ in number
         */
        public GeneralizedTaskArithmetic build() {
            if (weights == null) {
                throw new IllegalStateException("weights are required: one per candidate (mergekit's 'weight' parameter)");
            }
            if (densities != null && densities.length != weights.length) {
                throw new IllegalStateException(densities.length + " densities for " + weights.length + " weights");
            }
            return new GeneralizedTaskArithmetic(this);
        }

        private static double[] perCandidate(double[] values, String what, double above) {
            Objects.requireNonNull(values, what);
            if (values.length == 0) {
                throw new IllegalArgumentException("at least one " + what + " is needed");
            }
            for (int i = 0; i < values.length; i++) {
                if (!Double.isFinite(values[i]) || !(values[i] > above)) {
                    throw new IllegalArgumentException(what + " of candidate " + (i + 1) + " must be finite"
                            + (above == 0 ? " and > 0" : "") + ", got " + values[i]);
                }
            }
            return values.clone();
        }
    }
}
