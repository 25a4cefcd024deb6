package org.fwmerge.internal;

import java.util.Arrays;
import org.fwmerge.CoefficientOptions.Constraint;

/** Euclidean projections of a coefficient vector onto the feasible sets of {@link Constraint}. */
public final class Projections {
    private Projections() {
    }

    /** Projects {@code v} in place. */
    public static void project(double[] v, Constraint c) {
        switch (c) {
            case UNCONSTRAINED -> {
            }
            case SIMPLEX -> simplex(v);
            case CAPPED_SIMPLEX -> {
                // KKT: if clipping at 0 already satisfies Σ ≤ 1 that is the projection; else the
                // constraint Σ = 1 is active and the answer is the simplex projection.
                double sum = 0;
                for (double x : v) {
                    sum += Math.max(x, 0);
                }
                if (sum <= 1) {
                    for (int i = 0; i < v.length; i++) {
                        v[i] = Math.max(v[i], 0);
                    }
                } else {
                    simplex(v);
                }
            }
        }
    }

    /** Projection onto {λ ≥ 0, Σλ = 1} by sorting (Held, Wolfe &amp; Crowder; Duchi et al. 2008). */
    static void simplex(double[] v) {
        double[] u = v.clone();
        Arrays.sort(u);
        double cumulative = 0;
        double theta = 0;
        for (int i = u.length - 1, count = 1; i >= 0; i--, count++) {
            cumulative += u[i];
            double t = (cumulative - 1) / count;
            if (u[i] - t > 0) {
                theta = t;
            }
        }
        for (int i = 0; i < v.length; i++) {
            v[i] = Math.max(v[i] - theta, 0);
        }
    }
}
