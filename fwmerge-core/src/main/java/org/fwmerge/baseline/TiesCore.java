package org.fwmerge.baseline;

import java.util.List;
import org.fwmerge.Model;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/**
 * The TIES pipeline over streamed differences (see {@link Ties} for the definition and the choices):
 * thresholds per candidate (2 passes each), then S = Σ_i trim(τ_i) into {@code out} and the majority
 * sign (over the whole model or per tensor, as the trim), then the disjoint combination, one tensor-sized copy of S and (for the mean) one tensor-sized
 * count as the only scratch.
 */
final class TiesCore {

    private TiesCore() {
    }

    /** Writes out = anchor + scaling · TIES(τ_1…τ_n) for every tensor in {@code names}. */
    static void merge(Deltas d, List<String> names, double topK, Ties.Trim trim, Ties.Combine combine, double scaling,
            Checkpoint anchor, Model out) {
        TensorBackend b = out.backend();
        int n = d.count();
        float[][] thr = thresholds(d, names, topK, trim, out);

        // Pass A: S = Σ_i trimmed τ_i (accumulated into out), and the majority sign Σ sign(S).
        float[] acc = new float[Support.CHUNK];
        long[] signSums = new long[names.size()];
        for (int p = 0; p < names.size(); p++) {
            String name = names.get(p);
            Tensor o = out.tensor(name);
            Support.fillZero(b, o);
            for (int i = 0; i < n; i++) {
                float t = thr[i][trim == Ties.Trim.WHOLE_MODEL ? 0 : p];
                d.stream(i, name, (off, v, len) -> {
                    b.get(o, off, acc, 0, len);
                    for (int k = 0; k < len; k++) {
                        if (Math.abs(v[k]) >= t) {
                            acc[k] += v[k];
                        }
                    }
                    b.set(o, off, acc, 0, len);
                });
            }
            for (long off = 0; off < o.size(); off += Support.CHUNK) {
                int len = (int) Math.min(Support.CHUNK, o.size() - off);
                b.get(o, off, acc, 0, len);
                for (int k = 0; k < len; k++) {
                    signSums[p] += (long) Math.signum(acc[k]);
                }
            }
        }
        // The majority sign that settles entries whose election is a tie: over the same entries as the trim.
        float[] majority = new float[names.size()];
        long total = java.util.Arrays.stream(signSums).sum();
        for (int p = 0; p < names.size(); p++) {
            majority[p] = Math.signum((float) (trim == Ties.Trim.WHOLE_MODEL ? total : signSums[p]));
        }

        // Pass B: keep trimmed entries agreeing with the elected sign; sum or mean them.
        float[] sBuf = new float[Support.CHUNK];
        float[] cBuf = new float[Support.CHUNK];
        for (int p = 0; p < names.size(); p++) {
            String name = names.get(p);
            Tensor o = out.tensor(name);
            Tensor count = null;
            try (Tensor s = b.copyOf(o)) {
                Support.fillZero(b, o);
                if (combine == Ties.Combine.MEAN) {
                    count = b.zeros(o.shape());
                }
                Tensor cnt = count;
                float tieSign = majority[p];
                for (int i = 0; i < n; i++) {
                    float t = thr[i][trim == Ties.Trim.WHOLE_MODEL ? 0 : p];
                    d.stream(i, name, (off, v, len) -> {
                        b.get(s, off, sBuf, 0, len);
                        b.get(o, off, acc, 0, len);
                        if (cnt != null) {
                            b.get(cnt, off, cBuf, 0, len);
                        }
                        for (int k = 0; k < len; k++) {
                            float e = Math.signum(sBuf[k]);
                            if (e == 0) {
                                e = tieSign;
                            }
                            float x = v[k];
                            boolean keep = Math.abs(x) >= t && (e > 0 ? x > 0 : e < 0 && x < 0);
                            if (keep) {
                                acc[k] += x;
                                cBuf[k] += 1;
                            }
                        }
                        b.set(o, off, acc, 0, len);
                        if (cnt != null) {
                            b.set(cnt, off, cBuf, 0, len);
                        }
                    });
                }
                if (cnt != null) {
                    for (long off = 0; off < o.size(); off += Support.CHUNK) {
                        int len = (int) Math.min(Support.CHUNK, o.size() - off);
                        b.get(o, off, acc, 0, len);
                        b.get(cnt, off, cBuf, 0, len);
                        for (int k = 0; k < len; k++) {
                            acc[k] /= Math.max(cBuf[k], 1f);
                        }
                        b.set(o, off, acc, 0, len);
                    }
                }
            } finally {
                if (count != null) {
                    count.close();
                }
            }
            b.scale(scaling, o);
            try (Tensor a = anchor.load(name, b)) {
                b.axpy(1.0, a, o);
            }
        }
    }

    /** thr[i][0] (whole model) or thr[i][p] (per tensor): entries with |τ| ≥ thr are kept. */
    private static float[][] thresholds(Deltas d, List<String> names, double topK, Ties.Trim trim, Model out) {
        int n = d.count();
        float[][] thr = new float[n][];
        for (int i = 0; i < n; i++) {
            if (trim == Ties.Trim.WHOLE_MODEL) {
                long total = 0;
                for (String name : names) {
                    total += out.tensor(name).size();
                }
                thr[i] = new float[] {threshold(d, i, names, total, topK)};
            } else {
                thr[i] = new float[names.size()];
                for (int p = 0; p < names.size(); p++) {
                    String name = names.get(p);
                    thr[i][p] = threshold(d, i, List.of(name), out.tensor(name).size(), topK);
                }
            }
        }
        return thr;
    }

    private static float threshold(Deltas d, int i, List<String> names, long size, double topK) {
        long rank = Threshold.rank(size, topK);
        // rank 0 (keep everything, k = 1) or an empty tensor: every entry passes |τ| ≥ 0.
        return rank <= 0 ? 0f : Threshold.smallestMagnitude(d, i, names, rank);
    }
}
