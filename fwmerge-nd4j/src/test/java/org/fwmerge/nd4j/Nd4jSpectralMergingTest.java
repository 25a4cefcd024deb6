package org.fwmerge.nd4j;

import org.fwmerge.baseline.SpectralMergingTest;
import org.fwmerge.tensor.TensorBackend;

/** TSV-M, Iso-C and Iso-CTS cases run on the ND4J backend (LAPACK's SVD, BLAS's products). */
class Nd4jSpectralMergingTest extends SpectralMergingTest {

    @Override
    protected TensorBackend backend() {
        return Nd4jBackendContractTest.BACKEND;
    }
}
