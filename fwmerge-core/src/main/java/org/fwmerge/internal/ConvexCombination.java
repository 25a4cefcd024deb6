package org.fwmerge.internal;

import org.fwmerge.MergeFn;
import org.fwmerge.Model;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/** out = (1−γ)·x + γ·s, one tensor of s resident at a time. */
public enum ConvexCombination implements MergeFn {
    INSTANCE;

    @Override
    public void merge(Model x, Checkpoint s, double gamma, Model out) {
        TensorBackend b = x.backend();
        for (String name : x.names()) {
            Tensor o = out.tensor(name);
            b.copy(x.tensor(name), o);
            b.scale(1 - gamma, o);
            try (Tensor si = s.load(name, b)) {
                b.axpy(gamma, si, o);
            }
        }
    }

    @Override
    public boolean staysInHull() {
        return true;
    }

    @Override
    public String toString() {
        return "convexCombination";
    }
}
