package org.fwmerge;

/**
 * A merging method: turns a pool into one model. Implemented by {@link FrankWolfeMerger} and the
 * baselines in {@link org.fwmerge.baseline}; any merger's output can be a Frank-Wolfe
 * {@linkplain InitialPoint#from(Merger) initial point}. Mergers are immutable and thread-safe;
 * {@code merge} may be called many times.
 */
@FunctionalInterface
public interface Merger {

    /**
     * Merges the pool's candidates (and base) into one model.
     *
     * @throws java.io.UncheckedIOException if a checkpoint cannot be read
     */
    MergeResult merge(ModelPool pool);
}
