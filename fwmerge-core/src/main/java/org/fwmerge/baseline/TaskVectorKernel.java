package org.fwmerge.baseline;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.fwmerge.Model;
import org.fwmerge.internal.Parallel;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/**
 * The one kernel behind the task-vector merges — FusionBench's TIES and DARE and mergekit's generalized
 * task arithmetic ({@code task_arithmetic}, {@code ties}, {@code dare_linear}, {@code dare_ties}) — each a
 * {@link Spec}. Per entry of every merged tensor, with τ_i streamed by {@link Deltas} (through a DARE drop
 * mask where the deltas have one):
 * <ol>
 * <li><b>trim</b>: τ_i keeps the entries whose magnitude ranks among the top fraction ρ_i, counted over
 *     the whole model or per tensor; ties at the threshold are all kept (FusionBench's |τ| ≥ t), or, with
 *     {@link Spec#exactTies}, exactly ⌊ρ·n⌋ entries are kept, tied ones chosen by a hash of their
 *     position ({@link Threshold#hash}) — mergekit's count, without favouring the first rows;</li>
 * <li><b>weight</b>: δ_i = (τ̃_i · r_i) · w_i, r_i the L1 rescale ‖τ_i‖₁/‖τ̃_i‖₁ of a sparsified tensor
 *     when {@link Spec#rescale} (mergekit's order of float operations);</li>
 * <li><b>elect</b> ({@link Election}): e = sign(Σ_i δ_i); an entry of δ_i counts when δ·e &gt; 0;</li>
 * <li><b>mix</b> ({@link Mix}): the sum of what counts, or its mean over the counted entries, or over
 *     their weights; θ = a + λ·mixed, rounded as {@link Support#anchored}.</li>
 * </ol>
 * Thresholds and rescale factors come first (one job per candidate and tensor, in parallel); then one
 * sweep (no election) or two (sum, then combination) run over ranges of every tensor across cores, each
 * reading the anchor's chunk once for all candidates, with {@code out} as the only tensor-sized state.
 * Candidates are added in index order for every element, so results do not depend on the core count.
 */
final class TaskVectorKernel {

    /** How the sign of an entry is elected. */
    enum Election {
        /** No election: every entry counts. */
        NONE,
        /** sign(Σδ); a zero sum takes the majority sign of the trimmed region (FusionBench's TIES). */
        MAJORITY,
        /** sign(Σδ), a zero sum counting as + (mergekit's {@code sum} consensus). */
        POSITIVE
    }

    /** How the entries that count are mixed. */
    enum Mix {
        /** Their sum. */
        SUM,
        /** Their sum over their number (at least 1): TIES' disjoint mean. */
        MEAN,
        /**
         * Their sum over their summed weights w_i (0 → 1); without election over Σ_i w_i of all
         * candidates (|·| &lt; 10⁻⁸ → 1): mergekit's {@code normalize}.
         */
        WEIGHTED
    }

    /**
     * One merge's definition.
     *
     * @param density    per candidate, the fraction of entries its trim keeps (≥ 1: no trim); null: none trimmed
     * @param outliers   per candidate, the fraction γ of largest entries dropped before the trim (mergekit's
     *                   breadcrumbs; needs {@code exactTies}); null: none
     * @param wholeModel trim thresholds (and the majority sign) over all tensors together, else per tensor
     * @param exactTies  keep exactly ⌊ρ·n⌋ entries per tensor (mergekit), else every entry tied with the
     *                   threshold of FusionBench's rank n − ⌊ρ·n⌋
     * @param weights    w_i per candidate (null: 1)
     * @param rescale    whether a sparsified τ̃_i (trimmed or dropped) is scaled back to ‖τ_i‖₁
     * @param election   sign election
     * @param mix        how the counted entries are mixed
     * @param scaling    λ
     */
    record Spec(double[] density, double[] outliers, boolean wholeModel, boolean exactTies, float[] weights, boolean rescale,
            Election election, Mix mix, double scaling) {
        Spec {
            Objects.requireNonNull(election, "election");
            Objects.requireNonNull(mix, "mix");
            if (outliers != null && !exactTies) {
                throw new IllegalArgumentException("outliers are counted exactly, per tensor");
            }
            if (exactTies && wholeModel) {
                throw new IllegalArgumentException("exact ties are counted per tensor");
            }
        }
    }

