package org.fwmerge;

/**
 * Receives each iteration as it completes, on the merging thread (for progress display or logging).
 * A listener that throws aborts the merge with its exception.
 */
@FunctionalInterface
public interface IterationListener {

    /** Called after iteration {@code record.iteration()} of a run over {@code maxIterations}. */
    void onIteration(IterationRecord record, int maxIterations);
}
