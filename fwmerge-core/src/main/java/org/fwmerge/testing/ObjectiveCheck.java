package org.fwmerge.testing;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.fwmerge.Evaluation;
import org.fwmerge.Model;
import org.fwmerge.Objective;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/**
 * Verifies an {@link Objective} at a point: that its gradient is the gradient of its loss, and that it
 * keeps the rest of the interface's contract. Throws {@link AssertionError} on the first violation.
 *
 * <p>What is checked, in this order:
 * <ol>
 * <li>{@code loss(x)} is finite and {@code evaluate(x).loss()} equals it (to
 *     {@link Options#lossTolerance()}, relative: the two may sum in different orders);</li>
 * <li>the gradient has exactly x's tensor names and shapes, belongs to x's backend, and is finite;</li>
 * <li>{@code x} is not modified (bit for bit) by {@code loss} or {@code evaluate};</li>
 * <li>determinism: a second {@code evaluate} and {@code loss} agree with the first (to
 *     {@link Options#repeatTolerance()}, 0 by default: bit for bit);</li>
 * <li>thread safety: {@link Options#threads()} concurrent evaluations, each on its own copy of x,
 *     agree with the sequential one (same tolerance);</li>
 * <li>when {@link Objective#terms()} is not empty, the terms' losses sum to the loss;</li>
 * <li>the directional derivative ⟨∇ℓ(x), d⟩ agrees with a central finite difference, along
 *     {@link Options#directions()} random directions over the whole model and one random direction
 *     confined to each tensor (so a wrong gradient on one small tensor is not hidden by large ones).
 *     A failure names the tensors at fault — those whose own direction disagrees — with each
 *     direction's seed and both numbers, then the whole-model disagreement if there is one.</li>
 * </ol>
 *
 * <p><b>The finite difference.</b> A direction is d = ĝ + r̂ over the entries it touches: the unit
 * vector of the gradient (where the loss changes most, so an error in the gradient of any size shows)
 * plus a random unit vector with independent Gaussian entries (seeded: the message of a failure gives
 * the seed), scaled to ‖d‖ = {@link Options#step()} · max(‖x_S‖, 0.1·√n_S) over the n_S entries it
 * touches — the step is relative to the size of x there, with an RMS floor of 0.1 so a tensor that is
 * zero (a fresh bias) still gets a step. The points x + d and x − d are rounded to
 * float32 like every point a merge evaluates, so the check uses the perturbations actually applied,
 * d⁺ = fl(x + d) − x and d⁻ = fl(x − d) − x, computed in double: it compares
 * <pre>  numeric  = (ℓ(x + d⁺) − ℓ(x + d⁻)) / 2   with   analytic = ⟨∇ℓ(x), d⁺ − d⁻⟩ / 2.</pre>
 * They may differ by the central difference's truncation error, about (‖d‖²/6)·ℓ''' — 10⁻⁶ relative at
 * the default step of 10⁻³ for a smooth loss, more where a ReLU kink falls inside [x − d, x + d] — and
 * by the float32 rounding of the two losses, at most {@link Options#lossResolution()}·|ℓ| each. So the
 * check passes when |numeric − analytic| ≤ {@link Options#relativeTolerance()}·max(|numeric|, |analytic|)
 * + lossResolution·(|ℓ(x + d⁺)| + |ℓ(x + d⁻)|)/2. The default relative tolerance, 10⁻², leaves a
 * margin of 10⁴ over the smooth truncation error for kinks, and is still 100 times smaller than the
 * error of a gradient that is off by a factor of 2 or has the wrong sign. When the change in loss along
 * d is less than 100 times that rounding — a small tensor's share of a large float32 loss — the step is
 * raised tenfold, up to a relative step of 0.01, so the check still resolves it.
 *
 * <p>The objective is evaluated at copies of {@code at}; {@code at} itself is only read.
 */
public final class ObjectiveCheck {

    /** The largest relative step the check raises a step to (truncation error about 10⁻⁴ relative). */
    private static final double MAX_STEP = 0.01 + 1e-12;

    private ObjectiveCheck() {
    }