    private static final double RESCALE_EPS = 1e-7;
    private static final double DIVISOR_EPS = 1e-8;

    /**
     * One candidate's trim and factor over one group of entries (a tensor, or the whole model): the
     * entries from key {@code lo} (null: the smallest) up to, not including, key {@code hi} (null: none above) are kept.
     */
    private record Trim(Threshold.Key lo, Threshold.Key hi, float factor) {
        static final Trim NONE = new Trim(null, null, 1f);

        Trim scaled(float f) {
            return new Trim(lo, hi, f);
        }
    }

    private TaskVectorKernel() {
    }

    /**
     * Writes out = a + λ·mixed for every tensor in {@code names}, a being the deltas' anchor.
     *
     * @param source the differences merged (with their drop masks, if any)
     * @param plain  the same differences without drop masks (for ‖τ_i‖₁); {@code source} itself if it has none
     */
    static void merge(Deltas source, Deltas plain, List<String> names, Spec spec, Model out) {
        TensorBackend b = out.backend();
        int n = source.count();
        Trim[][] trims = trims(source, plain, names, spec, out);
        boolean whole = spec.wholeModel();
        List<Deltas.Piece> pieces = source.pieces(names, out);
        float[] w = spec.weights();
        Mix mix = spec.mix();

        if (spec.election() == Election.NONE) {
            float divisor = 1f;
            if (mix == Mix.WEIGHTED) {
                float sum = 0;
                for (int i = 0; i < n; i++) {
                    sum += w == null ? 1f : w[i];
                }
                divisor = Math.abs(sum) < DIVISOR_EPS ? 1f : sum;
            }
            float d = divisor;
            Parallel.items(pieces.size(), q -> {
                Deltas.Piece piece = pieces.get(q);
                String name = names.get(piece.tensor());
                Tensor o = out.tensor(name);
                float[] acc = new float[Deltas.SWEEP_CHUNK];
                source.sweep(name, piece.from(), piece.to(), (off, len, a, tau) -> {
                    sum(tau, off, len, trims, whole ? 0 : piece.tensor(), w, name, acc);
                    for (int k = 0; k < len; k++) {
                        acc[k] = Support.anchored(a[k], spec.scaling(), mix == Mix.WEIGHTED ? acc[k] / d : acc[k]);
                    }
                    b.set(o, off, acc, 0, len);
                });
                return null;
            });
            return;
        }

        // Sweep A: S = Σ_i δ_i (into out), and Σ sign(S) per piece for the majority rule.
        List<Long> pieceSigns = Parallel.items(pieces.size(), q -> {
            Deltas.Piece piece = pieces.get(q);
            String name = names.get(piece.tensor());
            Tensor o = out.tensor(name);
            float[] acc = new float[Deltas.SWEEP_CHUNK];
            long[] signs = {0};
            source.sweep(name, piece.from(), piece.to(), (off, len, a, tau) -> {
                sum(tau, off, len, trims, whole ? 0 : piece.tensor(), w, name, acc);
                long s = 0;
                for (int k = 0; k < len; k++) {
                    s += (long) Math.signum(acc[k]);
                }
                signs[0] += s;
                b.set(o, off, acc, 0, len);
            });
            return signs[0];
        });
        // The sign that settles entries whose sum is 0: the majority over the trim's region, or +.
        float[] zeroSign = new float[names.size()];
        if (spec.election() == Election.POSITIVE) {
            Arrays.fill(zeroSign, 1f);
        } else {
            long[] signSums = new long[names.size()];
            for (int q = 0; q < pieces.size(); q++) {
                signSums[pieces.get(q).tensor()] += pieceSigns.get(q);
            }
            long total = Arrays.stream(signSums).sum();
            for (int p = 0; p < names.size(); p++) {
                zeroSign[p] = Math.signum((float) (whole ? total : signSums[p]));
            }
        }

        // Sweep B: keep the δ_i agreeing with the elected sign; mix; scale; add the anchor.
        Parallel.items(pieces.size(), q -> {
            Deltas.Piece piece = pieces.get(q);
            String name = names.get(piece.tensor());
            Tensor o = out.tensor(name);
            float tieSign = zeroSign[piece.tensor()];
            float[] elected = new float[Deltas.SWEEP_CHUNK];
            float[] acc = new float[Deltas.SWEEP_CHUNK];
            float[] cnt = new float[Deltas.SWEEP_CHUNK];
            source.sweep(name, piece.from(), piece.to(), (off, len, a, tau) -> {
                b.get(o, off, elected, 0, len);
                for (int k = 0; k < len; k++) {
                    float e = Math.signum(elected[k]);
                    elected[k] = e == 0 ? tieSign : e;
                }
                Arrays.fill(acc, 0, len, 0f);
                Arrays.fill(cnt, 0, len, 0f);
                for (int i = 0; i < n; i++) {
                    float[] v = tau[i];
                    float wi = w == null ? 1f : w[i];
                    float unit = mix == Mix.WEIGHTED ? wi : 1f;
                    delta(v, off, len, trims[i][whole ? 0 : piece.tensor()], wi, i, name);
                    for (int k = 0; k < len; k++) {
                        float x = v[k];
                        // e is ±1 (or 0 when even the majority is a tie): x·e > 0 iff x has the elected sign.
                        boolean keep = x * elected[k] > 0;
                        acc[k] += keep ? x : 0f;
                        cnt[k] += keep ? unit : 0f;
                    }
                }
                for (int k = 0; k < len; k++) {
                    float m = mix == Mix.SUM ? acc[k]
                            : mix == Mix.MEAN ? acc[k] / Math.max(cnt[k], 1f) : acc[k] / (cnt[k] == 0 ? 1f : cnt[k]);
                    acc[k] = Support.anchored(a[k], spec.scaling(), m);
                }
                b.set(o, off, acc, 0, len);
            });
            return null;
        });
    }

