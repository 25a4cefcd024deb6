package org.fwmerge.testing;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import org.fwmerge.MergeFn;
import org.fwmerge.Model;
import org.fwmerge.baseline.Dare;
import org.fwmerge.baseline.Ties;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;
import org.junit.jupiter.api.Test;

/** The merge-function check passes the built-in functions and names the fault of broken ones. */
class MergeFnCheckTest {

    private static final TensorBackend B = TensorBackends.reference();

    private static Model model(String source, float shift) {
        Map<String, float[]> a = new LinkedHashMap<>();
        float[] w = new float[12];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) Math.cos(i + shift) * (1 + shift);
        }
        a.put("layer.weight", w);
        a.put("layer.bias", new float[] {shift, -shift, 0.5f});
        return Model.ofArrays(source, B, a, Map.of("layer.weight", new long[] {3, 4}));
    }

    /** out = x + k·γ·(s − x) per tensor; with k ≤ 1 it stays on the segment. */
    private record Scaled(double k, boolean claim) implements MergeFn {
        @Override
        public void merge(Model x, Checkpoint s, double gamma, Model out) {
            for (String name : x.names()) {
                Tensor o = out.tensor(name);
                B.copy(x.tensor(name), o);
                B.scale(1 - k * gamma, o);
                try (Tensor si = s.load(name, B)) {
                    B.axpy(k * gamma, si, o);
                }
            }
        }

        @Override
        public boolean staysInHull() {
            return claim;
        }
    }

    @Test
    void verify_builtInMergeFunctions_pass() {
        try (Model x = model("x", 0.1f); Model s = model("s", 1.3f)) {
            MergeFnCheck.verify(MergeFn.convexCombination(), x, s);
            MergeFnCheck.verify(Ties.mergeFn(), x, s);
            MergeFnCheck.verify(Dare.mergeFn(0.5, 7), x, s);
            MergeFnCheck.verify(new Scaled(0.5, true), x, s);
        }
    }

    @Test
    void verify_functionLeavingPartOfOutUnwritten_failsNamingTheElement() {
        MergeFn lazy = (x, s, gamma, out) -> {
            MergeFn.convexCombination().merge(x, s, gamma, out);
            // "restores" the last bias element from a stale buffer: out's previous content
            float[] stale = new float[3];
            B.get(out.tensor("layer.bias"), 0, stale, 0, 2);
            float[] previous = new float[1];
            B.get(out.tensor("layer.bias"), 2, previous, 0, 1);
        };
        MergeFn skipsOne = (x, s, gamma, out) -> {
            for (String name : x.names()) {
                if (name.equals("layer.bias")) {
                    float[] v = x.values(name);
                    B.set(out.tensor(name), 0, v, 0, 2); // element 2 forgotten
                } else {
                    B.copy(x.tensor(name), out.tensor(name));
                }
            }
        };
        try (Model x = model("x", 0.1f); Model s = model("s", 1.3f)) {
            MergeFnCheck.verify(lazy, x, s);
            AssertionError e = assertThrows(AssertionError.class, () -> MergeFnCheck.verify(skipsOne, x, s));
            assertTrue(e.getMessage().contains("left element 2 of tensor 'layer.bias' of out unwritten at γ = 0.0"),
                    e.getMessage());
        }
    }

    @Test
    void verify_functionThatWritesIntoX_fails() {
        MergeFn writer = (x, s, gamma, out) -> {
            MergeFn.convexCombination().merge(x, s, gamma, out);
            B.scale(1.0, x.tensor("layer.weight"));
            B.set(x.tensor("layer.weight"), 3, new float[] {42f}, 0, 1);
        };
        try (Model x = model("x", 0.1f); Model s = model("s", 1.3f)) {
            AssertionError e = assertThrows(AssertionError.class, () -> MergeFnCheck.verify(writer, x, s));
            assertTrue(e.getMessage().contains("x was modified by merge function"), e.getMessage());
            assertTrue(e.getMessage().contains("tensor 'layer.weight' element 3"), e.getMessage());
        }
    }

    @Test
    void verify_falseHullClaim_fails() {
        try (Model x = model("x", 0.1f); Model s = model("s", 1.3f)) {
            AssertionError e = assertThrows(AssertionError.class, () -> MergeFnCheck.verify(new Scaled(1.5, true), x, s));
            assertTrue(e.getMessage().contains("claims to stay in the hull, but tensor 'layer.weight' lies on the line"
                    + " through x and s at t = 1.49"), e.getMessage());
            MergeFnCheck.verify(new Scaled(1.5, false), x, s); // no claim, nothing to check there
        }
    }

    @Test
    void verify_functionThatIgnoresGamma_failsAtZero() {
        MergeFn jump = (x, s, gamma, out) -> MergeFn.convexCombination().merge(x, s, 1.0, out);
        MergeFn stuck = (x, s, gamma, out) -> out.copyFrom(x);
        try (Model x = model("x", 0.1f); Model s = model("s", 1.3f)) {
            AssertionError e = assertThrows(AssertionError.class, () -> MergeFnCheck.verify(jump, x, s));
            assertTrue(e.getMessage().contains("at γ = 0.0 must return x, but tensor 'layer.weight' element 0"), e.getMessage());
            e = assertThrows(AssertionError.class, () -> MergeFnCheck.verify(stuck, x, s));
            assertTrue(e.getMessage().contains("at γ = 1.0 returned x unchanged although s differs from x"), e.getMessage());
        }
    }
}
