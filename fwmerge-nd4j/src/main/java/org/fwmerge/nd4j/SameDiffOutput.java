package org.fwmerge.nd4j;

import java.io.PrintStream;
import java.util.Objects;
import java.util.concurrent.Callable;

/**
 * Keeps SameDiff's console chatter off standard output. ND4J 1.0.0-M2.1 prints "Added differentiated op
 * NAME" with {@code System.out.println} for every op whenever a gradient function is built
 * ({@code SameDiff.createGradFunction}, and so {@code fit} and the first gradient), with no switch to
 * turn it off. {@link #quietly} runs work with {@code System.out} wrapped in a filter that drops exactly
 * those lines and passes everything else through unchanged, then restores it.
 *
 * <p>{@code System.out} is process-wide: calls are serialised on one lock (re-entrant), and output of
 * other threads in that window still reaches the console, only ND4J's lines are dropped.
 */
public final class SameDiffOutput {

    private static final String CHATTER = "Added differentiated op";
    private static final Object LOCK = new Object();

    private SameDiffOutput() {
    }

    /**
     * Runs {@code work} with SameDiff's "Added differentiated op" lines filtered from standard output.
     *
     * @return what {@code work} returns
     * @throws Exception what {@code work} throws
     */
    public static <T> T quietly(Callable<T> work) throws Exception {
        Objects.requireNonNull(work, "work");
        synchronized (LOCK) {
            PrintStream console = System.out;
            System.setOut(new PrintStream(console, true) {
                @Override
                public void println(String line) {
                    if (line == null || !line.startsWith(CHATTER)) {
                        super.println(line);
                    }
                }
            });
            try {
                return work.call();
            } finally {
                System.setOut(console);
            }
        }
    }

    /** {@link #quietly(Callable)} for work that throws no checked exception. */
    static void quietlyRun(Runnable work) {
        try {
            quietly(() -> {
                work.run();
                return null;
            });
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e); // cannot happen: a Runnable throws no checked exception
        }
    }
}
