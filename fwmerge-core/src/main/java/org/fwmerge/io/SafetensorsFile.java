package org.fwmerge.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/**
 * One safetensors file, opened read-only: the header is read and validated once at open, and tensor
 * data are read with positional {@link FileChannel#read(ByteBuffer, long) reads} of the ranges asked
 * for, converted to float32 on the way.
 *
 * <p>Why reads and not a memory mapping (which this class used before): a mapping keeps every page
 * it ever touched resident and counted against the process (and a container's limit) until the GC
 * happens to free the buffer, so the footprint of a merge grew with the bytes of the whole pool (5×
 * from 4 to 32 candidates of 32M parameters); Java cannot unmap on demand. A positional read copies
 * from the page cache into a small per-thread buffer that stays in cache while the consuming kernel
 * converts it, and the resident footprint is the buffers, whatever the pool's size. The alternative
 * that also bounds memory, mappings unmapped explicitly after use, is barely faster where the
 * double-accumulating dot of the consuming kernel is the bound anyway, and crashes the JVM if any slice
 * of a mapping is touched after the unmap; so reads it is.
 *
 * <p>Validation follows the reference implementation's checks in its order (see
 * {@code docs/safetensors.md}); {@link #parse(String, byte[])} runs the same checks on bytes in
 * memory, which is what the fuzz tests drive.
 */
final class SafetensorsFile implements Checkpoint {

    /** The reference implementation's header limit: exactly this many bytes are allowed. */
    static final long MAX_HEADER_BYTES = 100_000_000L;

    /**
     * Bytes per positional read: 256 KiB, so a read buffer and the floats converted from it stay in a
     * core's L2 cache while a kernel consumes them, and the system call is amortised (~1 µs each).
     */
    static final int READ_BYTES = 1 << 18;

    /** One tensor's header entry; offsets count from the start of the data buffer. */
    record Entry(TensorInfo info, long begin, long end) {
        long byteSize() {
            return end - begin;
        }
    }

    /** A validated header: metadata, entries by name, and where the data buffer starts in the file. */
    record Header(Map<String, String> metadata, Map<String, Entry> entries, long dataStart) {
    }

    /** Random access to the bytes being validated: a file channel or an array. */
    private interface Source {
        long size() throws IOException;

        void read(long position, byte[] dst) throws IOException;
    }

    /**
     * A thread's read buffer ({@link #READ_BYTES}, direct, so the channel reads into it without a copy)
     * and its float view, made once: a lookup that boxed the size or a view made per read was garbage
     * at every chunk of every candidate.
     */
    private record ReadBuffer(ByteBuffer bytes, java.nio.FloatBuffer floats) {
        static ReadBuffer allocate() {
            ByteBuffer b = ByteBuffer.allocateDirect(READ_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            return new ReadBuffer(b, b.asFloatBuffer());
        }
    }

    private static final ThreadLocal<ReadBuffer> BUFFERS = ThreadLocal.withInitial(ReadBuffer::allocate);

    private final Path path;
    private final String file;
    private final Header header;
    private final List<String> names;
    private final int readBytes;
    private final OpenInputs.Registration input;
    private volatile FileChannel channel; // null once closed

    private SafetensorsFile(Path path, FileChannel channel, Header header, int readBytes, OpenInputs.Registration input) {
        this.path = path;
        this.input = input;
        this.file = path.toString();
        this.channel = channel;
        this.header = header;
        this.names = List.copyOf(header.entries().keySet());
        this.readBytes = readBytes;
    }

    /** Opens and validates {@code path}; the file is opened read-only and never written. */
    static SafetensorsFile open(Path path) throws IOException {
        return open(path, READ_BYTES);
    }

