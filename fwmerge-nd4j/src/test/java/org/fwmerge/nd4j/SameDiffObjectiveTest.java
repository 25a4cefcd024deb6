package org.fwmerge.nd4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.fwmerge.Evaluation;
import org.fwmerge.Model;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;
import org.fwmerge.testing.ObjectiveCheck;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link SameDiffObjective} on a 6-5-3 ReLU MLP built in DOUBLE: layer 1 and the layer-2 weight are
 * merged, the layer-2 bias plays the task head that stays in the graph. Values are checked against a
 * hand-written double-precision forward pass and gradients against central finite differences.
 */
class SameDiffObjectiveTest {

    private static final Nd4jBackend ND = Nd4jBackendContractTest.BACKEND;
    private static final TensorBackend REF = TensorBackends.reference();
    private static final int N = 8;
    private static final int IN = 6;
    private static final int HID = 5;
    private static final int OUT = 3;
    private static final double[] HEAD = {0.25, -0.5, 0.125};
    private static final int[] LABELS = {0, 1, 2, 1, 0, 2, 2, 1};

    /** Inputs in [-1, 1), seeded. */
    private static double[][] inputs() {
        SplittableRandom rnd = new SplittableRandom(5);
        double[][] x = new double[N][IN];
        for (double[] row : x) {
            for (int j = 0; j < IN; j++) {
                row[j] = rnd.nextDouble(-1, 1);
            }
        }
        return x;
    }

    /** The graph; its own w1/b1/w2 start at values different from any point evaluated. */
    private static SameDiff graph() {
        return graph(DataType.DOUBLE);
    }

    private static SameDiff graph(DataType type) {
        SameDiff sd = SameDiff.create();
        SDVariable in = sd.placeHolder("in", type, -1, IN);
        SDVariable w1 = sd.var("w1", Nd4j.valueArrayOf(new long[] {IN, HID}, 0.3, type));
        SDVariable b1 = sd.var("b1", Nd4j.valueArrayOf(new long[] {HID}, 0.1, type));
        SDVariable w2 = sd.var("w2", Nd4j.valueArrayOf(new long[] {HID, OUT}, -0.2, type));
        SDVariable b2 = sd.var("b2", Nd4j.createFromArray(HEAD).castTo(type));
        SDVariable h = sd.nn.relu(in.mmul(w1).add(b1), 0);
        h.mmul(w2).add("logits", b2);
        return sd;
    }

    private static SameDiffObjective.Builder builder(SameDiff sd) {
        return SameDiffObjective.builder().graph(sd)
                .parameter("layer1.weight", "w1").parameter("layer1.bias", "b1").parameter("layer2.weight", "w2")
                .input("in", Nd4j.createFromArray(inputs())).logits("logits");
    }

    /** A point with dyadic values (multiples of 2^-8), so x ± 2^-10 is exact in float32. */
    private static Model point(TensorBackend backend, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        Map<String, float[]> arrays = new LinkedHashMap<>();
        arrays.put("layer1.weight", dyadic(rnd, IN * HID));
        arrays.put("layer1.bias", dyadic(rnd, HID));
        arrays.put("layer2.weight", dyadic(rnd, HID * OUT));
        Map<String, long[]> shapes = Map.of("layer1.weight", new long[] {IN, HID}, "layer2.weight",
                new long[] {HID, OUT});
        return Model.ofArrays("point" + seed, backend, arrays, shapes);
    }

