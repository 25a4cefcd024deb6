package org.fwmerge.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.fwmerge.Evaluation;
import org.fwmerge.Model;
import org.fwmerge.Objective;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;
import org.junit.jupiter.api.Test;

/**
 * The sum evaluates its terms side by side but must give exactly what adding them one after another in
 * float gives, and must free every gradient it made when a term fails.
 */
class SumObjectiveTest {

    private static final TensorBackend B = TensorBackends.reference();
    private static final int TERMS = 7; // more than one window on any machine with fewer than 7 cores

    /** ℓ_k(θ) = ½ Σ w_k,j θ_j² + k·⟨θ, 1⟩/10: different weights per term, so the order of additions shows. */
    private record Term(int k, Queue<Tensor> made, boolean fails) implements Objective {
        @Override
        public double loss(Model x) {
            float[] v = x.values("w");
            double s = 0;
            for (int j = 0; j < v.length; j++) {
                s += 0.5 * weight(j) * v[j] * v[j] + k * v[j] / 10.0;
            }
            return s;
        }

        @Override
        public Evaluation evaluate(Model x) {
            if (fails) {
                throw new IllegalStateException("term " + k + " fails");
            }
            float[] v = x.values("w");
            float[] g = new float[v.length];
            for (int j = 0; j < v.length; j++) {
                g[j] = (float) (weight(j) * v[j] + k / 10.0);
            }
            Tensor t = B.fromFloats(g, g.length);
            made.add(t);
            return new Evaluation(loss(x), Map.of("w", t));
        }

        private double weight(int j) {
            return 1.0 / (1 + j + 3 * k);
        }
    }

    private static Model point() {
        float[] v = new float[1000];
        for (int j = 0; j < v.length; j++) {
            v[j] = (float) Math.sin(j * 0.37) * 3;
        }
        Map<String, float[]> arrays = new LinkedHashMap<>();
        arrays.put("w", v);
        return Model.ofArrays("point", B, arrays, Map.of("w", new long[] {v.length}));
    }

    @Test
    void lossAndGradient_areTheSequentialFloatSum_bitForBit() {
        Queue<Tensor> made = new ConcurrentLinkedQueue<>();
        List<Objective> terms = new ArrayList<>();
        for (int k = 0; k < TERMS; k++) {
            terms.add(new Term(k, made, false));
        }
        Model x = point();
        double loss = 0;
        float[] expected = new float[1000];
        for (Objective t : terms) {
            loss += t.loss(x);
            try (Evaluation e = t.evaluate(x)) {
                float[] g = B.toFloats(e.gradient("w"));
                for (int j = 0; j < g.length; j++) {
                    expected[j] += g[j];
                }
            }
        }
        Objective sum = new SumObjective(terms);
        assertEquals(loss, sum.loss(x), 0.0);
        try (Evaluation e = sum.evaluate(x)) {
            assertEquals(loss, e.loss(), 0.0);
            float[] got = B.toFloats(e.gradient("w"));
            for (int j = 0; j < got.length; j++) {
                assertEquals(Float.floatToIntBits(expected[j]), Float.floatToIntBits(got[j]), "element " + j);
            }
        }
    }

    @Test
    void aFailingTerm_freesEveryGradientAlreadyMade() {
        for (int failing = 0; failing < TERMS; failing++) {
            Queue<Tensor> made = new ConcurrentLinkedQueue<>();
            List<Objective> terms = new ArrayList<>();
            for (int k = 0; k < TERMS; k++) {
                terms.add(new Term(k, made, k == failing));
            }
            Model x = point();
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> new SumObjective(terms).evaluate(x));
            assertEquals("term " + failing + " fails", e.getMessage());
            for (Tensor t : made) {
                assertThrows(IllegalStateException.class, () -> B.toFloats(t), "a gradient left open (term " + failing + " failed)");
            }
        }
    }
}
