package org.fwmerge;

import org.fwmerge.internal.LmoPass;

/**
 * The step of one Frank-Wolfe variant (Algorithm 1 lines 5–8, or the paper's eq. 9 for FW-soft): which
 * vertices it uses and how it moves from x_t to x_{t+1}. The shared loop ({@link FrankWolfeRun})
 * does everything else; what a step needs of the run is in {@link FrankWolfeState}.
 */
interface FrankWolfeStep {

    /** Per block, the vertex indices the step uses, best first (default: the LMO's vertex s_t). */
    default int[][] select(int t, LmoPass pass, Model x) {
        return pass.best(1, null);
    }

    /** What the step of one iteration did, for the trace; {@code moved} false: γ = 0, nothing changed. */
    record Outcome(double stepSize, java.util.List<java.util.List<Double>> coefficients, boolean moved) {
    }

    /** Writes x_{t+1} into {@code next} and updates the run's hull weights. */
    Outcome take(int t, double loss, double gap, LmoPass pass, int[][] selection, Model x, Model next);

    /** Whether every iterate stays in the hull, so the hull weights describe the merged model. */
    boolean staysInHull();

    /** Whether this variant can circle without converging ({@link StopReason#STAGNATED}). */
    default boolean canStagnate() {
        return false;
    }
}