    private static float[] dyadic(SplittableRandom rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (rnd.nextInt(513) - 256) / 256f;
        }
        return v;
    }

    /** Hand-written forward pass in double: the logits for every sample. */
    private static double[][] logits(Model x) {
        float[] w1 = x.values("layer1.weight");
        float[] b1 = x.values("layer1.bias");
        float[] w2 = x.values("layer2.weight");
        double[][] in = inputs();
        double[][] z = new double[N][OUT];
        for (int s = 0; s < N; s++) {
            double[] h = new double[HID];
            for (int j = 0; j < HID; j++) {
                double a = b1[j];
                for (int i = 0; i < IN; i++) {
                    a += in[s][i] * w1[i * HID + j];
                }
                h[j] = Math.max(0, a);
            }
            for (int k = 0; k < OUT; k++) {
                double a = HEAD[k];
                for (int j = 0; j < HID; j++) {
                    a += h[j] * w2[j * OUT + k];
                }
                z[s][k] = a;
            }
        }
        return z;
    }

    private static double[] logSoftmax(double[] z) {
        double m = Math.max(z[0], Math.max(z[1], z[2]));
        double sum = 0;
        for (double v : z) {
            sum += Math.exp(v - m);
        }
        double[] out = new double[z.length];
        for (int i = 0; i < z.length; i++) {
            out[i] = z[i] - m - Math.log(sum);
        }
        return out;
    }

    private static double entropyRef(Model x) {
        double total = 0;
        for (double[] z : logits(x)) {
            double[] lp = logSoftmax(z);
            for (double v : lp) {
                total -= Math.exp(v) * v;
            }
        }
        return total / N;
    }

    private static double crossEntropyRef(Model x) {
        double total = 0;
        double[][] z = logits(x);
        for (int s = 0; s < N; s++) {
            total -= logSoftmax(z[s])[LABELS[s]];
        }
        return total / N;
    }

    // ---------------------------------------------------------------- values

    @Test
    void loss_predictionEntropy_matchesDoubleRecomputation() {
        SameDiffObjective obj = builder(graph()).predictionEntropy().build();
        try (Model x = point(ND, 1)) {
            double expected = entropyRef(x);
            assertTrue(expected > 0.1, "a non-trivial entropy: " + expected);
            assertEquals(expected, obj.loss(x), 1e-12 * expected);
            try (Evaluation e = obj.evaluate(x)) {
                assertEquals(expected, e.loss(), 1e-12 * expected);
            }
        }
    }

    @Test
    void loss_crossEntropy_matchesDoubleRecomputation() {
        SameDiffObjective obj = builder(graph()).crossEntropy(LABELS).build();
        try (Model x = point(REF, 2)) {
            double expected = crossEntropyRef(x);
            assertEquals(expected, obj.loss(x), 1e-12 * expected);
        }
    }

    /** Gradients are handed over without a copy: one evaluation's tensors must not change with the next. */
    @Test
    void evaluate_gradientsOfEarlierEvaluationsStayUnchanged() {
        SameDiffObjective obj = builder(graph(DataType.FLOAT)).crossEntropy(LABELS).build();
        try (Model x1 = point(ND, 5); Model x2 = point(ND, 6); Evaluation e1 = obj.evaluate(x1)) {
            Map<String, float[]> before = new LinkedHashMap<>();
            for (String name : x1.names()) {
                before.put(name, ND.toFloats(e1.gradient(name)));
            }
            try (Evaluation e2 = obj.evaluate(x2)) {
                boolean differs = false;
                for (String name : x1.names()) {
                    assertArrayEquals(before.get(name), ND.toFloats(e1.gradient(name)), 0f, name);
                    differs |= !java.util.Arrays.equals(before.get(name), ND.toFloats(e2.gradient(name)));
                }
                assertTrue(differs, "a different point gives a different gradient");
            }
        }
    }

    @Test
    void minibatch_isTheObjectiveBuiltOnTheDrawnRows() {
        SameDiffObjective obj = builder(graph()).crossEntropy(LABELS).build();
        SameDiffObjective batch = obj.minibatch(3, new SplittableRandom(11));
        // The documented draw: a partial Fisher-Yates shuffle from the same stream.
        SplittableRandom r = new SplittableRandom(11);
        int[] order = java.util.stream.IntStream.range(0, N).toArray();
        for (int i = 0; i < 3; i++) {
            int j = i + r.nextInt(N - i);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        double[][] in = inputs();
        double[][] rows = new double[3][];
        int[] labels = new int[3];
        for (int i = 0; i < 3; i++) {
            rows[i] = in[order[i]];
            labels[i] = LABELS[order[i]];
        }
        SameDiffObjective direct = SameDiffObjective.builder().graph(graph())
                .parameter("layer1.weight", "w1").parameter("layer1.bias", "b1").parameter("layer2.weight", "w2")
                .input("in", Nd4j.createFromArray(rows)).logits("logits").crossEntropy(labels).build();
        try (Model x = point(ND, 4); Evaluation eb = batch.evaluate(x); Evaluation ed = direct.evaluate(x)) {
            double[][] z = logits(x);
            double expected = 0;
            for (int i = 0; i < 3; i++) {
                expected -= logSoftmax(z[order[i]])[labels[i]] / 3;
            }
            assertEquals(expected, batch.loss(x), 1e-12 * expected);
            assertEquals(ed.loss(), eb.loss(), 0.0);
            for (String name : x.names()) {
                assertArrayEquals(ND.toFloats(ed.gradient(name)), ND.toFloats(eb.gradient(name)), 0f, name);
            }
            assertEquals(crossEntropyRef(x), obj.loss(x), 1e-12, "the full objective is unchanged");
            // Batches of one size share their arrays: another batch in between must not change this one's loss,
            // and a batch of a batch draws from the batch's own samples.
            double first = batch.loss(x);
            SameDiffObjective other = obj.minibatch(3, new SplittableRandom(12));
            other.loss(x);
            assertEquals(first, batch.loss(x), 0.0);
            SameDiffObjective inner = batch.minibatch(1, new SplittableRandom(3));
            double one = inner.loss(x);
            boolean fromBatch = false;
            for (int i = 0; i < 3; i++) {
                fromBatch |= Math.abs(-logSoftmax(z[order[i]])[labels[i]] - one) < 1e-12;
            }
            assertTrue(fromBatch, "a batch of the batch is one of its 3 samples: " + one);
        }
        assertSame(obj, obj.minibatch(N, new SplittableRandom(1)), "a batch of every sample is the objective");
        assertThrows(IllegalArgumentException.class, () -> obj.minibatch(0, new SplittableRandom(1)));
    }

    @Test
    void crossEntropy_oneHotLabels_equalClassLabels() {
        INDArray oneHot = Nd4j.zeros(DataType.FLOAT, N, OUT);
        for (int s = 0; s < N; s++) {
            oneHot.putScalar(s, LABELS[s], 1.0);
        }
        SameDiffObjective a = builder(graph()).crossEntropy(oneHot).build();
        SameDiffObjective b = builder(graph()).crossEntropy(LABELS).build();
        try (Model x = point(ND, 3)) {
            assertEquals(b.loss(x), a.loss(x), 0.0);
        }
    }

    @Test
    void accuracy_matchesArgmaxOfRecomputedLogits() {
        SameDiffObjective obj = builder(graph()).crossEntropy(LABELS).build();
        for (long seed = 10; seed < 15; seed++) {
            try (Model x = point(ND, seed)) {
                double[][] z = logits(x);
                int correct = 0;
                for (int s = 0; s < N; s++) {
                    int best = 0;
                    for (int k = 1; k < OUT; k++) {
                        best = z[s][k] > z[s][best] ? k : best;
                    }
                    correct += best == LABELS[s] ? 1 : 0;
                }
                assertEquals(correct / (double) N, obj.accuracy(x), 0.0, "seed " + seed);
            }
        }
    }

    @Test
    void accuracy_withoutLabels_throws() {
        SameDiffObjective obj = builder(graph()).predictionEntropy().build();
        try (Model x = point(ND, 1)) {
            assertThrows(IllegalStateException.class, () -> obj.accuracy(x));
        }
    }

    // ---------------------------------------------------------------- gradients

    /**
     * Shards on graph copies (8 samples in 3 shards of 2, 3 and 3) give the loss of the hand-written double
     * recomputation, the one-graph objective's gradient, minibatches drawn as from one graph, and pass the
     * finite-difference check.
     */
    @Test
    void replicas_shardsTheSamples_sameLossAndGradientAsOneGraph() {
        SameDiffObjective one = builder(graph()).crossEntropy(LABELS).build();
        SameDiffObjective three = builder(graph()).crossEntropy(LABELS).replicas(3).build();
        SameDiffObjective entropy = builder(graph()).predictionEntropy().replicas(3).build();
        try (Model x = point(ND, 8); Evaluation e1 = one.evaluate(x); Evaluation e3 = three.evaluate(x)) {
            assertEquals(crossEntropyRef(x), three.loss(x), 1e-12);
            assertEquals(crossEntropyRef(x), e3.loss(), 1e-12);
            assertEquals(entropyRef(x), entropy.loss(x), 1e-12);
            for (String name : x.names()) {
                float[] g1 = ND.toFloats(e1.gradient(name));
                float[] g3 = ND.toFloats(e3.gradient(name));
                for (int i = 0; i < g1.length; i++) {
                    assertEquals(g1[i], g3[i], 1e-6 * (1 + Math.abs(g1[i])), name + "[" + i + "]");
                }
            }
            SameDiffObjective b1 = one.minibatch(5, new SplittableRandom(4));
            SameDiffObjective b3 = three.minibatch(5, new SplittableRandom(4));
            assertEquals(b1.loss(x), b3.loss(x), 1e-12, "a minibatch draws the same rows, sharded in 3");
            assertEquals(b1.minibatch(2, new SplittableRandom(9)).loss(x), b3.minibatch(2, new SplittableRandom(9)).loss(x),
                    1e-12, "a batch of a batch too (2 samples: 2 shards)");
        }
        checkGradient(three, REF, 23);
        assertThrows(IllegalArgumentException.class, () -> builder(graph()).replicas(0));
    }

    @Test
    void evaluate_crossEntropy_gradientMatchesFiniteDifferences() {
        checkGradient(builder(graph()).crossEntropy(LABELS).build(), REF, 21);
    }

    @Test
    void evaluate_predictionEntropy_gradientMatchesFiniteDifferences() {
        checkGradient(builder(graph()).predictionEntropy().build(), ND, 22);
    }

    /**
     * Every partial derivative against a Richardson-extrapolated central difference with steps
     * 2^-10 and 2^-11. The graph computes in double and the perturbed points are exact in float32, so
     * the difference quotient is accurate to ~1e-12; the tolerance 1e-6 covers the float32 rounding
     * of the returned gradient (6e-8 relative).
     */
    private static void checkGradient(SameDiffObjective obj, TensorBackend backend, long seed) {
        try (Model x = point(backend, seed); Evaluation e = obj.evaluate(x)) {
            double maxAbs = 0;
            for (String name : x.names()) {
                for (float g : backend.toFloats(e.gradient(name))) {
                    maxAbs = Math.max(maxAbs, Math.abs(g));
                }
            }
            assertTrue(maxAbs > 1e-3, "a non-trivial gradient: " + maxAbs);
            for (String name : x.names()) {
                Tensor g = e.gradient(name);
                assertSame(backend, g.backend());
                assertArrayEquals(x.tensor(name).shape(), g.shape());
                float[] grad = backend.toFloats(g);
                float[] base = x.values(name);
                for (int i = 0; i < base.length; i++) {
                    double h = 1.0 / 1024;
                    double d1 = centralDifference(obj, x, name, base, i, h);
                    double d2 = centralDifference(obj, x, name, base, i, h / 2);
                    double fd = (4 * d2 - d1) / 3;
                    double err = Math.abs(fd - grad[i]);
                    assertTrue(err <= 1e-6 * (maxAbs + Math.abs(fd)),
                            name + "[" + i + "]: autodiff " + grad[i] + " vs finite difference " + fd);
                }
            }
        }
    }

    private static double centralDifference(SameDiffObjective obj, Model x, String name, float[] base, int i, double h) {
        TensorBackend b = x.backend();
        Tensor t = x.tensor(name);
        b.set(t, i, new float[] {(float) (base[i] + h)}, 0, 1);
        double plus = obj.loss(x);
        b.set(t, i, new float[] {(float) (base[i] - h)}, 0, 1);
        double minus = obj.loss(x);
        b.set(t, i, base, i, 1);
        return (plus - minus) / (2 * h);
    }

    // ---------------------------------------------------------------- isolation and threads

    /** ND4J prints every op it differentiates; building an objective must not reach standard output. */
    @Test
    void build_printsNothingToStandardOutput() {
        java.io.PrintStream console = System.out;
        java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
        System.setOut(new java.io.PrintStream(captured, true));
        try {
            builder(graph()).crossEntropy(LABELS).build();
            System.out.println("other output passes");
        } finally {
            System.setOut(console);
        }
        assertEquals("other output passes" + System.lineSeparator(), captured.toString());
    }

    /** The library's own objectives pass the users' test kit, in double and in float32 graphs, on both backends. */
    @Test
    void objectiveCheck_crossEntropyAndEntropy_pass() {
        for (DataType type : new DataType[] {DataType.DOUBLE, DataType.FLOAT}) {
            SameDiffObjective ce = builder(graph(type)).crossEntropy(LABELS).build();
            SameDiffObjective entropy = builder(graph(type)).predictionEntropy().build();
            for (TensorBackend backend : new TensorBackend[] {ND, REF}) {
                try (Model x = point(backend, 21)) {
                    ObjectiveCheck.verify(ce, x);
                    ObjectiveCheck.verify(entropy, x);
                    ObjectiveCheck.verify(org.fwmerge.Objective.sum(List.of(ce, entropy)), x);
                }
            }
        }
    }

    @Test
    void evaluate_gradientsStayValidAcrossLaterCalls() {
        // evaluate closes SameDiff's own output and gradient arrays; the caller's copies must not alias
        // them (nor memory reused by the next call).
        SameDiffObjective obj = builder(graph()).crossEntropy(LABELS).build();
        try (Model p = point(ND, 3); Model q = point(ND, 4); Evaluation first = obj.evaluate(p)) {
            Map<String, float[]> kept = new LinkedHashMap<>();
            for (String n : p.names()) {
                kept.put(n, ND.toFloats(first.gradient(n)));
            }
            for (int i = 0; i < 5; i++) {
                try (Evaluation other = obj.evaluate(q)) {
                    assertTrue(other.loss() != first.loss(), "q is a different point");
                }
                assertEquals(first.loss(), obj.loss(p));
            }
            try (Evaluation again = obj.evaluate(p)) {
                for (String n : p.names()) {
                    assertArrayEquals(kept.get(n), ND.toFloats(first.gradient(n)), n + " unchanged after later calls");
                    assertArrayEquals(kept.get(n), ND.toFloats(again.gradient(n)), n + " reproducible");
                }
            }
        }
    }

    @Test
    void evaluate_leavesPointCallerGraphAndHeadUnchanged() {
        SameDiff sd = graph();
        SameDiffObjective obj = builder(sd).crossEntropy(LABELS).build();
        try (Model x = point(ND, 31); Model other = point(REF, 32)) {
            Map<String, float[]> before = new LinkedHashMap<>();
            x.names().forEach(n -> before.put(n, x.values(n)));
            double first = obj.loss(x);
            obj.evaluate(other).close();
            try (Evaluation e = obj.evaluate(x)) {
                assertEquals(first, e.loss(), 0.0, "no state from the previous point leaks");
            }
            before.forEach((n, v) -> assertArrayEquals(v, x.values(n), "point tensor " + n + " modified"));
            // The head kept its value (the loss matches a recomputation that uses HEAD) ...
            assertEquals(crossEntropyRef(x), first, 1e-12 * first);
            // ... and the caller's graph was not touched: its variables keep their initial values.
            assertArrayEquals(HEAD, sd.getArrForVarName("b2").toDoubleVector(), 0.0);
            assertEquals(0.3, sd.getArrForVarName("w1").getDouble(2, 3), 0.0);
            assertTrue(!sd.hasVariable("fwmerge_loss"), "the loss is added to a copy of the graph");
        }
    }

    @Test
    void evaluate_concurrentThreads_matchSequentialResults() throws Exception {
        SameDiffObjective obj = builder(graph()).predictionEntropy().build();
        int points = 6;
        List<Model> xs = new ArrayList<>();
        List<Double> losses = new ArrayList<>();
        List<Map<String, float[]>> grads = new ArrayList<>();
        for (int p = 0; p < points; p++) {
            Model x = point(ND, 40 + p);
            xs.add(x);
            try (Evaluation e = obj.evaluate(x)) {
                losses.add(e.loss());
                Map<String, float[]> g = new LinkedHashMap<>();
                e.gradient().forEach((n, t) -> g.put(n, ND.toFloats(t)));
                grads.add(g);
            }
        }
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int rep = 0; rep < 4; rep++) {
                for (int p = 0; p < points; p++) {
                    int q = p;
                    futures.add(pool.submit(() -> {
                        try (Evaluation e = obj.evaluate(xs.get(q))) {
                            assertEquals(losses.get(q), e.loss(), 0.0);
                            grads.get(q).forEach((n, v) -> assertArrayEquals(v, ND.toFloats(e.gradient(n)), n));
                        }
                        assertEquals(losses.get(q), obj.loss(xs.get(q)), 0.0);
                        return null;
                    }));
                }
            }
            for (Future<?> f : futures) {
                f.get();
            }
        } finally {
            pool.shutdown();
            xs.forEach(Model::close);
        }
    }

    // ---------------------------------------------------------------- validation

    @Test
    void build_unknownOrWrongKindOfVariable_throws() {
        assertThrows(IllegalArgumentException.class,
                () -> builder(graph()).parameter("extra", "nope").predictionEntropy().build());
        assertThrows(IllegalArgumentException.class, () -> SameDiffObjective.builder().graph(graph())
                .parameter("x", "in").input("in", Nd4j.createFromArray(inputs())).logits("logits")
                .predictionEntropy().build());
        assertThrows(IllegalArgumentException.class, () -> SameDiffObjective.builder().graph(graph())
                .parameter("w", "w1").input("in", Nd4j.createFromArray(inputs())).logits("nope")
                .predictionEntropy().build());
    }

    @Test
    void build_labelOutOfRangeOrWrongCount_throws() {
        int[] bad = LABELS.clone();
        bad[3] = OUT;
        assertThrows(IllegalArgumentException.class, () -> builder(graph()).crossEntropy(bad).build());
        assertThrows(IllegalArgumentException.class, () -> builder(graph()).crossEntropy(new int[] {0, 1}).build());
        assertThrows(IllegalArgumentException.class, () -> builder(graph()).crossEntropy(new int[] {-1}));
    }

    @Test
    void builder_missingOrRepeatedSettings_throw() {
        assertThrows(IllegalStateException.class, () -> builder(graph()).build());
        assertThrows(IllegalStateException.class, () -> builder(graph()).predictionEntropy().crossEntropy(LABELS));
        assertThrows(IllegalStateException.class, () -> builder(graph()).logits("logits"));
        assertThrows(IllegalStateException.class, () -> builder(graph()).parameter("layer1.bias", "b2"));
        assertThrows(IllegalArgumentException.class, () -> builder(graph()).parameter("other", "b1"));
    }

    @Test
    void evaluate_pointWithOtherTensorsOrShapes_throws() {
        SameDiffObjective obj = builder(graph()).predictionEntropy().build();
        try (Model missing = Model.ofArrays("m", REF, Map.of("layer1.bias", new float[HID]), Map.of());
             Model badShape = Model.ofArrays("b", REF, Map.of("layer1.weight", new float[IN * HID],
                     "layer1.bias", new float[HID], "layer2.weight", new float[HID * OUT]), Map.of())) {
            assertThrows(IllegalArgumentException.class, () -> obj.evaluate(missing));
            assertThrows(IllegalArgumentException.class, () -> obj.loss(badShape));
        }
    }
}
