package org.fwmerge.testing;

import java.util.Arrays;
import java.util.Objects;
import org.fwmerge.MergeFn;
import org.fwmerge.Model;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.tensor.TensorBackend;

/**
 * Verifies a {@link MergeFn} on a point {@code x} and a vertex {@code s}, at γ ∈ {0, 0.3, 1}. Throws
 * {@link AssertionError} on the first violation of the interface's contract:
 * <ul>
 * <li>every element of {@code out} is written: the function runs twice, into an output filled with
 *     NaN and into one filled with 3·10³⁸, and both results must agree bit for bit and be finite (an
 *     element left alone keeps its poison and differs);</li>
 * <li>{@code x} and {@code s} are unchanged, bit for bit;</li>
 * <li>γ = 0 returns x (up to 2 ulps);</li>
 * <li>γ = 1 takes a step: some tensor of out differs from x when s ≠ x;</li>
 * <li>when {@link MergeFn#staysInHull()} claims it, each tensor of out lies on the segment from x to s:
 *     out_p = x_p + t_p·(s_p − x_p) with t_p ∈ [0, 1] (up to float rounding);</li>
 * <li>when {@link MergeFn#slope(double)} claims a slope, it is the path's: for a seeded random linear loss
 *     ℓ(θ) = ⟨g, θ⟩, the forward difference (ℓ(merge(x, s, h)) − ℓ(x)) / h at h = 10⁻³ agrees with
 *     {@code slope(⟨g, s − x⟩)} to 1 % (plus float32 rounding).</li>
 * </ul>
 * The layer-wise LMO assembles s block by block from different checkpoints, so the hull it moves in
 * is the product of the blocks' hulls; the segment condition is checked per tensor for that reason.
 */
public final class MergeFnCheck {

    /** Steps at which the function is run. */
    static final double[] GAMMAS = {0, 0.3, 1};
    private static final float SECOND_POISON = 3e38f;

    private MergeFnCheck() {
    }

    /**
     * Verifies {@code fn} with the point {@code x} and the vertex {@code s} (which must hold every
     * tensor of x, with the same shapes).
     *
     * @throws AssertionError naming the tensor, element, γ and values concerned
     */
    public static void verify(MergeFn fn, Model x, Checkpoint s) {
        Objects.requireNonNull(fn, "fn");
        Objects.requireNonNull(x, "x");
        Objects.requireNonNull(s, "s");
        TensorBackend b = x.backend();
        for (String name : x.names()) {
            if (!s.contains(name) || !Arrays.equals(s.info(name).shape(), x.tensor(name).shape())) {
                throw new IllegalArgumentException("the vertex " + s.source() + " must hold tensor '" + name
                        + "' with shape " + Arrays.toString(x.tensor(name).shape()));
            }
        }
        Snapshot xs = Snapshot.of("x", x);
        Snapshot ss = Snapshot.of("s", s, x.names(), b);
        String who = "merge function " + fn;
        for (double gamma : GAMMAS) {
            String at = " at γ = " + gamma;
            Snapshot out = run(fn, x, s, gamma, Float.NaN);
            Snapshot again = run(fn, x, s, gamma, SECOND_POISON);
            xs.assertUnchanged(Snapshot.of("x", x), "by " + who + at);
            ss.assertUnchanged(Snapshot.of("s", s, x.names(), b), "by " + who + at);
            boolean moved = false;
            for (String name : x.names()) {
                float[] o = out.values(name);
                float[] o2 = again.values(name);
                int i = Snapshot.firstDifference(o, o2);
                if (i >= 0) {
                    throw new AssertionError(who + " left element " + i + " of tensor '" + name + "' of out unwritten" + at
                            + " (it kept the value out held before: " + o[i] + " in one run, " + o2[i] + " in another)");
                }
                for (int j = 0; j < o.length; j++) {
                    if (!Float.isFinite(o[j])) {
                        throw new AssertionError(who + " wrote " + o[j] + " into element " + j + " of tensor '" + name + "'" + at);
                    }
                }
                float[] xv = xs.values(name);
                float[] sv = ss.values(name);
                if (gamma == 0) {
                    requireEqual(o, xv, who + at + " must return x, but tensor '" + name + "'");
                }
                if (fn.staysInHull()) {
                    onSegment(o, xv, sv, who + at + " claims to stay in the hull, but tensor '" + name + "'");
                }
                moved |= Snapshot.firstDifference(o, xv) >= 0;
            }
            if (gamma == 1 && !moved && differs(xs, ss, x)) {
                throw new AssertionError(who + at + " returned x unchanged although s differs from x: a full step must move");
            }
        }
        checkSlope(fn, x, s, xs, ss, who);
    }