    /** {@link #open(Path)} with another read size, so tests can cross read boundaries in small files. */
    static SafetensorsFile open(Path path, int readBytes) throws IOException {
        Objects.requireNonNull(path, "path");
        if (readBytes < 8 || readBytes > READ_BYTES) {
            throw new IllegalArgumentException("read size " + readBytes + " is not in [8, " + READ_BYTES + "]");
        }
        FileChannel ch = FileChannel.open(path, StandardOpenOption.READ);
        try {
            Header h = readHeader(path.toString(), new Source() {
                @Override
                public long size() throws IOException {
                    return ch.size();
                }

                @Override
                public void read(long position, byte[] dst) throws IOException {
                    ByteBuffer b = ByteBuffer.wrap(dst);
                    while (b.hasRemaining()) {
                        if (ch.read(b, position + b.position()) < 0) {
                            throw new IOException(path + ": file shrank while being read");
                        }
                    }
                }
            });
            return new SafetensorsFile(path, ch, h, readBytes, OpenInputs.register(path));
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /**
     * Validates a whole safetensors file held in memory.
     *
     * @param file name used in messages
     * @throws CheckpointException (a subtype) describing the first rule the bytes break
     */
    static Header parse(String file, byte[] bytes) throws CheckpointException {
        try {
            return readHeader(file, new Source() {
                @Override
                public long size() {
                    return bytes.length;
                }

                @Override
                public void read(long position, byte[] dst) {
                    System.arraycopy(bytes, Math.toIntExact(position), dst, 0, dst.length);
                }
            });
        } catch (CheckpointException e) {
            throw e;
        } catch (IOException e) {
            throw new AssertionError("in-memory source cannot fail", e);
        }
    }

    private static Header readHeader(String file, Source src) throws IOException {
        long size = src.size();
        // 1. The 8-byte length prefix must be there.
        if (size < 8) {
            throw new InvalidHeaderException(file + ": header too small: the file has " + size
                    + " bytes, fewer than the 8-byte header length");
        }
        byte[] prefix = new byte[8];
        src.read(0, prefix);
        long n = ByteBuffer.wrap(prefix).order(ByteOrder.LITTLE_ENDIAN).getLong();
        // 2. Checked before anything of size n is allocated; n < 0 means it exceeds 2^63 as unsigned.
        if (n < 0 || n > MAX_HEADER_BYTES) {
            throw new HeaderTooLargeException(file + ": header length " + Long.toUnsignedString(n)
                    + " exceeds the limit of " + MAX_HEADER_BYTES + " bytes");
        }
        // 3. No overflow possible: n ≤ 1e8.
        if (8 + n > size) {
            throw new InvalidHeaderException(file + ": invalid header length " + n + ": the file has only "
                    + size + " bytes");
        }
        byte[] raw = new byte[(int) n];
        src.read(8, raw);
        // 4 and 5.
        Object root;
        try {
            root = StrictJson.parse(StrictJson.decodeUtf8(raw));
        } catch (StrictJson.SyntaxException e) {
            throw new InvalidHeaderException(file + ": invalid header JSON: " + e.getMessage(), e);
        }
        if (!(root instanceof Map<?, ?> top)) {
            throw new InvalidHeaderException(file + ": invalid header: the root is " + kind(root) + ", not an object");
        }
        Map<String, String> metadata = Map.of();
        List<Entry> entries = new ArrayList<>();
        for (Map.Entry<?, ?> e : top.entrySet()) {
            String key = (String) e.getKey();
            if (key.equals("__metadata__")) {
                metadata = metadata(file, e.getValue());
            } else {
                entries.add(entry(file, key, e.getValue()));
            }
        }
        // 6. Walk by (begin, end): contiguous, no gaps, no overlaps, sizes matching shape × dtype.
        List<Entry> byOffset = new ArrayList<>(entries);
        byOffset.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end)
                .thenComparing(x -> x.info().name()));
        long running = 0;
        for (Entry x : byOffset) {
            String t = x.info().name();
            if (x.begin() != running || x.end() < x.begin()) {
                throw new InvalidOffsetException(file + ": tensor '" + t + "': invalid data_offsets [" + x.begin()
                        + ", " + x.end() + "]: expected to begin at " + running
                        + (x.begin() < running ? " (overlaps the previous tensor)"
                                : x.begin() > running ? " (gap after the previous tensor)" : " (end before begin)"));
            }
            running = x.end();
            long[] shape = x.info().shape();
            long bits;
            try {
                long count = 1;
                for (long d : shape) {
                    count = Math.multiplyExact(count, d);
                }
                bits = Math.multiplyExact(count, (long) x.info().dtype().bits());
            } catch (ArithmeticException ex) {
                throw new InvalidTensorInfoException(file + ": tensor '" + t + "': shape " + Arrays.toString(shape)
                        + " of " + x.info().dtype() + " overflows 64 bits", ex);
            }
            if (bits % 8 != 0) {
                throw new InvalidTensorInfoException(file + ": tensor '" + t + "': shape " + Arrays.toString(shape)
                        + " of " + x.info().dtype() + " is " + bits + " bits, not a whole number of bytes");
            }
            if (x.byteSize() != bits / 8) {
                throw new InvalidTensorInfoException(file + ": tensor '" + t + "': data_offsets [" + x.begin() + ", "
                        + x.end() + "] hold " + x.byteSize() + " bytes but shape " + Arrays.toString(shape) + " of "
                        + x.info().dtype() + " needs " + bits / 8);
            }
        }
        // 7. The buffer must end exactly where the last tensor does (no truncation, no trailing bytes).
        if (running + 8 + n != size) {
            throw new IncompleteBufferException(file + ": data buffer is " + (size - 8 - n) + " bytes but the header"
                    + " describes " + running + (size - 8 - n < running ? " (file truncated)" : " (trailing bytes)"));
        }
        TreeMap<String, Entry> byName = new TreeMap<>();
        for (Entry x : entries) {
            byName.put(x.info().name(), x);
        }
        return new Header(metadata, Collections.unmodifiableMap(byName), 8 + n);
    }

