package org.fwmerge.baseline;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.io.CheckpointMismatchException;
import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;

/** Small models with tensors "a" and "b" for golden tests. */
final class Pools {
    static final TensorBackend B = TensorBackends.reference();

    private Pools() {
    }

    static Model model(String name, TensorBackend backend, float[] a, float[] b) {
        Map<String, float[]> m = new LinkedHashMap<>();
        m.put("a", a);
        m.put("b", b);
        return Model.ofArrays(name, backend, m, Map.of());
    }

    static Model model(String name, float[] a, float[] b) {
        return model(name, B, a, b);
    }

    /** base + τ_i for each τ_i given as {a, b}. */
    static ModelPool pool(float[] baseA, float[] baseB, float[][]... taus) throws CheckpointMismatchException {
        List<Model> c = new ArrayList<>();
        for (int i = 0; i < taus.length; i++) {
            c.add(model("m" + (i + 1), add(baseA, taus[i][0]), add(baseB, taus[i][1])));
        }
        return ModelPool.of(model("base", baseA, baseB), c);
    }

    static float[] add(float[] x, float[] y) {
        float[] o = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            o[i] = x[i] + y[i];
        }
        return o;
    }

    static void assertValues(double[] expected, float[] actual, double tol, String what) {
        assertEquals(expected.length, actual.length, what + " length");
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], tol, what + "[" + i + "]");
        }
    }
}