    /**
     * The check's settings; {@link #defaults()} and the {@code with…} copies.
     *
     * @param directions        random whole-model directions (≥ 1; one more direction per tensor is always checked)
     * @param seed              seed of the first direction; direction k uses {@code seed + k}
     * @param step              ‖d‖ relative to ‖x‖ where d applies, in (0, 0.1]
     * @param relativeTolerance allowed relative disagreement of the two directional derivatives, in (0, 1)
     * @param lossResolution    relative float rounding allowed in one loss value, ≥ 0
     * @param lossTolerance     allowed relative difference between {@code loss(x)}, {@code evaluate(x).loss()}
     *                          and the sum of the terms, ≥ 0
     * @param repeatTolerance   allowed relative difference between repeated or concurrent evaluations, ≥ 0
     * @param threads           concurrent evaluations in the thread-safety check (1 skips it)
     */
    public record Options(int directions, long seed, double step, double relativeTolerance, double lossResolution,
            double lossTolerance, double repeatTolerance, int threads) {

        /** Checks every value; see the record's parameters for the ranges. */
        public Options {
            if (directions < 1) {
                throw new IllegalArgumentException("directions must be at least 1, got " + directions);
            }
            if (!(step > 0 && step <= 0.1)) {
                throw new IllegalArgumentException("step must be in (0, 0.1], got " + step);
            }
            if (!(relativeTolerance > 0 && relativeTolerance < 1)) {
                throw new IllegalArgumentException("relativeTolerance must be in (0, 1), got " + relativeTolerance);
            }
            nonNegative(lossResolution, "lossResolution");
            nonNegative(lossTolerance, "lossTolerance");
            nonNegative(repeatTolerance, "repeatTolerance");
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be at least 1, got " + threads);
            }
        }

        private static void nonNegative(double v, String name) {
            if (!(v >= 0 && v < Double.POSITIVE_INFINITY)) {
                throw new IllegalArgumentException(name + " must be finite and ≥ 0, got " + v);
            }
        }

        /**
         * 3 directions, seed 1, step 10⁻³, relative tolerance 10⁻², loss resolution 10⁻⁶ (float32 sums),
         * loss tolerance 10⁻⁶, repeat tolerance 0 (bit for bit), 4 threads.
         */
        public static Options defaults() {
            return new Options(3, 1L, 1e-3, 1e-2, 1e-6, 1e-6, 0.0, 4);
        }

        /** A copy with this many whole-model directions. */
        public Options withDirections(int n) {
            return new Options(n, seed, step, relativeTolerance, lossResolution, lossTolerance, repeatTolerance, threads);
        }

        /** A copy with this seed. */
        public Options withSeed(long s) {
            return new Options(directions, s, step, relativeTolerance, lossResolution, lossTolerance, repeatTolerance, threads);
        }

        /** A copy with this relative step. */
        public Options withStep(double h) {
            return new Options(directions, seed, h, relativeTolerance, lossResolution, lossTolerance, repeatTolerance, threads);
        }

        /** A copy with this relative tolerance of the derivative check. */
        public Options withRelativeTolerance(double t) {
            return new Options(directions, seed, step, t, lossResolution, lossTolerance, repeatTolerance, threads);
        }

        /** A copy with this loss resolution (use a larger one for a noisy, e.g. half-precision, loss). */
        public Options withLossResolution(double r) {
            return new Options(directions, seed, step, relativeTolerance, r, lossTolerance, repeatTolerance, threads);
        }

        /** A copy with this tolerance between {@code loss}, {@code evaluate().loss()} and the terms' sum. */
        public Options withLossTolerance(double t) {
            return new Options(directions, seed, step, relativeTolerance, lossResolution, t, repeatTolerance, threads);
        }

        /** A copy with this tolerance between repeated evaluations (for a backend that is not bit-reproducible). */
        public Options withRepeatTolerance(double t) {
            return new Options(directions, seed, step, relativeTolerance, lossResolution, lossTolerance, t, threads);
        }

