package org.fwmerge.examples.demo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.fwmerge.nd4j.Nd4jBackend;
import org.fwmerge.tensor.TensorBackend;

/**
 * Peak memory while one merge runs (experiment 4), as two figures above the level at
 * {@link #start}:
 * <ul>
 * <li><b>tensors</b>: the peak of {@link Nd4jBackend#allocatedBytes()}, the storage of open tensors —
 * exact, and what the method's algorithm holds (checkpoints are read in chunks and count nothing);</li>
 * <li><b>process</b>: the growth of the resident set's high-water mark ({@code VmHWM} of
 * {@code /proc/self/status}, reset through {@code clear_refs}; Linux only). It adds what the JVM and
 * ND4J keep until a GC runs — SameDiff's Java objects and temporaries, young-generation
 * heap — and misses memory the allocator reuses, so it depends on what ran before.</li>
 * </ul>
 */
final class MemoryProbe {

    /** Peak growth in bytes; -1 where it could not be measured. */
    record Peak(long tensorBytes, long processBytes) {
    }

    private static final Path STATUS = Path.of("/proc/self/status");
    private static final Path CLEAR_REFS = Path.of("/proc/self/clear_refs");

    private final Nd4jBackend nd4j;
    private final long tensorStart;
    private final long rssStart;

    private MemoryProbe(Nd4jBackend nd4j, long rssStart) {
        this.nd4j = nd4j;
        this.tensorStart = nd4j == null ? 0 : nd4j.allocatedBytes();
        this.rssStart = rssStart;
        if (nd4j != null) {
            nd4j.resetPeakAllocatedBytes();
        }
    }

    /** Starts measuring merges on {@code backend} (tensor figures need the ND4J backend). */
    static MemoryProbe start(TensorBackend backend) {
        System.gc(); // garbage of earlier work should not count, nor be freed into this measurement
        long rss;
        try {
            rss = statusKb("VmRSS") * 1024;
            Files.writeString(CLEAR_REFS, "5"); // "5": reset VmHWM to the current RSS (Linux >= 4.0)
        } catch (IOException | RuntimeException e) {
            rss = -1;
        }
        return new MemoryProbe(backend instanceof Nd4jBackend nd ? nd : null, rss);
    }

    /** The peaks since {@link #start}. */
    Peak stop() {
        long tensors = nd4j == null ? -1 : nd4j.peakAllocatedBytes() - tensorStart;
        long process = -1;
        if (rssStart >= 0) {
            try {
                process = Math.max(0, statusKb("VmHWM") * 1024 - rssStart);
            } catch (IOException | RuntimeException e) {
                process = -1;
            }
        }
        return new Peak(tensors, process);
    }

    private static long statusKb(String key) throws IOException {
        for (String line : Files.readAllLines(STATUS)) {
            if (line.startsWith(key + ":")) {
                return Long.parseLong(line.substring(key.length() + 1).replace("kB", "").trim());
            }
        }
        throw new IOException(key + " not in " + STATUS);
    }
}
