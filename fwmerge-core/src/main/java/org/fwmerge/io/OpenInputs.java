package org.fwmerge.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HashMap;
import java.util.Map;

/**
 * The files that checkpoints of this JVM have open for reading (safetensors files, shard indexes,
 * adapter configurations), so that no writer replaces one, whatever it writes: a merge result, a plain
 * {@link org.fwmerge.Model} that knows nothing of the pool it came from, or a copied text file. Files are
 * compared by identity (the file system's file key: device and inode on Unix), so a symbolic link, a
 * hard link or another spelling of the path is recognised. Thread-safe.
 */
final class OpenInputs {

    /** One open file, counted once per checkpoint that has it open. */
    private static final class Entry {
        final Path path;
        final Object directory;
        int opens;

        Entry(Path path, Object directory) {
            this.path = path;
            this.directory = directory;
        }
    }

    private static final Map<Object, Entry> OPEN = new HashMap<>();

    private OpenInputs() {
    }

    /** A checkpoint's hold on its files; {@link #close()} releases it (idempotent). */
    static final class Registration implements AutoCloseable {
        private Object[] keys;

        private Registration(Object[] keys) {
            this.keys = keys;
        }

        @Override
        public void close() {
            Object[] k;
            synchronized (OPEN) {
                k = keys;
                keys = null;
                if (k == null) {
                    return;
                }
                for (Object key : k) {
                    Entry e = OPEN.get(key);
                    if (e != null && --e.opens == 0) {
                        OPEN.remove(key);
                    }
                }
            }
        }
    }

    /** Records {@code files} (which exist: they were just opened) as inputs until the registration is closed. */
    static Registration register(Path... files) throws IOException {
        Object[] keys = new Object[files.length];
        Object[] dirs = new Object[files.length];
        for (int i = 0; i < files.length; i++) {
            keys[i] = key(files[i]);
            dirs[i] = key(files[i].toAbsolutePath().getParent());
        }
        synchronized (OPEN) {
            for (int i = 0; i < files.length; i++) {
                Path p = files[i];
                Object dir = dirs[i];
                OPEN.computeIfAbsent(keys[i], k -> new Entry(p, dir)).opens++; // the first spelling names it
            }
        }
        return new Registration(keys);
    }

    /**
     * Refuses {@code target} if it is a file an open checkpoint reads.
     *
     * @throws IllegalArgumentException naming the target and the input it would replace
     */
    static void refuse(Path target) {
        if (!Files.exists(target)) {
            return;
        }
        Path input;
        try {
            Object key = key(target);
            synchronized (OPEN) {
                Entry e = OPEN.get(key);
                input = e == null ? null : e.path;
            }
        } catch (IOException e) {
            return; // cannot be identified: the write itself reports the problem with the target
        }
        if (input != null) {
            throw new IllegalArgumentException("refusing to write " + target + ": it is " + input
                    + ", which an open checkpoint of this process reads (an input of a pool or model); choose another"
                    + " output path");
        }
    }

    /**
     * Refuses {@code dir} as the target of a sharded write (which replaces the files of the model already
     * there) if it holds a file an open checkpoint reads.
     *
     * @throws IllegalArgumentException naming the directory and the input it holds
     */
    static void refuseDirectory(Path dir) {
        if (!Files.isDirectory(dir)) {
            return;
        }
        Path input = null;
        try {
            Object key = key(dir);
            synchronized (OPEN) {
                for (Entry e : OPEN.values()) {
                    if (key.equals(e.directory)) {
                        input = e.path;
                        break;
                    }
                }
            }
        } catch (IOException e) {
            return;
        }
        if (input != null) {
            throw new IllegalArgumentException("refusing to write " + dir + ": it holds " + input
                    + ", which an open checkpoint of this process reads (an input of a pool or model); choose another"
                    + " output directory");
        }
    }

    /** The file's identity: its file key where the file system has one, else its real path. */
    private static Object key(Path p) throws IOException {
        Object k = Files.readAttributes(p, BasicFileAttributes.class).fileKey();
        return k != null ? k : p.toRealPath();
    }
}
