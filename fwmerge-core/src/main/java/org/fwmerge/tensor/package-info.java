/**
 * The tensor service-provider interface: {@link org.fwmerge.tensor.Tensor} handles, the
 * {@link org.fwmerge.tensor.TensorBackend} operations a backend implements, and
 * {@link org.fwmerge.tensor.TensorBackends} to find one. No backend type appears in any other
 * fwmerge signature.
 */
package org.fwmerge.tensor;
