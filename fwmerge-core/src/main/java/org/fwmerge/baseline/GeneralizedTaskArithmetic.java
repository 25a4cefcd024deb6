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
 * {@code dare_linear}, {@code dare_ties}, {@code breadcrumbs}, {@code breadcrumbs_ties}, {@code della} and
 * {@code della_linear} methods, so that a mergekit configuration gives the same
 * model here. Per tensor, with per-model weight w_i and density ρ_i:
 * <ol>
 * <li>τ_i = θ_i − θ₀;</li>
 * <li>sparsify τ_i: {@link Sparsification#MAGNITUDE} keeps the ⌊ρ_i·n⌋ entries of largest |τ_i| of the
 *     tensor; entries tied at the threshold are chosen by a hash of their position
 *     ({@link Threshold#hash}), so that the kept ones do not crowd the first rows of a matrix (BF16 task
 *     vectors tie by the hundred thousand; mergekit's argsort picks among them in an order its sort
 *     leaves undefined);
 *     {@link Sparsification#MAGNITUDE_OUTLIERS} (breadcrumbs) first drops the ⌊γ_i·n⌋ largest, then
 *     keeps the next ones down to ⌊ρ_i·n⌋ in all (ties chosen the same way; where ⌊γ_i·n⌋ = 0 fwmerge drops
 *     no outlier, where mergekit's {@code indices[n_bot:-0]} would keep nothing at all);
 *     {@link Sparsification#RANDOM} keeps each entry with probability ρ_i (seeded, reproducible; mergekit
 *     draws from torch's global generator); {@link Sparsification#MAGPRUNE} (DELLA) keeps each entry with
 *     probability ρ_i − ε_i + 2ε_i·(its magnitude's rank in its row, from 0 to 1) — see {@link DropMask} for
 *     rows, ties and the one-entry row — seeded likewise; with {@code rescale} the kept entries are scaled to the
 *     original L1 norm, ‖τ_i‖₁/‖τ̃_i‖₁, unless either norm is below 10⁻⁷; ρ_i ≥ 1 keeps everything;</li>
 * <li>δ_i = w_i·τ̃_i;</li>
 * <li>sign consensus ({@code ties}, {@code dare_ties}: the sign of Σ_i δ_i, 0 counting as +): an entry of δ_i is kept where its sign equals the elected one (zeros never);
 *     mixed = Σ kept δ_i, divisor = Σ w_i over kept entries (0 → 1). Without consensus mixed = Σ_i δ_i and
 *     divisor = Σ_i w_i (|·| &lt; 10⁻⁸ → 1);</li>
 * <li>with {@code normalize}, mixed /= divisor; then θ = θ₀ + λ·mixed.</li>
 * </ol>
 * Arithmetic is float32 throughout, like mergekit at {@code dtype: float32}, rounded to the output
 * type once at the end (mergekit computes in the inputs' type, e.g. BF16: fwmerge is the more exact);
 * sums run over models in pool order, so results agree with mergekit's to float rounding, not bit for bit.
 * mergekit's {@code count} consensus is registered by no mergekit method and is not offered.
 *
 * <p>Runs on {@link TaskVectorKernel}, the kernel of {@link Ties} and {@link Dare}: tensors in ranges
 * across cores. Memory: O(1) in the number of models — the output and per-thread chunk buffers (DELLA: also,
 * per tensor in flight, every candidate's keep bits and one candidate's |τ| and keep probabilities, 1/8 + 12
 * bytes per entry, while its bits are drawn);
 * candidates are streamed, read 1–6 times each (2 for a threshold, 2 more where ties must be broken,
 * 1–2 for the rescale norms, one or two combining sweeps).
 */
public final class GeneralizedTaskArithmetic extends BaselineMerger {

    /** How each task vector is sparsified (mergekit {@code sparsification_method}). */
    public enum Sparsification {
        /** No sparsification. */
        NONE,
        /** Keep the top fraction ρ of entries by magnitude, per tensor (TIES). */
        MAGNITUDE,
        /** Keep each entry with probability ρ (DARE). */
        RANDOM,
        /**
         * Drop the top fraction γ of entries by magnitude, then keep the next largest up to a fraction ρ of
         * the tensor (mergekit's {@code magnitude_outliers}, Model Breadcrumbs).
         */
        MAGNITUDE_OUTLIERS,
        /**
         * Keep each entry with a probability that grows with its magnitude's rank in its row, ρ ± ε
         * (mergekit's {@code della_magprune}, DELLA's MagPrune; see {@link Builder#epsilons}).
         */
        MAGPRUNE
    }

    /** mergekit's methods of this family, with their defaults for {@code normalize} and {@code rescale}. */
    public enum Method {
        /** {@code task_arithmetic}: no sparsification, no consensus, normalize false. */
        TASK_ARITHMETIC(Sparsification.NONE, false, false, false),
        /** {@code ties}: magnitude, sum consensus, normalize true, rescale false. */
        TIES(Sparsification.MAGNITUDE, true, true, false),
        /** {@code dare_ties}: random, sum consensus, normalize false, rescale true. */
        DARE_TIES(Sparsification.RANDOM, true, false, true),
        /** {@code dare_linear}: random, no consensus, normalize false, rescale true. */
        DARE_LINEAR(Sparsification.RANDOM, false, false, true),
        /** {@code breadcrumbs}: magnitude with outliers, no consensus, normalize false, rescale false. */
        BREADCRUMBS(Sparsification.MAGNITUDE_OUTLIERS, false, false, false),
        /** {@code breadcrumbs_ties}: magnitude with outliers, sum consensus, normalize false, rescale false. */
        BREADCRUMBS_TIES(Sparsification.MAGNITUDE_OUTLIERS, true, false, false),
        /** {@code della}: magnitude-ranked random, sum consensus, normalize true, rescale true. */
        DELLA(Sparsification.MAGPRUNE, true, true, true),
        /** {@code della_linear}: magnitude-ranked random, no consensus, normalize false, rescale true. */
        DELLA_LINEAR(Sparsification.MAGPRUNE, false, false, true);

        final Sparsification sparsification;
        final boolean consensus; // mergekit's 'sum' sign consensus
        final boolean normalize;
        final boolean rescale;

        Method(Sparsification sparsification, boolean consensus, boolean normalize, boolean rescale) {
            this.sparsification = sparsification;
            this.consensus = consensus;
            this.normalize = normalize;
            this.rescale = rescale;
        }
    }

    /** mergekit's default fraction of outliers a breadcrumbs trim drops. */
    public static final double DEFAULT_GAMMA = 0.01;
    /** mergekit's default spread ε of DELLA's keep probabilities. */
    public static final double DEFAULT_EPSILON = 0.15;

    private final Method method;
    private final double[] weights;
    private final double[] densities;
    private final double[] gammas;
    private final double[] epsilons;
    private final boolean normalize;
    private final boolean rescale;
    private final double lambda;
    private final long seed;

    private GeneralizedTaskArithmetic(Builder b) {
        super(b);
        this.method = b.method;
        this.weights = b.weights.clone();
        this.densities = b.densities == null ? null : b.densities.clone();
        this.gammas = b.gammas == null ? null : b.gammas.clone();
        this.epsilons = b.epsilons == null ? null : b.epsilons.clone();
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
        b.gammas = gammas == null ? null : gammas.clone();
        b.epsilons = epsilons == null ? null : epsilons.clone();
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
        if (gammas != null && gammas.length != n) {
            throw new IllegalArgumentException(gammas.length + " gammas for a pool of " + n + " candidates");
        }
        if (epsilons != null && epsilons.length != n) {
            throw new IllegalArgumentException(epsilons.length + " epsilons for a pool of " + n + " candidates");
        }
        if (weights.length != n || (densities != null && densities.length != n)) {
            throw new IllegalArgumentException(weights.length + " weights and "
                    + (densities == null ? "default" : Integer.toString(densities.length)) + " densities for a pool of "
                    + n + " candidates");
        }
        String name = name();
        List<String> names = pool.select(parameters);
        Model out = Support.zeros(pool, names, backend, name);
        try {
            boolean random = method.sparsification == Sparsification.RANDOM;
            boolean magprune = method.sparsification == Sparsification.MAGPRUNE;
            boolean outliers = method.sparsification == Sparsification.MAGNITUDE_OUTLIERS;
            boolean magnitude = outliers || method.sparsification == Sparsification.MAGNITUDE;
            double[] gamma = new double[n];
            DropMask[] drops = new DropMask[n];
            float[] w = new float[n];
            double[] rho = new double[n];
            for (int i = 0; i < n; i++) {
                rho[i] = density(i);
                gamma[i] = gammas == null ? DEFAULT_GAMMA : gammas[i];
                w[i] = (float) weights[i];
                drops[i] = random && rho[i] < 1 ? new DropMask(1 - rho[i], false, seed)
                        : magprune && rho[i] < 1 ? ranked(i, rho[i], pool) : null;
            }
            Deltas source = new Deltas(pool.base(), pool.candidates(), drops, null);
            TaskVectorKernel.Spec spec = new TaskVectorKernel.Spec(
                    magnitude ? rho : null, outliers ? gamma : null, false, true, w,
                    rescale && method.sparsification != Sparsification.NONE,
                    method.consensus ? TaskVectorKernel.Election.POSITIVE : TaskVectorKernel.Election.NONE,
                    normalize ? TaskVectorKernel.Mix.WEIGHTED : TaskVectorKernel.Mix.SUM, (float) lambda);
            TaskVectorKernel.merge(source, source.plain(), names, spec, out);
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return Support.result(out, name, configuration(), pool, start);
    }

    /** Candidate i's DELLA drop, its ε checked against its density. */
    private DropMask ranked(int i, double rho, ModelPool pool) {
        double eps = epsilons == null ? DEFAULT_EPSILON : epsilons[i];
        try {
            return DropMask.ranked(rho, eps, seed);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("candidate " + (i + 1) + " (" + pool.candidates().get(i) + "): " + e.getMessage()
                    + " (mergekit refuses it too)", e);
        }
    }

    private double density(int i) {
        return densities == null ? 1.0 : densities[i];
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
        if (method.sparsification == Sparsification.MAGNITUDE_OUTLIERS) {
            c.put("gammas", gammas == null ? Double.toString(DEFAULT_GAMMA) : Arrays.toString(gammas));
        }
        c.put("normalize", Boolean.toString(normalize));
        c.put("rescale", Boolean.toString(rescale));
        c.put("lambda", Double.toString(lambda));
        if (method.sparsification == Sparsification.MAGPRUNE) {
            c.put("epsilons", epsilons == null ? Double.toString(DEFAULT_EPSILON) : Arrays.toString(epsilons));
        }
        if (method.sparsification == Sparsification.RANDOM || method.sparsification == Sparsification.MAGPRUNE) {
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
        private double[] gammas;
        private double[] epsilons;
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

        /**
         * The fraction γ_i of largest entries each candidate's breadcrumbs trim drops, in pool order (mergekit
         * {@code gamma}, default {@value GeneralizedTaskArithmetic#DEFAULT_GAMMA}); only for the breadcrumbs methods.
         *
         * @throws IllegalArgumentException if empty, not finite, negative or above 1
         */
        public Builder gammas(double... gamma) {
            once(this.gammas, "gammas");
            if (method.sparsification != Sparsification.MAGNITUDE_OUTLIERS) {
                throw new IllegalArgumentException("gamma applies to breadcrumbs and breadcrumbs_ties, not " + method);
            }
            double[] g = perCandidate(gamma, "gamma", Double.NEGATIVE_INFINITY);
            for (int i = 0; i < g.length; i++) {
                if (g[i] < 0 || g[i] > 1) {
                    throw new IllegalArgumentException("gamma of candidate " + (i + 1) + " must be in [0, 1], got " + g[i]);
                }
            }
            this.gammas = g;
            return this;
        }

        /**
         * DELLA's spread ε_i of each candidate, in pool order (mergekit {@code epsilon}, default
         * {@value GeneralizedTaskArithmetic#DEFAULT_EPSILON}): the entries of a row are kept with probability
         * from ρ_i − ε_i (the smallest magnitude) to ρ_i + ε_i (the largest); only for the DELLA methods, and
         * ρ_i ± ε_i must lie inside (0, 1) where ρ_i &lt; 1.
         *
         * @throws IllegalArgumentException if empty, not finite or negative
         */
        public Builder epsilons(double... epsilon) {
            once(this.epsilons, "epsilons");
            if (method.sparsification != Sparsification.MAGPRUNE) {
                throw new IllegalArgumentException("epsilon applies to della and della_linear, not " + method);
            }
            double[] e = perCandidate(epsilon, "epsilon", Double.NEGATIVE_INFINITY);
            for (int i = 0; i < e.length; i++) {
                if (e[i] < 0) {
                    throw new IllegalArgumentException("epsilon of candidate " + (i + 1) + " must be ≥ 0, got " + e[i]);
                }
            }
            this.epsilons = e;
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