    /** The forward-difference step of the slope check. */
    private static final double SLOPE_STEP = 1e-3;

    /** If {@code fn} claims a slope, compares it with the path's along a random linear loss. */
    private static void checkSlope(MergeFn fn, Model x, Checkpoint s, Snapshot xs, Snapshot ss, String who) {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(17);
        java.util.Map<String, double[]> g = new java.util.LinkedHashMap<>();
        double directional = 0;
        for (String name : x.names()) {
            float[] xv = xs.values(name);
            float[] sv = ss.values(name);
            double[] gv = new double[xv.length];
            for (int i = 0; i < gv.length; i++) {
                gv[i] = rnd.nextDouble(-1, 1);
                directional += gv[i] * ((double) sv[i] - xv[i]);
            }
            g.put(name, gv);
        }
        double claimed = fn.slope(directional);
        if (Double.isNaN(claimed)) {
            return;
        }
        Snapshot out = run(fn, x, s, SLOPE_STEP, 0f);
        double change = 0;
        double rounding = 0;
        for (String name : x.names()) {
            float[] o = out.values(name);
            float[] xv = xs.values(name);
            double[] gv = g.get(name);
            for (int i = 0; i < o.length; i++) {
                change += gv[i] * ((double) o[i] - xv[i]);
                rounding += Math.abs(gv[i]) * Math.ulp(Math.max(Math.abs(o[i]), Math.abs(xv[i])));
            }
        }
        double numeric = change / SLOPE_STEP;
        double allowed = 0.01 * Math.max(Math.abs(claimed), Math.abs(numeric)) + rounding / SLOPE_STEP;
        if (!(Math.abs(numeric - claimed) <= allowed)) {
            throw new AssertionError(who + " claims the slope " + claimed + " for ⟨g, s − x⟩ = " + directional
                    + " (a random linear loss g, seed 17), but its path changes that loss at the rate " + numeric
                    + " at γ = " + SLOPE_STEP + "; return NaN from slope() unless the path leaves x along a known"
                    + " multiple of s − x");
        }
    }

    private static Snapshot run(MergeFn fn, Model x, Checkpoint s, double gamma, float poison) {
        try (Model out = Model.zerosLike(x)) {
            TensorBackend b = x.backend();
            for (String name : out.names()) {
                float[] fill = new float[(int) out.tensor(name).size()];
                Arrays.fill(fill, poison);
                b.set(out.tensor(name), 0, fill, 0, fill.length);
            }
            fn.merge(x, s, gamma, out);
            return Snapshot.of("out", out);
        }
    }

    private static boolean differs(Snapshot xs, Snapshot ss, Model x) {
        for (String name : x.names()) {
            if (Snapshot.firstDifference(xs.values(name), ss.values(name)) >= 0) {
                return true;
            }
        }
        return false;
    }

    /** Fails unless o = x + t(s − x) for one t ∈ [0, 1]; returns t. */
    private static double onSegment(float[] o, float[] x, float[] s, String what) {
        double num = 0;
        double den = 0;
        double scale = 0;
        for (int i = 0; i < o.length; i++) {
            double d = (double) s[i] - x[i];
            num += ((double) o[i] - x[i]) * d;
            den += d * d;
            scale = Math.max(scale, Math.max(Math.abs(x[i]), Math.abs(s[i])));
        }
        double t = den == 0 ? 0 : num / den;
        // float32 rounding of out: a few ulps of the largest magnitude involved
        double tol = 4 * Math.ulp((float) Math.max(scale, Float.MIN_NORMAL));
        double tTol = den == 0 ? 0 : tol * Math.sqrt(o.length) / Math.sqrt(den);
        if (t < -tTol || t > 1 + tTol) {
            throw new AssertionError(what + " lies on the line through x and s at t = " + t + ", outside [0, 1]");
        }
        for (int i = 0; i < o.length; i++) {
            double expected = x[i] + t * ((double) s[i] - x[i]);
            if (Math.abs(o[i] - expected) > tol) {
                throw new AssertionError(what + " is off the segment from x to s: element " + i + " is " + o[i]
                        + ", the segment point with t = " + t + " has " + expected + " (x " + x[i] + ", s " + s[i] + ")");
            }
        }
        return t;
    }

    private static void requireEqual(float[] o, float[] expected, String what) {
        for (int i = 0; i < o.length; i++) {
            float e = expected[i];
            if (Math.abs(o[i] - e) > 2 * Math.ulp(e)) {
                throw new AssertionError(what + " element " + i + " is " + o[i] + ", expected " + e);
            }
        }
    }
}
