/**
 * FW-Merging: merge fine-tuned checkpoints by Frank-Wolfe optimisation over the convex hull of a pool
 * (Chen et al., <i>Frank-Wolfe Merging</i>, ICCV 2025). Start at {@link org.fwmerge.FrankWolfeMerger#builder()};
 * a pool is a {@link org.fwmerge.ModelPool}, a result a {@link org.fwmerge.MergeResult}; the strategies
 * users plug in are {@link org.fwmerge.Objective}, {@link org.fwmerge.Lmo}, {@link org.fwmerge.StepSizeRule}
 * and {@link org.fwmerge.MergeFn} (checked by {@link org.fwmerge.testing}).
 *
 * <h2>Exceptions</h2>
 * One policy across fwmerge:
 * <ul>
 * <li><b>Files</b> that cannot be read or are malformed: {@link org.fwmerge.io.CheckpointException} and its
 *     subtypes ({@link java.io.IOException}s), naming the file, the tensor and the offending value. Methods
 *     that declare {@code IOException} ({@code Safetensors.open}, {@code write}, {@code ModelPool.open})
 *     throw them as they are; methods that cannot ({@code Checkpoint.load}, {@code Merger.merge}) wrap them
 *     in {@link java.io.UncheckedIOException}, whose cause is the {@code CheckpointException}.</li>
 * <li><b>Configuration and input errors</b> — a bad setting, a parameter selection that matches nothing or
 *     a tensor that cannot be merged, an initial point of the wrong shape, an output path that is one of
 *     the inputs: {@link java.lang.IllegalArgumentException}, naming the setting or value; {@code null}
 *     where a value is needed: {@link java.lang.NullPointerException} naming the parameter.</li>
 * <li><b>Misuse and broken contracts</b> — a builder setting given twice or a required one missing, a
 *     closed checkpoint, a plug-in that breaks its interface (a step rule's γ outside [0, 1], an objective
 *     without a gradient for a tensor): {@link java.lang.IllegalStateException}; a non-finite loss or
 *     gradient is its subtype {@link org.fwmerge.NonFiniteValueException}, naming the iteration (and for
 *     FW-soft the inner step).</li>
 * </ul>
 * Reaching the iteration budget, converging, stalling or stagnating are outcomes, reported by
 * {@link org.fwmerge.MergeResult#stopReason()}, never exceptions.
 */
package org.fwmerge;
