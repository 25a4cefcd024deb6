package org.fwmerge.examples.extend;

import java.util.Objects;
import java.util.regex.Pattern;
import org.fwmerge.MergeFn;
import org.fwmerge.Model;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/**
 * A custom merge function: the convex-combination step, damped on the tensors whose names match a
 * pattern — out_p = x_p + γ·k_p·(s_p − x_p) with k_p = {@code damping} where the name matches and 1
 * elsewhere. Useful to let some layers (say a shared embedding) move more slowly than the rest.
 *
 * <p>Each tensor stays on its segment from x_p to s_p, but with different k_p the whole point leaves
 * the convex hull of the pool, so {@link #staysInHull()} is false: the merger then treats the slope of
 * the line search as unknown, as for any such function.
 */
// tag::mergefn[]
public record DampedMergeFn(Pattern damped, double damping) implements MergeFn {

    /** @throws IllegalArgumentException unless 0 ≤ damping ≤ 1 */
    public DampedMergeFn {
        Objects.requireNonNull(damped, "damped");
        if (!(damping >= 0 && damping <= 1)) {
            throw new IllegalArgumentException("damping must be in [0, 1], got " + damping);
        }
    }

    @Override
    public void merge(Model x, Checkpoint s, double gamma, Model out) {
        TensorBackend b = x.backend();
        for (String name : x.names()) {
            double step = gamma * (damped.matcher(name).matches() ? damping : 1.0);
            Tensor o = out.tensor(name);
            b.copy(x.tensor(name), o); // write every element of out
            b.scale(1 - step, o);
            try (Tensor si = s.load(name, b)) { // one tensor of s at a time: s is streamed
                b.axpy(step, si, o);
            }
        }
    }
}
// end::mergefn[]
