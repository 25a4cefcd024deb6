/**
 * Examples of extending fwmerge, each plugged into {@link org.fwmerge.FrankWolfeMerger#builder()} by
 * {@link org.fwmerge.examples.extend.ExtensionExample}: a hand-written {@link org.fwmerge.Objective}
 * ({@link org.fwmerge.examples.extend.SoftmaxRegression}, no SameDiff, unit-tested with
 * {@link org.fwmerge.testing.ObjectiveCheck}), a custom {@link org.fwmerge.MergeFn}
 * ({@link org.fwmerge.examples.extend.DampedMergeFn}) and a custom {@link org.fwmerge.StepSizeRule}
 * ({@link org.fwmerge.examples.extend.ArmijoBacktracking}). The README shows their code; a test keeps
 * the two in step.
 */
package org.fwmerge.examples.extend;
