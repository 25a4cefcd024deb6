/**
 * ND4J integration: the {@link org.fwmerge.nd4j.Nd4jBackend} tensor backend (BLAS level-1 on
 * off-heap float32 arrays, double-accurate reductions, the native thread policy) and
 * {@link org.fwmerge.nd4j.SameDiffObjective}, a merging objective whose loss and gradients come from
 * SameDiff automatic differentiation on a calibration set.
 */
package org.fwmerge.nd4j;
