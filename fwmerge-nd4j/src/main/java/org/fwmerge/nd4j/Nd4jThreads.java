package org.fwmerge.nd4j;

import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The library's thread policy for ND4J, applied once before the first SameDiff objective is built
 * (and by programs that run their own SameDiff work first, such as training, through {@link #apply()}):
 * ND4J's native threads (its OpenMP pool and OpenBLAS) are limited to the cores minus one, at least
 * one, leaving a core to the Java thread that drives the graph between native ops; fwmerge's own
 * Java kernels use the common {@link java.util.concurrent.ForkJoinPool} and never run while a native
 * op does, so the two never nest.
 *
 * <p>Why: SameDiff runs many small ops per evaluation; with a native pool as large as the machine,
 * its threads spin between ops on the cores the driving thread needs, which made FW-soft several times
 * slower on two cores (the README gives the figures). Set
 * {@code -Dfwmerge.nd4j.threads=N} to choose another count; {@code OMP_NUM_THREADS} in the
 * environment is respected as it is (the policy then does nothing).
 */
public final class Nd4jThreads {

    /** System property overriding the number of native threads. */
    static final String PROPERTY = "fwmerge.nd4j.threads";

    private static final Logger LOG = LoggerFactory.getLogger(Nd4jThreads.class);
    private static volatile boolean applied;
    /** The native threads the policy set; 0 where it set none (a user's choice, or no controls). */
    private static int threads;

    private Nd4jThreads() {
    }

    /** Applies the policy once (cheap afterwards); call it before any SameDiff work of your own. */
    public static void apply() {
        if (applied) {
            return;
        }
        synchronized (Nd4jThreads.class) {
            if (applied) {
                return;
            }
            applied = true;
            Integer chosen = Integer.getInteger(PROPERTY);
            if (chosen == null && System.getenv("OMP_NUM_THREADS") != null) {
                return;
            }
            int count = chosen != null ? Math.max(1, chosen) : Math.max(1, Runtime.getRuntime().availableProcessors() - 1);
            if (set(count) && chosen == null) {
                threads = count;
            }
        }
    }

    /**
     * Lowers the native threads so that {@code callers} graphs run side by side (a {@link SameDiffObjective}
     * with replicas) use the cores once: each gets (cores − callers) / callers, at least one, leaving a core
     * per driving thread. Only where the policy chose the count (not under the property or
     * {@code OMP_NUM_THREADS}); never raises it.
     */
    static synchronized void shareAmong(int callers) {
        apply();
        int share = Math.max(1, (Runtime.getRuntime().availableProcessors() - callers) / callers);
        if (threads > share && set(share)) {
            threads = share;
        }
    }

    private static boolean set(int count) {
        try {
            Nd4j.getEnvironment().setMaxMasterThreads(count);
            Nd4j.factory().blas().setMaxThreads(count);
            LOG.debug("ND4J native threads: {}", count);
            return true;
        } catch (RuntimeException e) {
            // A backend without these controls (the CUDA one may refuse the CPU BLAS setting) runs as it is.
            LOG.debug("ND4J thread policy not applied: {}", e.toString());
            return false;
        }
    }
}
