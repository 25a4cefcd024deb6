package org.fwmerge.testing;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;
import org.fwmerge.Evaluation;
import org.fwmerge.Model;
import org.fwmerge.Objective;
import org.fwmerge.QuadraticObjective;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;
import org.junit.jupiter.api.Test;

/** The objective check passes correct objectives and names the culprit of each kind of broken one. */
class ObjectiveCheckTest {

    private static final TensorBackend B = TensorBackends.reference();

    /** A point with a weight matrix, a zero bias (the RMS floor of the step) and a larger tensor. */
    static Model point() {
        Map<String, float[]> a = new LinkedHashMap<>();
        a.put("w", new float[] {0.5f, -1.25f, 2f, 0.125f, -0.75f, 1f});
        a.put("b", new float[] {0f, 0f});
        float[] big = new float[200];
        for (int i = 0; i < big.length; i++) {
            big[i] = (float) Math.sin(i * 0.37);
        }
        a.put("big", big);
        return Model.ofArrays("point", B, a, Map.of("w", new long[] {2, 3}));
    }

    /**
     * ℓ(x) = Σ_i softplus(a_i x_i) + ½ x_i², a_i = 1 + (i mod 3): smooth and not quadratic, so a
     * finite difference really tests the gradient a_i σ(a_i x_i) + x_i. Its gradient can be bent by
     * {@code bend(tensor, values)}.
     */
    static class Softplus implements Objective {
        @Override
        public double loss(Model x) {
            double s = 0;
            for (String name : x.names()) {
                float[] v = x.values(name);
                for (int i = 0; i < v.length; i++) {
                    double z = (1 + i % 3) * (double) v[i];
                    s += Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z))) + 0.5 * v[i] * v[i];
                }
            }
            return s;
        }

        @Override
        public Evaluation evaluate(Model x) {
            Map<String, Tensor> g = new LinkedHashMap<>();
            for (String name : x.names()) {
                float[] v = x.values(name);
                float[] d = new float[v.length];
                for (int i = 0; i < v.length; i++) {
                    double a = 1 + i % 3;
                    d[i] = (float) (a / (1 + Math.exp(-a * v[i])) + v[i]);
                }
                g.put(name, B.fromFloats(bend(name, d), x.tensor(name).shape()));
            }
            return new Evaluation(loss(x), g);
        }

        float[] bend(String name, float[] gradient) {
            return gradient;
        }

        @Override
        public String toString() {
            return getClass().getSimpleName();
        }
    }

    @Test
    void verify_correctObjectives_pass() {
        try (Model x = point(); Model c = point()) {
            ObjectiveCheck.verify(new Softplus(), x);
            B.scale(0.5, c.tensor("big"));
            ObjectiveCheck.verify(new QuadraticObjective(c), x);
            ObjectiveCheck.verify(Objective.sum(List.of(new Softplus(), new QuadraticObjective(c))), x,
                    ObjectiveCheck.Options.defaults().withDirections(5).withSeed(99));
        }
    }

    @Test
    void verify_gradientWrongByAFactorOnOneSmallTensor_failsNamingTheTensorAndSeed() {
        Objective wrong = new Softplus() {
            @Override
            float[] bend(String name, float[] g) {
                if (name.equals("b")) {
                    for (int i = 0; i < g.length; i++) {
                        g[i] *= 2;
                    }
                }
                return g;
            }
        };
        try (Model x = point()) {
            AssertionError e = assertThrows(AssertionError.class, () -> ObjectiveCheck.verify(wrong, x));
            assertTrue(e.getMessage().contains("in tensor 'b' (direction seed 5"), e.getMessage());
            assertTrue(e.getMessage().contains("by central finite difference"), e.getMessage());
        }
    }

    /**
     * A gradient ×1.5 on one tensor of three makes the whole-model direction fail too; the message must
     * still name that tensor (and only it), with its direction's seed, not stop at the whole model.
     */
    @Test
    void verify_gradientWrongOnOneOfThreeTensors_namesThatTensorNotJustTheWholeModel() {
        Map<String, float[]> a = new LinkedHashMap<>();
        a.put("proj.weight", new float[] {0.5f, -1.25f, 2f, 0.125f, -0.75f, 1f});
        a.put("proj.bias", new float[] {1.5f, -2f, 0.75f});
        a.put("norm.weight", new float[] {1f, 1f, 0.5f, 2f});
        Objective wrong = new Softplus() {
            @Override
            float[] bend(String name, float[] g) {
                if (name.equals("proj.bias")) {
                    for (int i = 0; i < g.length; i++) {
                        g[i] *= 1.5f;
                    }
                }
                return g;
            }
        };
        try (Model x = Model.ofArrays("point", B, a, Map.of("proj.weight", new long[] {2, 3}))) {
            AssertionError e = assertThrows(AssertionError.class, () -> ObjectiveCheck.verify(wrong, x));
            String m = e.getMessage();
            assertTrue(m.startsWith("objective " + wrong + ": the gradient is wrong in tensor 'proj.bias': the gradient"
                    + " disagrees with the loss along a random direction in tensor 'proj.bias' (direction seed 5,"), m);
            assertTrue(m.contains("in the whole model (direction seed 1,"), "the whole-model failure follows: " + m);
            assertTrue(!m.contains("'proj.weight' (direction") && !m.contains("'norm.weight' (direction"), m);
        }
    }

    @Test
    void verify_gradientWithTheWrongSign_fails() {
        Objective wrong = new Softplus() {
            @Override
            float[] bend(String name, float[] g) {
                for (int i = 0; i < g.length; i++) {
                    g[i] = -g[i];
                }
                return g;
            }
        };
        try (Model x = point()) {
            AssertionError e = assertThrows(AssertionError.class, () -> ObjectiveCheck.verify(wrong, x));
            assertTrue(e.getMessage().contains("the gradient is wrong in tensors 'w', 'b', 'big': "), e.getMessage());
            assertTrue(e.getMessage().contains("in the whole model (direction seed 1"), e.getMessage());
            assertTrue(e.getMessage().contains("relative difference 2"), e.getMessage());
        }
    }

    @Test
    void verify_objectiveThatWritesIntoX_failsNamingTheTensorAndElement() {
        Objective writer = new Softplus() {
            @Override
            public double loss(Model x) {
                x.backend().set(x.tensor("w"), 4, new float[] {7f}, 0, 1);
                return super.loss(x);
            }
        };
        try (Model x = point()) {
            AssertionError e = assertThrows(AssertionError.class, () -> ObjectiveCheck.verify(writer, x));
            assertTrue(e.getMessage().contains("the point was modified by objective"), e.getMessage());
            assertTrue(e.getMessage().contains("tensor 'w' element 4 was -0.75, is 7.0"), e.getMessage());
            assertTrue(x.values("w")[4] == -0.75f, "the check evaluates copies: the caller's point is untouched");
        }
    }

    @Test
    void verify_nonDeterministicObjective_fails() {
        AtomicInteger calls = new AtomicInteger();
        Objective noisy = new Softplus() {
            @Override
            float[] bend(String name, float[] g) {
                g[0] += 1e-3f * calls.incrementAndGet();
                return g;
            }
        };
        try (Model x = point()) {
            AssertionError e = assertThrows(AssertionError.class, () -> ObjectiveCheck.verify(noisy, x));
            assertTrue(e.getMessage().contains("is not deterministic: a second evaluate(x) gives gradient element 0 of tensor 'w'"),
                    e.getMessage());
        }
    }

    @Test
    void verify_objectiveThatIsNotThreadSafe_failsInTheConcurrentCheck() {
        AtomicInteger inFlight = new AtomicInteger();
        Objective racy = new Softplus() {
            @Override
            public Evaluation evaluate(Model x) {
                // shared scratch: two calls at once see each other's state
                int n = inFlight.incrementAndGet();
                try {
                    Thread.sleep(50);
                    Evaluation e = super.evaluate(x);
                    return new Evaluation(e.loss() + (n > 1 || inFlight.get() > 1 ? 1 : 0), e.gradient());
                } catch (InterruptedException ex) {
                    throw new IllegalStateException(ex);
                } finally {
                    inFlight.decrementAndGet();
                }
            }
        };
        try (Model x = point()) {
            AssertionError e = assertThrows(AssertionError.class, () -> ObjectiveCheck.verify(racy, x));
            assertTrue(e.getMessage().contains("concurrent evaluate(x) calls and the first evaluate(x): losses differ"),
                    e.getMessage());
        }
    }

    @Test
    void verify_gradientMissingATensor_failsNamingIt() {
        Objective partial = new Softplus() {
            @Override
            public Evaluation evaluate(Model x) {
                try (Evaluation full = super.evaluate(x)) {
                    Map<String, Tensor> g = new LinkedHashMap<>();
                    g.put("w", B.copyOf(full.gradient("w")));
                    g.put("big", B.copyOf(full.gradient("big")));
                    return new Evaluation(full.loss(), g);
                }
            }
        };
        try (Model x = point()) {
            AssertionError e = assertThrows(AssertionError.class, () -> ObjectiveCheck.verify(partial, x));
            assertTrue(e.getMessage().contains("missing [b], unexpected []"), e.getMessage());
        }
    }

    @Test
    void verify_lossAndEvaluateDisagree_fails() {
        Objective twoLosses = new Softplus() {
            @Override
            public double loss(Model x) {
                return super.loss(x) * 1.01;
            }

            @Override
            public Evaluation evaluate(Model x) {
                try (Evaluation e = super.evaluate(x)) {
                    Map<String, Tensor> g = new LinkedHashMap<>();
                    e.gradient().forEach((n, t) -> g.put(n, B.copyOf(t)));
                    return new Evaluation(e.loss() / 1.01, g);
                }
            }
        };
        try (Model x = point()) {
            AssertionError e = assertThrows(AssertionError.class, () -> ObjectiveCheck.verify(twoLosses, x));
            assertTrue(e.getMessage().contains("evaluate(x).loss() and loss(x) differ"), e.getMessage());
        }
    }

    @Test
    void verify_termsThatDoNotSumToTheLoss_fail() {
        Objective liar = new Softplus() {
            @Override
            public List<Objective> terms() {
                return List.of(new Softplus(), new Softplus()); // twice the loss
            }
        };
        try (Model x = point()) {
            AssertionError e = assertThrows(AssertionError.class, () -> ObjectiveCheck.verify(liar, x));
            assertTrue(e.getMessage().contains("the sum of the 2 terms' losses and loss(x) differ"), e.getMessage());
        }
    }

    @Test
    void verify_nonFiniteGradient_failsNamingTheElement() {
        Objective nan = new Softplus() {
            @Override
            float[] bend(String name, float[] g) {
                if (name.equals("big")) {
                    g[17] = Float.NaN;
                }
                return g;
            }
        };
        try (Model x = point()) {
            AssertionError e = assertThrows(AssertionError.class, () -> ObjectiveCheck.verify(nan, x));
            assertTrue(e.getMessage().contains("element 17 of the gradient of tensor 'big' is NaN"), e.getMessage());
        }
    }

    @Test
    void options_badValues_areRejectedNamingThem() {
        BiFunction<String, Runnable, String> msg = (n, r) -> assertThrows(IllegalArgumentException.class, r::run).getMessage();
        assertTrue(msg.apply("step", () -> ObjectiveCheck.Options.defaults().withStep(0)).contains("step must be in (0, 0.1], got 0.0"));
        assertTrue(msg.apply("directions", () -> ObjectiveCheck.Options.defaults().withDirections(0)).contains("directions"));
        assertTrue(msg.apply("threads", () -> ObjectiveCheck.Options.defaults().withThreads(0)).contains("threads"));
        assertTrue(msg.apply("tol", () -> ObjectiveCheck.Options.defaults().withRelativeTolerance(1)).contains("relativeTolerance"));
    }
}
