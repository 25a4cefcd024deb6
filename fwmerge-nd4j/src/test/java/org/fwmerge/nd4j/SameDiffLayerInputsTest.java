package org.fwmerge.nd4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.fwmerge.LayerInputs.Orientation;
import org.fwmerge.Model;
import org.fwmerge.tensor.Matrix;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The SameDiff objective's Gram matrices of its linear layers' inputs, against a double-precision forward pass
 * written out here, at a point other than the graph's own weights.
 */
class SameDiffLayerInputsTest {

    private static final int N = 9;
    private static final int IN = 4;
    private static final int HID = 3;

    private static float[] random(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }

    private static SameDiffObjective.Builder objective(float[] x) {
        SameDiff sd = SameDiff.create();
        SDVariable in = sd.placeHolder("x", DataType.FLOAT, -1, IN);
        SDVariable h = sd.nn.relu("hidden", in.mmul(sd.var("w0", Nd4j.zeros(DataType.FLOAT, IN, HID)))
                .add(sd.var("b0", Nd4j.zeros(DataType.FLOAT, HID))), 0);
        h.mmul(sd.var("w1", Nd4j.zeros(DataType.FLOAT, HID, 2))).add("logits", sd.constant("b1", Nd4j.zeros(DataType.FLOAT, 2)));
        return SameDiffObjective.builder().graph(sd).input("x", Nd4j.createFromArray(x).reshape(N, IN)).logits("logits")
                .parameter("w0", "w0").parameter("b0", "b0").parameter("w1", "w1").crossEntropy(new int[N]);
    }

    @Test
    void grams_matchADoublePrecisionForwardPass() {
        SplittableRandom r = new SplittableRandom(3);
        float[] x = random(r, N * IN);
        float[] w0 = random(r, IN * HID);
        float[] b0 = random(r, HID);
        SameDiffObjective o = objective(x).layerInput("w0", "x", Orientation.IN_BY_OUT)
                .layerInput("w1", "hidden", Orientation.IN_BY_OUT).build();
        Map<String, float[]> point = new LinkedHashMap<>();
        point.put("w0", w0);
        point.put("b0", b0);
        point.put("w1", random(r, HID * 2));
        Model m = Model.ofArrays("point", Nd4jBackendContractTest.BACKEND, point,
                Map.of("w0", new long[] {IN, HID}, "w1", new long[] {HID, 2}));
        Map<String, Matrix> g = o.grams(m);
        double[][] h = new double[N][HID];
        for (int s = 0; s < N; s++) {
            for (int j = 0; j < HID; j++) {
                double v = b0[j];
                for (int k = 0; k < IN; k++) {
                    v += (double) x[s * IN + k] * w0[k * HID + j];
                }
                h[s][j] = Math.max(0, v);
            }
        }
        for (int a = 0; a < IN; a++) {
            for (int b = 0; b < IN; b++) {
                double e = 0;
                for (int s = 0; s < N; s++) {
                    e += (double) x[s * IN + a] * x[s * IN + b] / N;
                }
                assertEquals(e, g.get("w0").get(a, b), 1e-6, "G(w0)[" + a + "," + b + "]");
            }
        }
        for (int a = 0; a < HID; a++) {
            for (int b = 0; b < HID; b++) {
                double e = 0;
                for (int s = 0; s < N; s++) {
                    e += h[s][a] * h[s][b] / N;
                }
                assertEquals(e, g.get("w1").get(a, b), 1e-5, "G(w1)[" + a + "," + b + "]");
            }
        }
        assertEquals(Map.of("w0", Orientation.IN_BY_OUT, "w1", Orientation.IN_BY_OUT), o.layers());
        m.close();
    }

    @Test
    void layerWeightThatIsNotAParameter_isRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> objective(new float[N * IN])
                .layerInput("b1", "hidden", Orientation.IN_BY_OUT).build());
        assertTrue(e.getMessage().contains("'b1'"), e.getMessage());
    }
}