    /** acc ← Σ_i δ_i over one chunk, candidates in index order (each τ_i turned into δ_i in place). */
    private static void sum(float[][] tau, long off, int len, Trim[][] trims, int group, float[] w, String name,
            float[] acc) {
        Arrays.fill(acc, 0, len, 0f);
        for (int i = 0; i < tau.length; i++) {
            float[] v = tau[i];
            delta(v, off, len, trims[i][group], w == null ? 1f : w[i], i, name);
            for (int k = 0; k < len; k++) {
                acc[k] += v[k];
            }
        }
    }

    /** τ_i → δ_i in place: trimmed, rescaled, weighted (a factor or weight of 1 changes nothing, so it is skipped). */
    private static void delta(float[] v, long off, int len, Trim t, float weight, int i, String name) {
        Threshold.Key key = t.lo();
        if (key != null) {
            int bits = key.bits();
            if (key.hash() == 0) {
                for (int k = 0; k < len; k++) {
                    v[k] = (Float.floatToRawIntBits(v[k]) & 0x7FFFFFFF) >= bits ? v[k] : 0f;
                }
            } else {
                int salt = Threshold.salt(i, name);
                for (int k = 0; k < len; k++) {
                    if (!key.atOrBelow(Float.floatToRawIntBits(v[k]) & 0x7FFFFFFF, off + k, salt)) {
                        v[k] = 0f;
                    }
                }
            }
        }
        Threshold.Key hi = t.hi();
        if (hi != null) {
            int salt = Threshold.salt(i, name);
            for (int k = 0; k < len; k++) {
                if (hi.atOrBelow(Float.floatToRawIntBits(v[k]) & 0x7FFFFFFF, off + k, salt)) {
                    v[k] = 0f;
                }
            }
        }
        float f = t.factor();
        if (f != 1f || weight != 1f) {
            for (int k = 0; k < len; k++) {
                v[k] = v[k] * f * weight;
            }
        }
    }

