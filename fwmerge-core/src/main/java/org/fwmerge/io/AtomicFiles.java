package org.fwmerge.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Atomic file writes, the one way fwmerge writes files (checkpoints, shard indexes, and the command-line
 * tool's copies): a reader sees the old file or the new one, never part of one, and a crash leaves the
 * target as it was.
 */
public final class AtomicFiles {

    private AtomicFiles() {
    }

    /** What is written into the channel of the temporary file. */
    @FunctionalInterface
    public interface ChannelWriter {
        /** Writes the whole content into {@code ch}. */
        void write(FileChannel ch) throws IOException;
    }

    /** Marks our temporary files: {@code .NAME.fwmerge-PID-RANDOM.tmp} beside the target NAME. */
    private static final String TMP_TAG = ".fwmerge-";

    /**
     * Writes a temporary file next to {@code target}, forces it to disk and renames it over the
     * target; on any failure the temporary file is deleted and the target left as it was. The temporary
     * file is named {@code .TARGET.fwmerge-PID-RANDOM.tmp}; one that a killed process left behind for the
     * same target (its PID no longer runs) is deleted first. A failure names the target, not the
     * temporary file. A target that an open checkpoint of this process reads (a pool's base, candidate,
     * shard, adapter or index, also through a link or another spelling) is refused before anything is
     * written.
     *
     * @throws IllegalArgumentException if {@code target} is a file an open checkpoint reads
     * @throws IOException naming {@code target} if writing fails (a {@link CheckpointException} from the
     *                     body, about an input, passes through as it is)
     */
    public static void write(Path target, ChannelWriter body) throws IOException {
        Path abs = target.toAbsolutePath();
        OpenInputs.refuse(abs);
        Path dir = abs.getParent();
        removeStaleTemporaries(abs);
        Path tmp = null;
        FileChannel ch = null;
        boolean done = false;
        try {
            // The temporary name is created exclusively (CREATE_NEW), so concurrent writers never share one.
            for (int attempt = 0; ch == null; attempt++) {
                tmp = dir.resolve("." + abs.getFileName() + TMP_TAG + ProcessHandle.current().pid() + "-"
                        + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
                try {
                    ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                } catch (FileAlreadyExistsException e) {
                    if (attempt > 100) {
                        throw e;
                    }
                }
            }
            try (FileChannel c = ch) {
                body.write(c);
                c.force(true);
            }
            Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE);
            done = true;
        } catch (CheckpointException e) {
            throw e; // about an input: it names that file already
        } catch (IOException e) {
            String reason = e instanceof java.nio.file.FileSystemException f
                    ? (f.getReason() == null ? f.getClass().getSimpleName() : f.getReason()) : e.getMessage();
            throw new IOException("cannot write " + abs + ": " + reason, e);
        } finally {
            if (!done && tmp != null) {
                Files.deleteIfExists(tmp);
            }
        }
        syncDirectory(dir);
    }

    /** Deletes temporary files of ours for {@code target} whose writing process is gone. */
    /** {@link #write} of a text in UTF-8 (configurations, reports). */
    public static void writeString(Path target, String text) throws IOException {
        java.nio.ByteBuffer bytes = java.nio.ByteBuffer.wrap(text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        write(target, ch -> {
            while (bytes.hasRemaining()) {
                ch.write(bytes);
            }
        });
    }

    private static void removeStaleTemporaries(Path target) {
        String prefix = "." + target.getFileName() + TMP_TAG;
        try (java.util.stream.Stream<Path> entries = Files.list(target.getParent())) {
            for (Path p : (Iterable<Path>) entries::iterator) {
                String n = p.getFileName().toString();
                if (!n.startsWith(prefix) || !n.endsWith(".tmp")) {
                    continue;
                }
                String rest = n.substring(prefix.length());
                int dash = rest.indexOf('-');
                long pid;
                try {
                    pid = Long.parseLong(rest.substring(0, Math.max(dash, 0)));
                } catch (NumberFormatException e) {
                    continue; // not a name we made
                }
                if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                    continue; // its writer may still be running
                }
                Files.deleteIfExists(p);
            }
        } catch (IOException | UncheckedIOException e) {
            // Best effort: a directory that cannot be listed fails the write itself just after.
        }
    }

    /** Makes the rename durable where the platform allows forcing a directory (Linux does). */
    private static void syncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // Best effort: some platforms cannot open directories; the data itself is already forced.
        }
    }

    /**
     * Copies {@code from} to {@code target} atomically ({@link #write}).
     *
     * @throws IOException naming {@code target} if the copy fails
     */
    public static void copy(Path from, Path target) throws IOException {
        Objects.requireNonNull(from, "from");
        try (FileChannel in = FileChannel.open(from, StandardOpenOption.READ)) {
            write(target, ch -> {
                long size = in.size();
                for (long done = 0; done < size; ) {
                    long n = ch.transferFrom(in, done, size - done);
                    if (n <= 0) {
                        throw new IOException(from + " ended after " + done + " of " + size + " bytes");
                    }
                    done += n;
                }
            });
        }
    }
}
