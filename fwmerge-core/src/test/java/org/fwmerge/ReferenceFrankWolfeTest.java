package org.fwmerge;

import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;

/** The Frank-Wolfe invariants on the reference backend. */
class ReferenceFrankWolfeTest extends FrankWolfeContract {
    @Override
    protected TensorBackend backend() {
        return TensorBackends.reference();
    }
}
