package org.fwmerge.nd4j;

import org.fwmerge.baseline.RegMeanTest;
import org.fwmerge.tensor.TensorBackend;

/** RegMean and RegMean++ cases run on the ND4J backend (LAPACK's solve, BLAS's products). */
class Nd4jRegMeanTest extends RegMeanTest {

    @Override
    protected TensorBackend backend() {
        return Nd4jBackendContractTest.BACKEND;
    }
}