    private static Map<String, String> metadata(String file, Object v) throws InvalidHeaderException {
        if (v == StrictJson.NULL) {
            return Map.of();
        }
        if (!(v instanceof Map<?, ?> m)) {
            throw new InvalidHeaderException(file + ": __metadata__ is " + kind(v) + ", not an object of strings");
        }
        LinkedHashMap<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : m.entrySet()) {
            if (!(e.getValue() instanceof String s)) {
                throw new InvalidHeaderException(file + ": __metadata__ value of key '" + e.getKey() + "' is "
                        + kind(e.getValue()) + " " + e.getValue() + ", not a string");
            }
            out.put((String) e.getKey(), s);
        }
        return Collections.unmodifiableMap(out);
    }

    private static Entry entry(String file, String name, Object v) throws CheckpointException {
        String where = file + ": tensor '" + name + "'";
        if (!(v instanceof Map<?, ?> m)) {
            throw new InvalidHeaderException(where + ": entry is " + kind(v) + ", not an object");
        }
        Object dt = m.get("dtype");
        Object shape = m.get("shape");
        Object offsets = m.get("data_offsets");
        if (dt == null || shape == null || offsets == null) {
            throw new InvalidHeaderException(where + ": missing field '"
                    + (dt == null ? "dtype" : shape == null ? "shape" : "data_offsets") + "'");
        }
        if (!(dt instanceof String dts)) {
            throw new InvalidHeaderException(where + ": dtype is " + kind(dt) + " " + dt + ", not a string");
        }
        DType dtype = DType.fromHeaderName(dts).orElseThrow(() -> new InvalidHeaderException(where
                + ": unknown dtype \"" + dts + "\" (names are case-sensitive, e.g. F32, BF16)"));
        if (!(shape instanceof List<?> dims)) {
            throw new InvalidHeaderException(where + ": shape is " + kind(shape) + " " + shape + ", not an array");
        }
        long[] s = new long[dims.size()];
        for (int i = 0; i < s.length; i++) {
            BigInteger d = StrictJson.unsigned64(dims.get(i));
            if (d == null) {
                throw new InvalidHeaderException(where + ": shape dimension " + dims.get(i)
                        + " is not an integer in [0, 2^64)");
            }
            if (d.bitLength() > 63) {
                throw new InvalidTensorInfoException(where + ": shape dimension " + d + " overflows 64 bits");
            }
            s[i] = d.longValueExact();
        }
        if (!(offsets instanceof List<?> off) || off.size() != 2) {
            throw new InvalidHeaderException(where + ": data_offsets " + offsets + " is not an array of two integers");
        }
        long[] be = new long[2];
        for (int i = 0; i < 2; i++) {
            BigInteger d = StrictJson.unsigned64(off.get(i));
            if (d == null) {
                throw new InvalidHeaderException(where + ": data_offsets value " + off.get(i)
                        + " is not an integer in [0, 2^64)");
            }
            if (d.bitLength() > 63) {
                throw new InvalidOffsetException(where + ": data_offsets value " + d + " is beyond any file size");
            }
            be[i] = d.longValueExact();
        }
        return new Entry(new TensorInfo(name, dtype, s), be[0], be[1]);
    }