    /** trims[i][group]: thresholds and rescale factors, one parallel job per candidate and group. */
    private static Trim[][] trims(Deltas source, Deltas plain, List<String> names, Spec spec, Model out) {
        int n = source.count();
        int groups = spec.wholeModel() ? 1 : names.size();
        if (spec.exactTies() && spec.density() != null) { // refused before any work, and always naming the first offending pair
            for (int i = 0; i < n; i++) {
                for (String name : names) {
                    long size = out.tensor(name).size();
                    double rho = spec.density()[i];
                    if (rho < 1 && spec.outliers() == null && (long) (rho * size) == 0) {
                        throw new IllegalArgumentException("density " + rho + " of candidate " + (i + 1) + " keeps no"
                                + " entry of tensor '" + name + "' (" + size + " entries); mergekit refuses this too");
                    }
                }
            }
        }
        List<Trim> jobs = Parallel.items(n * groups, j -> {
            int i = j / groups;
            int g = j % groups;
            List<String> group = spec.wholeModel() ? names : List.of(names.get(g));
            long size = 0;
            for (String name : group) {
                size += out.tensor(name).size();
            }
            Trim trim = band(source, i, group, size, spec); // DARE-TIES trims the dropped τ
            boolean sparsified = trim != Trim.NONE || source.drops(i);
            if (!spec.rescale() || !sparsified) {
                return trim;
            }
            return trim.scaled(rescaleFactor(source, plain, i, group, trim));
        });
        Trim[][] t = new Trim[n][groups];
        for (int j = 0; j < jobs.size(); j++) {
            t[j / groups][j % groups] = jobs.get(j);
        }
        return t;
    }

    /** Candidate i's trim over {@code group}. */
    private static Trim band(Deltas d, int i, List<String> group, long size, Spec spec) {
        if (spec.density() == null) {
            return Trim.NONE;
        }
        double rho = spec.density()[i];
        if (spec.exactTies()) {
            if (rho >= 1) {
                return Trim.NONE;
            }
            long k = (long) (rho * size); // ≥ 1 without outliers, checked in trims()
            if (spec.outliers() == null) {
                return new Trim(Threshold.smallestKey(d, i, group, size - k + 1, true), null, 1f);
            }
            // mergekit's magnitude_outliers: drop the ⌊γ·n⌋ largest, then the smallest down to ⌊ρ·n⌋ kept
            long top = (long) (spec.outliers()[i] * size);
            long bottom = size - k - top;
            if (bottom < 0) {
                top += bottom;
                bottom = 0;
            }
            Threshold.Key lo = bottom == 0 ? null : Threshold.smallestKey(d, i, group, bottom + 1, true);
            Threshold.Key hi = top == 0 ? null : Threshold.smallestKey(d, i, group, size - top + 1, true);
            return new Trim(lo, hi, 1f);
        }
        long rank = Threshold.rank(size, rho);
        // rank 0 (keep everything, ρ = 1) or an empty tensor: every entry passes |τ| ≥ 0.
        return new Trim(rank <= 0 ? new Threshold.Key(0, 0) : Threshold.smallestKey(d, i, group, rank, false), null, 1f);
    }

    /** ‖τ_i‖₁ / ‖τ̃_i‖₁ over {@code group} (1 when either is below 10⁻⁷), τ̃ trimmed by {@code key} or dropped. */
    private static float rescaleFactor(Deltas source, Deltas plain, int i, List<String> group, Trim trim) {
        double[] l1 = new double[2];
        boolean dropped = source.drops(i);
        for (String name : group) {
            plain.stream(i, name, (off, v, len) -> {
                for (int k = 0; k < len; k++) {
                    l1[0] += Math.abs(v[k]);
                }
                if (!dropped) {
                    delta(v, off, len, trim, 1f, i, name);
                    for (int k = 0; k < len; k++) {
                        l1[1] += Math.abs(v[k]);
                    }
                }
            });
            if (dropped) {
                source.stream(i, name, (off, v, len) -> {
                    delta(v, off, len, trim, 1f, i, name);
                    for (int k = 0; k < len; k++) {
                        l1[1] += Math.abs(v[k]);
                    }
                });
            }
        }
        return l1[0] < RESCALE_EPS || l1[1] < RESCALE_EPS ? 1f : (float) (l1[0] / l1[1]);
    }
}
