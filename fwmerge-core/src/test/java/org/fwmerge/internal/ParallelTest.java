package org.fwmerge.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** Results in order whoever computes them, and nothing still running once a call returns or throws. */
class ParallelTest {

    @Test
    void ranges_coverTheWholeRangeInOrder_alignedToChunks() {
        long n = 5 * Parallel.MIN_PER_RANGE + 17;
        List<long[]> parts = Parallel.ranges(n, (from, to) -> new long[] {from, to});
        assertEquals(0, parts.get(0)[0]);
        for (int i = 1; i < parts.size(); i++) {
            assertEquals(parts.get(i - 1)[1], parts.get(i)[0], "contiguous");
            assertEquals(0, parts.get(i)[0] % Kernels.CHUNK, "aligned");
        }
        assertEquals(n, parts.get(parts.size() - 1)[1]);
    }

    @Test
    void items_resultsInItemOrder() {
        assertEquals(IntStream.range(0, 50).map(i -> i * i).boxed().toList(), Parallel.items(50, i -> i * i));
    }

    @Test
    void aFailure_isThrownOnlyOnceNoTaskIsRunning() {
        AtomicInteger running = new AtomicInteger();
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Parallel.ranges(4 * Parallel.MIN_PER_RANGE, (from, to) -> {
                    running.incrementAndGet();
                    try {
                        if (from == 0) {
                            throw new IllegalStateException("range 0 fails");
                        }
                        Thread.sleep(200);
                        return null;
                    } catch (InterruptedException ex) {
                        throw new AssertionError(ex);
                    } finally {
                        running.decrementAndGet();
                    }
                }));
        assertEquals("range 0 fails", e.getMessage());
        assertEquals(0, running.get(), "a range still ran after ranges() threw");
        assertThrows(IllegalStateException.class, () -> Parallel.items(8, i -> {
            running.incrementAndGet();
            try {
                if (i == 0) {
                    throw new IllegalStateException("item 0 fails");
                }
                Thread.sleep(100);
                return i;
            } catch (InterruptedException ex) {
                throw new AssertionError(ex);
            } finally {
                running.decrementAndGet();
            }
        }));
        assertEquals(0, running.get(), "an item still ran after items() threw");
    }
}
