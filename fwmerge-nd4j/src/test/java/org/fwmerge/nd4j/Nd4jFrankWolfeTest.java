package org.fwmerge.nd4j;

import org.fwmerge.FrankWolfeContract;
import org.fwmerge.tensor.TensorBackend;

/** The Frank-Wolfe invariants on the ND4J backend (the instance the backend contract uses). */
class Nd4jFrankWolfeTest extends FrankWolfeContract {
    @Override
    protected TensorBackend backend() {
        return Nd4jBackendContractTest.BACKEND;
    }
}