    private static String kind(Object v) {
        if (v instanceof Map) {
            return "an object";
        }
        if (v instanceof List) {
            return "an array";
        }
        if (v instanceof String) {
            return "a string";
        }
        if (v instanceof StrictJson.Num) {
            return "a number";
        }
        if (v instanceof Boolean) {
            return "a boolean";
        }
        return "null";
    }

    /** The validated header (metadata, entries, data start). */
    Header header() {
        return header;
    }

    /** The file this checkpoint reads. */
    Path path() {
        return path;
    }

    @Override
    public String source() {
        return file;
    }

    @Override
    public List<String> names() {
        return names;
    }

    @Override
    public TensorInfo info(String name) {
        return entry(name).info();
    }

    @Override
    public boolean contains(String name) {
        return header.entries().containsKey(name);
    }

    private Entry entry(String name) {
        Objects.requireNonNull(name, "name");
        Entry e = header.entries().get(name);
        if (e == null) {
            throw new IllegalArgumentException(file + " has no tensor '" + name + "'");
        }
        return e;
    }

    @Override
    public Tensor load(String name, TensorBackend backend) {
        Objects.requireNonNull(backend, "backend");
        try (TensorReader r = reader(name)) {
            return backend.seal(r.toTensor(backend, entry(name).info().shape()));
        }
    }

    @Override
    public TensorReader reader(String name) {
        Entry e = entry(name);
        DType dtype = e.info().dtype();
        if (!dtype.isMergeable()) {
            throw new UncheckedIOException(new CheckpointException(file + ": tensor '" + name + "' has dtype " + dtype
                    + ", which cannot be merged (only F32, F64, F16 and BF16 are read as float32)"));
        }
        checkOpen();
        return new FileTensorReader(e);
    }

    /** Reads ranges of one tensor, converting as it goes; holds nothing but the entry. */
    private final class FileTensorReader implements TensorReader {
        private final Entry e;
        private final DType dtype;
        private final int width;
        private final long size;

        FileTensorReader(Entry e) {
            this.e = e;
            this.dtype = e.info().dtype();
            this.width = dtype.bits() / 8;
            this.size = e.byteSize() / width;
        }

        @Override
        public long size() {
            return size;
        }

