/**
 * Checks for the code users plug into fwmerge: {@link org.fwmerge.testing.ObjectiveCheck} for an
 * {@link org.fwmerge.Objective} (the gradient against central finite differences, purity, determinism,
 * thread safety), {@link org.fwmerge.testing.MergeFnCheck} for a {@link org.fwmerge.MergeFn} and
 * {@link org.fwmerge.testing.StepSizeRuleCheck} for a {@link org.fwmerge.StepSizeRule}.
 *
 * <p>The checks are framework-neutral: they throw {@link java.lang.AssertionError} with a message that
 * names the tensor, direction seed or step concerned and the numbers that disagree, and need no test
 * library, so they work from JUnit 5, JUnit 4, TestNG or a plain {@code main}:
 * <pre>{@code
 * @Test
 * void myObjective_gradientMatchesFiniteDifferences() {
 *     ObjectiveCheck.verify(new MyObjective(calibration), point);
 * }
 * }</pre>
 * A wrong gradient does not make Frank-Wolfe fail: it makes it pick wrong vertices and stop at a
 * wrong point, silently. These checks are the way to find out before a merge does.
 *
 * <p>The contract every {@link org.fwmerge.tensor.TensorBackend} must meet is a JUnit 5 suite,
 * {@code org.fwmerge.tensor.TensorBackendContract}, published in fwmerge-core's test-jar
 * ({@code <type>test-jar</type>}): a new backend extends it and returns itself from {@code backend()}.
 */
package org.fwmerge.testing;
