package org.fwmerge.testing;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fwmerge.Model;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/** The exact float values of a set of tensors at one moment, to prove later that nothing wrote into them. */
final class Snapshot {
    private final String what;
    private final Map<String, float[]> values;

    private Snapshot(String what, Map<String, float[]> values) {
        this.what = what;
        this.values = values;
    }

    static Snapshot of(String what, Model m) {
        Map<String, float[]> v = new LinkedHashMap<>();
        for (String name : m.names()) {
            v.put(name, m.values(name));
        }
        return new Snapshot(what, v);
    }

    static Snapshot of(String what, Checkpoint c, List<String> names, TensorBackend backend) {
        Map<String, float[]> v = new LinkedHashMap<>();
        for (String name : names) {
            try (Tensor t = c.load(name, backend)) {
                v.put(name, backend.toFloats(t));
            }
        }
        return new Snapshot(what, v);
    }

    float[] values(String name) {
        return values.get(name);
    }

    /** Fails if {@code now} differs from the snapshot in any bit of any element. */
    void assertUnchanged(Snapshot now, String during) {
        for (Map.Entry<String, float[]> e : values.entrySet()) {
            float[] before = e.getValue();
            float[] after = now.values.get(e.getKey());
            int i = firstDifference(before, after);
            if (i >= 0) {
                throw new AssertionError(what + " was modified " + during + ": tensor '" + e.getKey() + "' element " + i
                        + " was " + before[i] + ", is " + after[i]);
            }
        }
    }

    /** Index of the first element whose bits differ (NaN payloads included), or −1. */
    static int firstDifference(float[] a, float[] b) {
        for (int i = 0; i < a.length; i++) {
            if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) {
                return i;
            }
        }
        return -1;
    }
}
