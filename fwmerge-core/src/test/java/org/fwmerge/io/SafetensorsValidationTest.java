package org.fwmerge.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.fwmerge.internal.ReferenceBackend;
import org.fwmerge.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One hand-built malformed file per validation rule of docs/safetensors.md, plus the legal edge cases. */
class SafetensorsValidationTest {

    @TempDir
    Path tmp;

    /** 8-byte little-endian length, then the header bytes, then {@code dataLen} zero bytes. */
    static byte[] file(byte[] header, int dataLen) {
        return ByteBuffer.allocate(8 + header.length + dataLen).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(header.length).put(header).array();
    }

    static byte[] file(String header, int dataLen) {
        return file(header.getBytes(StandardCharsets.UTF_8), dataLen);
    }

    static String t(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + ","
                + end + "]}";
    }

    private Path write(byte[] bytes) throws IOException {
        Path p = tmp.resolve("bad.safetensors");
        Files.write(p, bytes);
        return p;
    }

    /** Opens the bytes as a file and in memory; both must fail with exactly {@code type}, naming file and fragments. */
    private <T extends CheckpointException> T assertRejected(Class<T> type, byte[] bytes, String... fragments)
            throws IOException {
        Path p = write(bytes);
        CheckpointException e = assertThrows(CheckpointException.class, () -> Safetensors.open(p));
        assertEquals(type, e.getClass(), e.getMessage());
        assertTrue(e.getMessage().contains(p.toString()), "message names the file: " + e.getMessage());
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "message should contain '" + f + "': " + e.getMessage());
        }
        CheckpointException inMemory = assertThrows(CheckpointException.class, () -> SafetensorsFile.parse("mem", bytes));
        assertEquals(type, inMemory.getClass());
        return type.cast(e);
    }

    @Test
    void open_fileShorterThanPrefix_headerTooSmall() throws IOException {
        assertRejected(InvalidHeaderException.class, new byte[7], "7 bytes", "too small");
    }

    @Test
    void open_lengthWithTopBitSet_headerTooLarge() throws IOException {
        byte[] b = new byte[16];
        Arrays.fill(b, 0, 8, (byte) 0xFF);
        assertRejected(HeaderTooLargeException.class, b, "18446744073709551615");
    }

    @Test
    void open_lengthOneOverLimitInShortFile_headerTooLargeBeforeAllocation() throws IOException {
        // Only 8 bytes on disk: rule 2 must fire before rule 3 and before allocating 1e8 bytes.
        byte[] b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(100_000_001L).array();
        assertRejected(HeaderTooLargeException.class, b, "100000001", "100000000");
    }

    @Test
    void parse_headerOfExactlyLimit_accepted_andOneMoreRefused() throws CheckpointException {
        byte[] header = new byte[100_000_000];
        Arrays.fill(header, (byte) ' ');
        header[0] = '{';
        header[1] = '}';
        SafetensorsFile.Header h = SafetensorsFile.parse("limit", file(header, 0));
        assertTrue(h.entries().isEmpty());
        assertEquals(8 + 100_000_000L, h.dataStart());
        byte[] over = Arrays.copyOf(header, 100_000_001);
        over[100_000_000] = ' ';
        HeaderTooLargeException e = assertThrows(HeaderTooLargeException.class,
                () -> SafetensorsFile.parse("over", file(over, 0)));
        assertTrue(e.getMessage().contains("over") && e.getMessage().contains("100000001"), e.getMessage());
    }

    @Test
    void open_lengthPastEndOfFile_invalidHeaderLength() throws IOException {
        byte[] b = ByteBuffer.allocate(58).order(ByteOrder.LITTLE_ENDIAN).putLong(100).array();
        assertRejected(InvalidHeaderException.class, b, "invalid header length 100", "58 bytes");
    }

    @Test
    void open_invalidUtf8_invalidHeader() throws IOException {
        byte[] h = "{\"a?\":{}}".getBytes(StandardCharsets.US_ASCII);
        h[3] = (byte) 0xFF;
        assertRejected(InvalidHeaderException.class, file(h, 0), "UTF-8", "byte 3", "0xFF");
    }

    @Test
    void open_overlongUtf8Encoding_invalidHeader() throws IOException {
        // C0 AF is an overlong '/', which a lenient decoder would turn into U+FFFD.
        byte[] h = {'{', '"', (byte) 0xC0, (byte) 0xAF, '"', ':', '{', '}', '}'};
        assertRejected(InvalidHeaderException.class, file(h, 0), "UTF-8", "byte 2");
    }

    @Test
    void open_emptyHeader_invalidHeader() throws IOException {
        assertRejected(InvalidHeaderException.class, file("", 0), "empty input");
    }

    @Test
    void open_nonObjectRoot_invalidHeader() throws IOException {
        assertRejected(InvalidHeaderException.class, file("[]      ", 0), "root is an array");
    }

    @Test
    void open_duplicateTensorKey_invalidHeader() throws IOException {
        String h = "{" + t("a", "F32", "[1]", 0, 4) + "," + t("a", "F32", "[1]", 4, 8) + "}";
        assertRejected(InvalidHeaderException.class, file(h, 8), "duplicate key \"a\"");
    }

    @Test
    void open_duplicateMetadata_invalidHeader() throws IOException {
        String h = "{\"__metadata__\":{},\"__metadata__\":{}}";
        assertRejected(InvalidHeaderException.class, file(h, 0), "duplicate key \"__metadata__\"");
    }

    @Test
    void open_byteOrderMark_invalidHeader() throws IOException {
        byte[] h = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF, '{', '}'};
        assertRejected(InvalidHeaderException.class, file(h, 0), "U+FEFF");
    }

    @Test
    void open_comment_invalidHeader() throws IOException {
        assertRejected(InvalidHeaderException.class, file("{/* c */}", 0), "'/'");
    }

    @Test
    void open_trailingComma_invalidHeader() throws IOException {
        assertRejected(InvalidHeaderException.class, file("{\"__metadata__\":{\"a\":\"b\",}}", 0), "'}'");
    }

    @Test
    void open_nanInShape_invalidHeader() throws IOException {
        assertRejected(InvalidHeaderException.class, file("{" + t("a", "F32", "[NaN]", 0, 4) + "}", 4), "'N'");
    }

    @Test
    void open_twoJsonValues_invalidHeader() throws IOException {
        assertRejected(InvalidHeaderException.class, file("{}{}", 0), "after the JSON value");
    }

    @Test
    void open_trailingNulInHeader_invalidHeader() throws IOException {
        assertRejected(InvalidHeaderException.class, file("{}\0\0\0\0\0\0", 0), "U+0000");
    }

    @Test
    void open_nonStringMetadataValue_invalidHeader() throws IOException {
        assertRejected(InvalidHeaderException.class, file("{\"__metadata__\":{\"epoch\":3}}", 0), "'epoch'", "3",
                "not a string");
    }

    @Test
    void open_unknownDtype_invalidHeaderNamingTensorAndDtype() throws IOException {
        assertRejected(InvalidHeaderException.class, file("{" + t("w", "f32", "[1]", 0, 4) + "}", 4), "'w'", "\"f32\"");
    }

    @Test
    void open_missingShape_invalidHeader() throws IOException {
        String h = "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}";
        assertRejected(InvalidHeaderException.class, file(h, 4), "'w'", "missing field 'shape'");
    }

    @Test
    void open_missingDataOffsets_invalidHeader() throws IOException {
        String h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}";
        assertRejected(InvalidHeaderException.class, file(h, 4), "'w'", "missing field 'data_offsets'");
    }

    @Test
    void open_threeDataOffsets_invalidHeader() throws IOException {
        String h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,4]}}";
        assertRejected(InvalidHeaderException.class, file(h, 4), "'w'", "[0, 4, 4]");
    }

    @Test
    void open_negativeDimension_invalidHeader() throws IOException {
        assertRejected(InvalidHeaderException.class, file("{" + t("w", "F32", "[-1]", 0, 4) + "}", 4), "'w'", "-1");
    }

    @Test
    void open_fractionalDimension_invalidHeader() throws IOException {
        assertRejected(InvalidHeaderException.class, file("{" + t("w", "F32", "[1.0]", 0, 4) + "}", 4), "'w'", "1.0");
    }

    @Test
    void open_exponentDimension_invalidHeader() throws IOException {
        assertRejected(InvalidHeaderException.class, file("{" + t("w", "F32", "[1e0]", 0, 4) + "}", 4), "'w'", "1e0");
    }

    @Test
    void open_offsetOf2To64_invalidHeader() throws IOException {
        String h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,18446744073709551616]}}";
        assertRejected(InvalidHeaderException.class, file(h, 4), "'w'", "18446744073709551616");
    }

    @Test
    void open_loneSurrogateEscape_invalidHeader() throws IOException {
        assertRejected(InvalidHeaderException.class, file("{" + t("\\ud800x", "F32", "[1]", 0, 4) + "}", 4),
                "lone surrogate", "D800");
    }

    @Test
    void open_gapBetweenTensors_invalidOffset() throws IOException {
        String h = "{" + t("a", "F32", "[1]", 0, 4) + "," + t("b", "F32", "[1]", 8, 12) + "}";
        assertRejected(InvalidOffsetException.class, file(h, 12), "'b'", "[8, 12]", "gap");
    }

    @Test
    void open_overlappingTensors_invalidOffset() throws IOException {
        String h = "{" + t("a", "F32", "[2]", 0, 8) + "," + t("b", "F32", "[1]", 4, 8) + "}";
        assertRejected(InvalidOffsetException.class, file(h, 8), "'b'", "[4, 8]", "overlaps");
    }

    @Test
    void open_endBeforeBegin_invalidOffset() throws IOException {
        String h = "{" + t("a", "F32", "[1]", 0, 4) + "," + t("b", "F32", "[1]", 4, 0) + "}";
        assertRejected(InvalidOffsetException.class, file(h, 4), "'b'", "[4, 0]");
    }

    @Test
    void open_shapeDtypeMismatch_invalidTensorInfo() throws IOException {
        assertRejected(InvalidTensorInfoException.class, file("{" + t("w", "F32", "[2]", 0, 4) + "}", 4),
                "'w'", "4 bytes", "needs 8");
    }

    @Test
    void open_shapeProductWrapsToZero_overflowRefused() throws IOException {
        // 2^32 · 2^32 wraps to 0 in 64-bit arithmetic: a parser without overflow checks would accept [0, 0].
        String h = "{" + t("w", "F32", "[4294967296,4294967296]", 0, 0) + "}";
        assertRejected(InvalidTensorInfoException.class, file(h, 0), "'w'", "[4294967296, 4294967296]", "overflows");
    }

    @Test
    void open_dimensionAbove2To63_invalidTensorInfo() throws IOException {
        assertRejected(InvalidTensorInfoException.class,
                file("{" + t("w", "F32", "[9223372036854775808]", 0, 0) + "}", 0), "'w'", "9223372036854775808");
    }

    @Test
    void open_subByteDtypeNotWholeBytes_invalidTensorInfo() throws IOException {
        assertRejected(InvalidTensorInfoException.class, file("{" + t("q", "F4", "[3]", 0, 2) + "}", 2),
                "'q'", "12 bits");
    }

    @Test
    void open_truncatedData_incompleteBuffer() throws IOException {
        assertRejected(IncompleteBufferException.class, file("{" + t("w", "F32", "[3]", 0, 12) + "}", 8),
                "8 bytes", "describes 12", "truncated");
    }

    @Test
    void open_trailingBytes_incompleteBuffer() throws IOException {
        assertRejected(IncompleteBufferException.class, file("{" + t("w", "F32", "[3]", 0, 12) + "}", 16),
                "16 bytes", "trailing");
    }

    @Test
    void open_gapAndTruncation_offsetCheckedFirst() throws IOException {
        String h = "{" + t("a", "F32", "[1]", 0, 4) + "," + t("b", "F32", "[1]", 8, 12) + "}";
        assertRejected(InvalidOffsetException.class, file(h, 2), "'b'");
    }

    @Test
    void open_zeroSizeScalarUnpaddedWhitespace_legal() throws IOException {
        // Unpadded (length 1 mod 8), leading/trailing whitespace, a scalar, zero-size tensors at the same offset.
        String h = "\n {\"__metadata__\":null," + t("e", "F32", "[0,2]", 0, 0) + "," + t("s", "F32", "[]", 0, 4) + ","
                + t("z", "BF16", "[3,0]", 4, 4) + "," + t("q", "F4", "[2]", 4, 5) + "}\t ";
        byte[] b = file(h, 5);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putFloat(8 + h.length(), -2.5f);
        Path p = write(b);
        try (Checkpoint c = Safetensors.open(p)) {
            assertEquals(java.util.List.of("e", "q", "s", "z"), c.names());
            assertEquals(java.util.Map.of(), c.metadata());
            assertArrayEquals(new long[0], c.info("s").shape());
            try (Tensor s = c.load("s", ReferenceBackend.INSTANCE)) {
                assertArrayEquals(new float[] {-2.5f}, ReferenceBackend.INSTANCE.toFloats(s));
            }
            try (Tensor e = c.load("e", ReferenceBackend.INSTANCE); Tensor z = c.load("z", ReferenceBackend.INSTANCE)) {
                assertEquals(0, e.size());
                assertArrayEquals(new long[] {3, 0}, z.shape());
            }
        }
    }

    @Test
    void load_nonMergeableDtype_namesFileTensorAndDtype() throws IOException {
        Path p = write(file("{" + t("ids", "I64", "[2]", 0, 16) + "}", 16));
        try (Checkpoint c = Safetensors.open(p)) {
            assertEquals(DType.I64, c.info("ids").dtype());
            UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> c.load("ids", ReferenceBackend.INSTANCE));
            assertTrue(e.getCause() instanceof CheckpointException);
            String m = e.getCause().getMessage();
            assertTrue(m.contains(p.toString()) && m.contains("'ids'") && m.contains("I64"), m);
        }
    }

    @Test
    void list_tensorOver2GiB_listedAndReadableInRanges() throws IOException {
        // A sparse file: 3 GiB of data that is never touched by open or list.
        long big = 3L << 30;
        String h = "{" + t("huge", "U8", "[" + big + "]", 0, big) + "," + t("hugef", "F32", "[1]", big, big + 4) + "}";
        byte[] head = file(h, 0);
        Path p = tmp.resolve("sparse.safetensors");
        try (var ch = java.nio.channels.FileChannel.open(p, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE, java.nio.file.StandardOpenOption.SPARSE)) {
            ch.write(ByteBuffer.wrap(head));
            ch.write(ByteBuffer.allocate(1), head.length + big + 3);
        }
        assertEquals(2, Safetensors.list(p).size());
        String h2 = "{" + t("hugef", "F32", "[" + (big / 4) + "]", 0, big) + "}";
        Path p2 = tmp.resolve("sparse2.safetensors");
        byte[] head2 = file(h2, 0);
        try (var ch = java.nio.channels.FileChannel.open(p2, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE, java.nio.file.StandardOpenOption.SPARSE)) {
            ch.write(ByteBuffer.wrap(head2));
            ch.write(ByteBuffer.allocate(1), head2.length + big - 1);
        }
        // Tensors are read in ranges, never mapped whole: a 3 GiB tensor is read where asked, past 2^31 bytes too.
        try (Checkpoint c = Safetensors.open(p2); TensorReader r = c.reader("hugef")) {
            assertEquals(big / 4, r.size());
            float[] tail = {Float.NaN, Float.NaN};
            r.read(big / 4 - 2, tail, 0, 2);
            assertArrayEquals(new float[] {0f, 0f}, tail);
            assertThrows(IndexOutOfBoundsException.class, () -> r.read(big / 4 - 1, tail, 0, 2));
        }
    }

    @Test
    void parse_hostileNesting_invalidHeaderNotStackOverflow() {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes("{\"__metadata__\":".getBytes(StandardCharsets.US_ASCII));
        for (int i = 0; i < 100_000; i++) {
            b.write('[');
        }
        InvalidHeaderException e = assertThrows(InvalidHeaderException.class,
                () -> SafetensorsFile.parse("deep", file(b.toByteArray(), 0)));
        assertTrue(e.getMessage().contains("nesting"), e.getMessage());
    }
}
