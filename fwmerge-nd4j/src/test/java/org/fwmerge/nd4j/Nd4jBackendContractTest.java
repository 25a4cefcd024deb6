package org.fwmerge.nd4j;

import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackendContract;

/** The backend contract run against the ND4J backend (one backend per JVM: ND4J starts slowly). */
class Nd4jBackendContractTest extends TensorBackendContract {

    static final Nd4jBackend BACKEND = new Nd4jBackend();

    @Override
    protected TensorBackend backend() {
        return BACKEND;
    }

    /** nd4j-native keeps arrays in host memory; a GPU backend's host copy may be stale, so it offers none. */
    @Override
    protected boolean offersHostBuffers() {
        return org.nd4j.linalg.factory.Nd4j.getEnvironment().isCPU();
    }
}
