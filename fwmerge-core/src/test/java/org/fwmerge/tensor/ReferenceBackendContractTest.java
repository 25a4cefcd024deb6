package org.fwmerge.tensor;

/** The backend contract run against the pure-Java reference backend. */
class ReferenceBackendContractTest extends TensorBackendContract {

    @Override
    protected TensorBackend backend() {
        return TensorBackends.reference();
    }
}
