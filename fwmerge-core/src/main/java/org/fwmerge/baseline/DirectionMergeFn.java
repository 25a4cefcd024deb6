package org.fwmerge.baseline;

import java.util.List;
import org.fwmerge.MergeFn;
import org.fwmerge.Model;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/**
 * out = x + γ·f(s − x) with f = TIES trim (topK set) or DARE drop (drop set) applied to the direction.
 * Stateless: a DARE mask is seeded from (seed, tensor name, ‖x_p‖²), so it is fixed while x is (all
 * line-search trials of one iteration use the same mask) and changes as x moves.
 */
final class DirectionMergeFn implements MergeFn {
    private final double topK; // NaN for DARE
    private final Ties.Trim trim;
    private final DropMask drop;

    DirectionMergeFn(double topK, Ties.Trim trim, DropMask drop) {
        this.topK = topK;
        this.trim = trim;
        this.drop = drop;
    }

    @Override
    public void merge(Model x, Checkpoint s, double gamma, Model out) {
        TensorBackend b = x.backend();
        List<String> names = x.names();
        if (drop == null) {
            Deltas d = new Deltas(x, List.of(s), (DropMask) null, null);
            TaskVectorKernel.merge(d, d, names, Ties.spec(1, topK, trim, Ties.Combine.SUM, gamma), out);
            return;
        }
        Deltas d = new Deltas(x, List.of(s), drop,
                name -> Double.doubleToLongBits(b.dot(x.tensor(name), x.tensor(name))));
        float[] buf = new float[Support.CHUNK];
        for (String name : names) {
            Tensor o = out.tensor(name);
            Tensor xt = x.tensor(name);
            b.copy(xt, o);
            d.stream(0, name, xt, (off, v, len) -> {
                b.get(o, off, buf, 0, len);
                for (int k = 0; k < len; k++) {
                    buf[k] = (float) (buf[k] + gamma * v[k]);
                }
                b.set(o, off, buf, 0, len);
            });
        }
    }

    @Override
    public boolean staysInHull() {
        return false;
    }

    @Override
    public String toString() {
        return drop == null ? "ties(topK=" + topK + ", trim=" + trim + ")" : "dare(" + drop + ")";
    }
}
