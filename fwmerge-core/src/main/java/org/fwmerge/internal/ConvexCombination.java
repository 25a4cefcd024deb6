package org.fwmerge.internal;

import org.fwmerge.MergeFn;
import org.fwmerge.Model;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.TensorReader;

/** out = (1−γ)·x + γ·s, formed in double and rounded once per element, s streamed from its checkpoint. */
public enum ConvexCombination implements MergeFn {
    INSTANCE;

    @Override
    public void merge(Model x, Checkpoint s, double gamma, Model out) {
        for (String name : x.names()) {
            try (TensorReader sp = s.reader(name)) {
                Combine.into(out.tensor(name), new double[] {1 - gamma, gamma}, x.reader(name), sp);
            }
        }
    }

    @Override
    public boolean staysInHull() {
        return true;
    }

    /** The path (1−γ)·x + γ·s leaves x along s − x itself. */
    @Override
    public double slope(double directional) {
        return directional;
    }

    @Override
    public String toString() {
        return "convexCombination";
    }
}
