package org.fwmerge.baseline;

import java.util.List;
import org.fwmerge.Model;
import org.fwmerge.internal.Parallel;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/**
 * The TIES pipeline over streamed differences (see {@link Ties} for the definition and the choices):
 * thresholds per candidate (2 passes each, candidates in parallel), then sweep A: S = Σ_i trim(τ_i)
 * into {@code out} and the majority sign (over the whole model or per tensor, as the trim), then
 * sweep B: the disjoint combination, written over S. Each sweep reads the anchor's chunk once for all
 * candidates and runs over one range per core (per tensor under a drop mask), with {@code out} as the
 * only tensor-sized state.
 *
 * <p>The kernels are branch-free (a kept entry adds itself, a dropped one adds 0) and add the
 * candidates in index order for every element, so the result is bit for bit the sequential one's.
 */
final class TiesCore {

    private TiesCore() {
    }

    /** Writes out = a + scaling · TIES(τ_1…τ_n) for every tensor in {@code names}, a being the deltas' anchor. */
    static void merge(Deltas d, List<String> names, double topK, Ties.Trim trim, Ties.Combine combine, double scaling,
            Model out) {
        TensorBackend b = out.backend();
        int n = d.count();
        boolean whole = trim == Ties.Trim.WHOLE_MODEL;
        float[][] thr = thresholds(d, names, topK, trim, out);
        List<Deltas.Piece> pieces = d.pieces(names, out);

        // Sweep A: S = Σ_i trimmed τ_i (into out), and Σ sign(S) per piece.
        List<Long> pieceSigns = Parallel.items(pieces.size(), q -> {
            Deltas.Piece piece = pieces.get(q);
            Tensor o = out.tensor(names.get(piece.tensor()));
            float[] acc = new float[Deltas.SWEEP_CHUNK];
            long[] signs = {0};
            d.sweep(names.get(piece.tensor()), piece.from(), piece.to(), (off, len, a, tau) -> {
                java.util.Arrays.fill(acc, 0, len, 0f);
                for (int i = 0; i < n; i++) {
                    float t = thr[i][whole ? 0 : piece.tensor()];
                    float[] v = tau[i];
                    for (int k = 0; k < len; k++) {
                        acc[k] += Math.abs(v[k]) >= t ? v[k] : 0f;
                    }
                }
                long s = 0;
                for (int k = 0; k < len; k++) {
                    s += (long) Math.signum(acc[k]);
                }
                signs[0] += s;
                b.set(o, off, acc, 0, len);
            });
            return signs[0];
        });
        long[] signSums = new long[names.size()];
        for (int q = 0; q < pieces.size(); q++) {
            signSums[pieces.get(q).tensor()] += pieceSigns.get(q);
        }
        // The majority sign that settles entries whose election is a tie: over the same entries as the trim.
        float[] majority = new float[names.size()];
        long total = java.util.Arrays.stream(signSums).sum();
        for (int p = 0; p < names.size(); p++) {
            majority[p] = Math.signum((float) (whole ? total : signSums[p]));
        }

        // Sweep B: keep trimmed entries agreeing with the elected sign; sum or mean them; scale; add the anchor.
        boolean mean = combine == Ties.Combine.MEAN;
        Parallel.items(pieces.size(), q -> {
            Deltas.Piece piece = pieces.get(q);
            Tensor o = out.tensor(names.get(piece.tensor()));
            float tieSign = majority[piece.tensor()];
            float[] elected = new float[Deltas.SWEEP_CHUNK];
            float[] acc = new float[Deltas.SWEEP_CHUNK];
            float[] cnt = new float[Deltas.SWEEP_CHUNK];
            d.sweep(names.get(piece.tensor()), piece.from(), piece.to(), (off, len, a, tau) -> {
                b.get(o, off, elected, 0, len);
                for (int k = 0; k < len; k++) {
                    float e = Math.signum(elected[k]);
                    elected[k] = e == 0 ? tieSign : e;
                }
                java.util.Arrays.fill(acc, 0, len, 0f);
                java.util.Arrays.fill(cnt, 0, len, 0f);
                for (int i = 0; i < n; i++) {
                    float t = thr[i][whole ? 0 : piece.tensor()];
                    float[] v = tau[i];
                    for (int k = 0; k < len; k++) {
                        float x = v[k];
                        // e is ±1 (or 0 when even the majority is a tie): x·e > 0 iff x has the elected sign.
                        boolean keep = Math.abs(x) >= t & x * elected[k] > 0;
                        acc[k] += keep ? x : 0f;
                        cnt[k] += keep ? 1f : 0f;
                    }
                }
                for (int k = 0; k < len; k++) {
                    float m = mean ? acc[k] / Math.max(cnt[k], 1f) : acc[k];
                    acc[k] = Support.anchored(a[k], scaling, m);
                }
                b.set(o, off, acc, 0, len);
            });
            return null;
        });
    }

    /** thr[i][0] (whole model) or thr[i][p] (per tensor): entries with |τ| ≥ thr are kept. Candidates in parallel. */
    private static float[][] thresholds(Deltas d, List<String> names, double topK, Ties.Trim trim, Model out) {
        long total = 0;
        for (String name : names) {
            total += out.tensor(name).size();
        }
        long wholeSize = total;
        return Parallel.items(d.count(), i -> {
            if (trim == Ties.Trim.WHOLE_MODEL) {
                return new float[] {threshold(d, i, names, wholeSize, topK)};
            }
            float[] t = new float[names.size()];
            for (int p = 0; p < names.size(); p++) {
                String name = names.get(p);
                t[p] = threshold(d, i, List.of(name), out.tensor(name).size(), topK);
            }
            return t;
        }).toArray(new float[0][]);
    }

    private static float threshold(Deltas d, int i, List<String> names, long size, double topK) {
        long rank = Threshold.rank(size, topK);
        // rank 0 (keep everything, k = 1) or an empty tensor: every entry passes |τ| ≥ 0.
        return rank <= 0 ? 0f : Threshold.smallestMagnitude(d, i, names, rank);
    }
}