        /** A copy with this many concurrent evaluations (1: no thread-safety check). */
        public Options withThreads(int n) {
            return new Options(directions, seed, step, relativeTolerance, lossResolution, lossTolerance, repeatTolerance, n);
        }
    }

    /**
     * Verifies {@code objective} at {@code at} with {@link Options#defaults()}.
     *
     * @throws AssertionError naming what is wrong
     */
    public static void verify(Objective objective, Model at) {
        verify(objective, at, Options.defaults());
    }

    /**
     * Verifies {@code objective} at {@code at}.
     *
     * @throws AssertionError naming what is wrong (tensor, direction seed, both numbers)
     */
    public static void verify(Objective objective, Model at, Options options) {
        Objects.requireNonNull(objective, "objective");
        Objects.requireNonNull(at, "at");
        Objects.requireNonNull(options, "options");
        if (at.names().isEmpty()) {
            throw new IllegalArgumentException("the point has no tensors");
        }
        new Run(objective, at, options).run();
    }

    /** One verification: the point's values and gradient, kept as arrays. */
    private static final class Run {
        private final Objective objective;
        private final Model at;
        private final Options o;
        private final Snapshot x;
        private final String who;

        Run(Objective objective, Model at, Options o) {
            this.objective = objective;
            this.at = at;
            this.o = o;
            this.x = Snapshot.of("the point", at);
            this.who = "objective " + objective;
        }

        void run() {
            Map<String, float[]> g;
            double loss;
            try (Model probe = at.copy()) {
                loss = objective.loss(probe);
                finite(loss, "loss(x)");
                Result first = evaluate(probe, "evaluate(x)");
                closeTo(first.loss, loss, o.lossTolerance(), "evaluate(x).loss() and loss(x)");
                x.assertUnchanged(Snapshot.of("the point", probe), "by " + who);
                g = first.gradient;

                Result second = evaluate(probe, "a second evaluate(x)");
                repeat(second, first, "a second evaluate(x)");
                closeTo(objective.loss(probe), loss, o.repeatTolerance(), "a second loss(x) and the first");
                x.assertUnchanged(Snapshot.of("the point", probe), "by " + who);

                concurrent(first);
                terms(probe, loss);
            }
            directions(g);
        }

        private record Result(double loss, Map<String, float[]> gradient) {
        }

        /** Evaluates and checks the gradient's structure and values, then frees it. */
        private Result evaluate(Model point, String what) {
            try (Evaluation e = objective.evaluate(point)) {
                if (e == null) {
                    throw new AssertionError(who + " returned null from " + what);
                }
                finite(e.loss(), what + ".loss()");
                Map<String, Tensor> grad = e.gradient();
                if (!grad.keySet().equals(new java.util.HashSet<>(at.names()))) {
                    List<String> missing = new ArrayList<>(at.names());
                    missing.removeAll(grad.keySet());
                    List<String> extra = new ArrayList<>(grad.keySet());
                    extra.removeAll(at.names());
                    throw new AssertionError(who + ": the gradient of " + what + " must have exactly the point's tensors;"
                            + " missing " + missing + ", unexpected " + extra);
                }
                Map<String, float[]> values = new LinkedHashMap<>();
                for (String name : at.names()) {
                    Tensor t = grad.get(name);
                    if (t.backend() != at.backend()) {
                        throw new AssertionError(who + ": the gradient of tensor '" + name + "' belongs to backend "
                                + t.backend().name() + ", the point to " + at.backend().name());
                    }
                    long[] want = at.tensor(name).shape();
                    if (!Arrays.equals(t.shape(), want)) {
                        throw new AssertionError(who + ": the gradient of tensor '" + name + "' has shape "
                                + Arrays.toString(t.shape()) + ", the tensor has shape " + Arrays.toString(want));
                    }
                    float[] v = t.backend().toFloats(t);
                    for (int i = 0; i < v.length; i++) {
                        if (!Float.isFinite(v[i])) {
                            throw new AssertionError(who + ": element " + i + " of the gradient of tensor '" + name
                                    + "' is " + v[i]);
                        }
                    }
                    values.put(name, v);
                }
                return new Result(e.loss(), values);
            }
        }

        private void repeat(Result r, Result first, String what) {
            closeTo(r.loss, first.loss, o.repeatTolerance(), what + " and the first evaluate(x): losses");
            for (String name : at.names()) {
                float[] a = first.gradient.get(name);
                float[] b = r.gradient.get(name);
                for (int i = 0; i < a.length; i++) {
                    if (!close(b[i], a[i], o.repeatTolerance())) {
                        throw new AssertionError(who + " is not deterministic: " + what + " gives gradient element " + i
                                + " of tensor '" + name + "' = " + b[i] + ", the first evaluate(x) " + a[i]
                                + " (the objective must be a function of x alone)");
                    }
                }
            }
        }

        private void concurrent(Result first) {
            int n = o.threads();
            if (n < 2) {
                return;
            }
            List<Model> copies = new ArrayList<>();
            ExecutorService pool = Executors.newFixedThreadPool(n);
            try {
                for (int i = 0; i < n; i++) {
                    copies.add(at.copy());
                }
                CountDownLatch start = new CountDownLatch(1);
                List<Future<Result>> results = new ArrayList<>();
                for (Model copy : copies) {
                    results.add(pool.submit(() -> {
                        start.await();
                        return evaluate(copy, "a concurrent evaluate(x)");
                    }));
                }
                start.countDown();
                for (Future<Result> f : results) {
                    repeat(f.get(10, TimeUnit.MINUTES), first, "one of " + n + " concurrent evaluate(x) calls");
                }
                for (Model copy : copies) {
                    x.assertUnchanged(Snapshot.of("the point", copy), "by concurrent calls of " + who);
                }
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                if (cause instanceof AssertionError a) {
                    throw a;
                }
                throw new AssertionError(who + " failed when " + n + " threads evaluated it at once (the interface"
                        + " requires thread safety): " + cause, cause);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while checking thread safety", e);
            } catch (java.util.concurrent.TimeoutException e) {
                throw new AssertionError(who + " did not return within 10 minutes when " + n
                        + " threads evaluated it at once (a deadlock?)", e);
            } finally {
                pool.shutdownNow();
                copies.forEach(Model::close);
            }
        }

        private void terms(Model probe, double loss) {
            List<Objective> terms = objective.terms();
            if (terms.isEmpty()) {
                return;
            }
            double sum = 0;
            for (Objective t : terms) {
                double v = t.loss(probe);
                finite(v, "term " + t + " of the loss");
                sum += v;
            }
            closeTo(sum, loss, o.lossTolerance(), "the sum of the " + terms.size() + " terms' losses and loss(x)");
        }

        /**
         * The finite-difference check: whole-model directions, then one per tensor. A failure names the
         * tensors whose own direction disagrees (the culprits), with the whole-model disagreement after
         * them; only an error that no single tensor shows is reported along the whole model alone.
         */
        private void directions(Map<String, float[]> g) {
            List<String> names = at.names();
            String whole = null;
            for (int k = 0; k < o.directions() && whole == null; k++) {
                whole = direction(g, names, o.seed() + k, "the whole model");
            }
            List<String> culprits = new ArrayList<>();
            List<String> details = new ArrayList<>();
            for (int j = 0; j < names.size(); j++) {
                String d = direction(g, List.of(names.get(j)), o.seed() + o.directions() + j, "tensor '" + names.get(j) + "'");
                if (d != null) {
                    culprits.add("'" + names.get(j) + "'");
                    details.add(d);
                }
            }
            if (!culprits.isEmpty()) {
                throw new AssertionError(who + ": the gradient is wrong in " + (culprits.size() == 1 ? "tensor " : "tensors ")
                        + String.join(", ", culprits) + ": " + String.join("; ", details)
                        + (whole == null ? "" : "; and " + whole));
            }
            if (whole != null) {
                throw new AssertionError(who + ": " + whole + " (no tensor's own direction disagrees: the error lies in"
                        + " how tensors interact)");
            }
        }

        /**
         * Checks ⟨∇ℓ(x), d⟩ along one seeded direction over {@code support}; null if it agrees with the
         * finite difference, else what disagrees (where, seed, both numbers).
         */
        private String direction(Map<String, float[]> g, List<String> support, long seed, String where) {
            SplittableRandom rnd = new SplittableRandom(seed);
            Map<String, double[]> r = new LinkedHashMap<>();
            double rr = 0;
            double gg = 0;
            double xx = 0;
            long n = 0;
            for (String name : support) {
                float[] xv = x.values(name);
                float[] gv = g.get(name);
                double[] v = new double[xv.length];
                for (int i = 0; i < v.length; i++) {
                    v[i] = gaussian(rnd);
                    rr += v[i] * v[i];
                    gg += (double) gv[i] * gv[i];
                    xx += (double) xv[i] * xv[i];
                }
                n += v.length;
                r.put(name, v);
            }
            if (n == 0) {
                return null; // an empty tensor has no derivative to check
            }
            // d = ĝ + r̂: the gradient's own direction carries the largest change in loss, so any sizeable
            // error in the gradient shows (⟨e, ĝ⟩ ≠ 0 whenever e is not tiny); the random part probes the rest.
            Map<String, double[]> d = new LinkedHashMap<>();
            double dd = 0;
            for (String name : support) {
                float[] gv = g.get(name);
                double[] v = r.get(name);
                double[] w = new double[v.length];
                for (int i = 0; i < v.length; i++) {
                    w[i] = v[i] / Math.sqrt(rr) + (gg > 0 ? gv[i] / Math.sqrt(gg) : 0);
                    dd += w[i] * w[i];
                }
                d.put(name, w);
            }
            double base = Math.max(Math.sqrt(xx), 0.1 * Math.sqrt(n)) / Math.sqrt(dd);
            // A small tensor's share of a large float32 loss can sit below the loss's rounding: then the
            // step grows tenfold (up to a relative step of 0.01) until the change in loss stands 100 times
            // above that rounding, where the tolerance below can tell a right gradient from a wrong one.
            for (double step = o.step(); ; step *= 10) {
                double[] fd = difference(g, d, base * step);
                double analytic = fd[0];
                double numeric = fd[1];
                double noise = o.lossResolution() * (Math.abs(fd[2]) + Math.abs(fd[3])) / 2;
                double size = Math.max(Math.abs(numeric), Math.abs(analytic));
                if (size < 100 * noise && step * 10 <= MAX_STEP) {
                    continue;
                }
                double diff = Math.abs(numeric - analytic);
                double allowed = o.relativeTolerance() * size + noise;
                if (diff <= allowed) {
                    return null;
                }
                return String.format(java.util.Locale.ROOT,
                        "the gradient disagrees with the loss along a random direction in %s (direction seed %d, "
                                + "‖d‖ = %.3g): ⟨∇ℓ(x), d⟩ = %.9g from the gradient, %.9g by central finite difference"
                                + " (relative difference %.3g, allowed %.3g)",
                        where, seed, base * step * Math.sqrt(dd), analytic, numeric, diff / size, allowed / size);
            }
        }

        /**
         * {analytic, numeric, ℓ(x + d⁺), ℓ(x + d⁻)} for the direction {@code scale·d}, with the
         * perturbations actually applied after float32 rounding.
         */
        private double[] difference(Map<String, float[]> g, Map<String, double[]> d, double scale) {
            double analytic = 0;
            double lossPlus;
            double lossMinus;
            try (Model plus = at.copy(); Model minus = at.copy()) {
                TensorBackend b = at.backend();
                for (Map.Entry<String, double[]> e : d.entrySet()) {
                    String name = e.getKey();
                    float[] xv = x.values(name);
                    float[] gv = g.get(name);
                    double[] v = e.getValue();
                    float[] p = new float[xv.length];
                    float[] m = new float[xv.length];
                    for (int i = 0; i < xv.length; i++) {
                        p[i] = (float) (xv[i] + scale * v[i]);
                        m[i] = (float) (xv[i] - scale * v[i]);
                        analytic += gv[i] * (((double) p[i] - xv[i]) - ((double) m[i] - xv[i]));
                    }
                    b.set(plus.tensor(name), 0, p, 0, p.length);
                    b.set(minus.tensor(name), 0, m, 0, m.length);
                }
                lossPlus = objective.loss(plus);
                lossMinus = objective.loss(minus);
            }
            finite(lossPlus, "loss(x + d)");
            finite(lossMinus, "loss(x − d)");
            return new double[] {analytic / 2, (lossPlus - lossMinus) / 2, lossPlus, lossMinus};
        }

        private static double gaussian(SplittableRandom rnd) {
            // Box-Muller: SplittableRandom has no nextGaussian in Java 17.
            double u = 1.0 - rnd.nextDouble();
            return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd.nextDouble());
        }

        private void finite(double v, String what) {
            if (!Double.isFinite(v)) {
                throw new AssertionError(who + ": " + what + " is " + v);
            }
        }

        private void closeTo(double actual, double expected, double tol, String what) {
            if (!close(actual, expected, tol)) {
                throw new AssertionError(who + ": " + what + " differ: " + actual + " vs " + expected
                        + " (relative difference " + Math.abs(actual - expected) / Math.max(Math.abs(actual), Math.abs(expected))
                        + ", allowed " + tol + ")");
            }
        }

        private static boolean close(double a, double b, double tol) {
            return a == b || Math.abs(a - b) <= tol * Math.max(Math.abs(a), Math.abs(b));
        }
    }
}