        @Override
        public void read(long offset, float[] dst, int dstOffset, int length) {
            Objects.checkFromIndexSize(dstOffset, length, dst.length);
            if (offset < 0 || length < 0 || offset > size - length) {
                throw new IndexOutOfBoundsException("range [" + offset + ", " + (offset + length) + ") outside tensor '"
                        + e.info().name() + "' of " + size + " elements in " + file);
            }
            ReadBuffer rb = BUFFERS.get();
            ByteBuffer buf = rb.bytes();
            int perRead = readBytes / width;
            for (int done = 0; done < length; done += perRead) {
                int len = Math.min(perRead, length - done);
                buf.clear().limit(len * width);
                long position = header.dataStart() + e.begin() + (offset + done) * width;
                readFully(buf, position);
                convert(buf, rb.floats(), dtype, dst, dstOffset + done, len);
            }
        }

        private void readFully(ByteBuffer buf, long position) {
            FileChannel ch = checkOpen();
            try {
                while (buf.hasRemaining()) {
                    if (ch.read(buf, position + buf.position()) < 0) {
                        throw new java.io.EOFException("file ended before tensor '" + e.info().name()
                                + "' did (it shrank after opening)");
                    }
                }
            } catch (IOException ex) {
                throw new UncheckedIOException(file + ": reading tensor '" + e.info().name() + "' failed: "
                        + ex.getMessage(), ex);
            }
        }
    }

    /**
     * Widens the first {@code len} little-endian values of {@code dtype} in {@code src} (read through
     * {@code floats}, its float view, for F32) into {@code dst[at …]}.
     */
    private static void convert(ByteBuffer src, java.nio.FloatBuffer floats, DType dtype, float[] dst, int at, int len) {
        switch (dtype) {
            case F32 -> floats.get(0, dst, at, len);
            case BF16 -> {
                // A bfloat16 is the top half of a float32: no branch, so the JIT can vectorise the loop.
                for (int i = 0; i < len; i++) {
                    dst[at + i] = Float.intBitsToFloat(src.getShort(2 * i) << 16);
                }
            }
            case F16 -> {
                float[] table = HalfFloats.HalfTable.VALUES;
                for (int i = 0; i < len; i++) {
                    dst[at + i] = table[src.getShort(2 * i) & 0xFFFF];
                }
            }
            case F64 -> {
                for (int i = 0; i < len; i++) {
                    dst[at + i] = (float) src.getDouble(8 * i);
                }
            }
            default -> throw new AssertionError(dtype);
        }
    }

    @Override
    public Optional<ByteBuffer> storedBytes(String name) {
        Entry e = entry(name);
        if (e.byteSize() > Integer.MAX_VALUE - 8) {
            throw new UncheckedIOException(new CheckpointException(file + ": tensor '" + name + "' is " + e.byteSize()
                    + " bytes; a single tensor over 2 GiB cannot be passed through unconverted"));
        }
        ByteBuffer out = ByteBuffer.allocate((int) e.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        FileChannel ch = checkOpen();
        try {
            while (out.hasRemaining()) {
                if (ch.read(out, header.dataStart() + e.begin() + out.position()) < 0) {
                    throw new java.io.EOFException("file ended before tensor '" + name + "' did");
                }
            }
        } catch (IOException ex) {
            throw new UncheckedIOException(file + ": reading tensor '" + name + "' failed: " + ex.getMessage(), ex);
        }
        return Optional.of(out.flip().asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN));
    }

    @Override
    public List<Path> files() {
        return List.of(path);
    }

    private FileChannel checkOpen() {
        FileChannel ch = channel;
        if (ch == null) {
            throw new IllegalStateException("checkpoint " + file + " is closed");
        }
        return ch;
    }

    @Override
    public Map<String, String> metadata() {
        return header.metadata();
    }

    /** Closes the file channel; tensors already loaded are copies and stay valid. */
    @Override
    public void close() {
        FileChannel ch;
        synchronized (this) {
            ch = channel;
            channel = null;
        }
        input.close();
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException e) {
                throw new UncheckedIOException(file + ": closing failed", e);
            }
        }
    }

    @Override
    public String toString() {
        return "SafetensorsFile[" + file + ", " + names.size() + " tensors]";
    }
}
