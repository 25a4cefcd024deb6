package org.fwmerge.nd4j;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.factory.Nd4j;

/** The thread policy: ND4J's native threads are the cores minus one (at least one), once set. */
class Nd4jThreadsTest {

    @Test
    void apply_limitsNativeThreadsToCoresMinusOne() {
        Nd4jThreads.apply();
        Integer chosen = Integer.getInteger(Nd4jThreads.PROPERTY);
        if (chosen == null && System.getenv("OMP_NUM_THREADS") != null) {
            return; // the user's environment decides; the policy leaves it alone
        }
        int expected = chosen != null ? Math.max(1, chosen) : Math.max(1, Runtime.getRuntime().availableProcessors() - 1);
        assertEquals(expected, Nd4j.getEnvironment().maxMasterThreads());
        assertEquals(expected, Nd4j.factory().blas().getMaxThreads());
    }
}
