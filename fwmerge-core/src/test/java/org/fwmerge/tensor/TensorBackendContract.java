package org.fwmerge.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The contract every {@link TensorBackend} must meet, run against each backend by a concrete
 * subclass ({@code ReferenceBackendContractTest} here, {@code Nd4jBackendContractTest} in fwmerge-nd4j).
 *
 * <p>Values are checked against a double-precision recomputation in the test itself, never against
 * the backend under test. Subclasses should return one shared backend instance: some backends start
 * slowly.
 */
public abstract class TensorBackendContract {

    /** Relative tolerance against a double-precision recomputation. */
    protected static final double REL_TOL = 1e-6;

    /** The backend under test; the same instance on every call. */
    protected abstract TensorBackend backend();

    // ---------------------------------------------------------------- helpers

    /** Seeded random floats in [lo, hi). */
    protected static float[] randomFloats(long seed, int n, double lo, double hi) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (lo + (hi - lo) * rnd.nextDouble());
        }
        return v;
    }

    /** Little-endian float32 bytes of {@code values}, hand-built with explicit byte shifts. */
    protected static byte[] littleEndian(float[] values) {
        byte[] b = new byte[values.length * 4];
        for (int i = 0; i < values.length; i++) {
            int bits = Float.floatToRawIntBits(values[i]);
            b[4 * i] = (byte) bits;
            b[4 * i + 1] = (byte) (bits >>> 8);
            b[4 * i + 2] = (byte) (bits >>> 16);
            b[4 * i + 3] = (byte) (bits >>> 24);
        }
        return b;
    }

    private static double dotRef(float[] x, float[] y) {
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            s += (double) x[i] * y[i];
        }
        return s;
    }

    private static double absDotRef(float[] x, float[] y) {
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            s += Math.abs((double) x[i] * y[i]);
        }
        return s;
    }

    /** Asserts |actual − expected| ≤ REL_TOL · scale (scale ≥ |expected|, e.g. Σ|terms|). */
    private static void assertClose(double expected, double actual, double scale, String what) {
        double err = Math.abs(actual - expected);
        assertTrue(err <= REL_TOL * Math.max(scale, Double.MIN_NORMAL),
                what + ": expected " + expected + " got " + actual + " (error " + err + ", scale " + scale + ")");
    }

    private float[] values(Tensor t) {
        return backend().toFloats(t);
    }

    /** A tensor of some other backend: every operation of the backend under test must refuse it. */
    private static Tensor foreignTensor() {
        TensorBackend other = (TensorBackend) Proxy.newProxyInstance(TensorBackendContract.class.getClassLoader(),
                new Class<?>[] {TensorBackend.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "name" -> "foreign";
                    case "toString" -> "foreign backend";
                    case "priority" -> -1;
                    default -> throw new UnsupportedOperationException(method.getName());
                });
        return new Tensor() {
            @Override
            public long size() {
                return 4;
            }

            @Override
            public long[] shape() {
                return new long[] {4};
            }

            @Override
            public boolean isReadOnly() {
                return false;
            }

            @Override
            public TensorBackend backend() {
                return other;
            }

            @Override
            public void close() {
            }

            @Override
            public String toString() {
                return "ForeignTensor[4]";
            }
        };
    }

    // ---------------------------------------------------------------- identity

    @Test
    void name_isNonBlankAndStable() {
        assertFalse(backend().name().isBlank());
        assertEquals(backend().name(), backend().name());
    }

    // ---------------------------------------------------------------- allocation and shapes

    /** Whether this backend's tensors live in host memory it can hand out ({@link TensorBackend#hostBuffer}). */
    protected boolean offersHostBuffers() {
        return false;
    }

    @Test
    void hostBuffer_aliasesTheTensorBothWays() {
        float[] v = {1.5f, -2f, 3.25f, 0f, 7f, -0.5f};
        try (Tensor t = backend().fromFloats(v, 2, 3)) {
            java.util.Optional<ByteBuffer> host = backend().hostBuffer(t);
            assertEquals(offersHostBuffers(), host.isPresent(), "hostBuffer offered");
            if (host.isEmpty()) {
                return;
            }
            ByteBuffer b = host.get();
            assertEquals(0, b.position());
            assertEquals(4 * v.length, b.remaining());
            assertTrue(b.isDirect(), "a direct buffer (native code reads its address)");
            assertFalse(b.isReadOnly());
            for (int i = 0; i < v.length; i++) {
                assertEquals(v[i], b.order(ByteOrder.LITTLE_ENDIAN).getFloat(4 * i), "element " + i);
            }
            b.putFloat(8, 42f);
            assertEquals(42f, backend().toFloats(t)[2], "a write through the buffer reaches the tensor");
            backend().set(t, 5, new float[] {9f}, 0, 1);
            assertEquals(9f, b.getFloat(20), "a write to the tensor shows in the buffer");
            try (Tensor ro = backend().seal(backend().copyOf(t))) {
                assertTrue(backend().hostBuffer(ro).orElseThrow().isReadOnly(), "a read-only tensor's buffer is read-only");
            }
            // A tensor over the middle of a direct buffer (a mapped file): the buffer starts at its first element.
            ByteBuffer file = ByteBuffer.allocateDirect(40).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < 10; i++) {
                file.putFloat(4 * i, i);
            }
            try (Tensor mid = backend().readOnlyFloats(file.position(8).limit(24), 4)) {
                ByteBuffer m = backend().hostBuffer(mid).orElseThrow().order(ByteOrder.LITTLE_ENDIAN);
                assertEquals(16, m.remaining());
                assertEquals(2f, m.getFloat(0));
                assertEquals(5f, m.getFloat(12));
            }
        }
    }

    @Test
    void zeros_matrix_hasShapeSizeAndZeros() {
        try (Tensor t = backend().zeros(2, 3)) {
            assertArrayEquals(new long[] {2, 3}, t.shape());
            assertEquals(6, t.size());
            assertFalse(t.isReadOnly());
            assertSame(backend(), t.backend());
            assertArrayEquals(new float[6], values(t));
        }
    }

    @Test
    void zeros_scalarShape_hasOneElement() {
        try (Tensor t = backend().zeros()) {
            assertArrayEquals(new long[0], t.shape());
            assertEquals(1, t.size());
            backend().set(t, 0, new float[] {2.5f}, 0, 1);
            assertArrayEquals(new float[] {2.5f}, values(t));
            assertEquals(6.25, backend().dot(t, t), 0.0);
        }
    }

    @Test
    void zeros_zeroSize_supportsEveryOperation() {
        try (Tensor a = backend().zeros(3, 0); Tensor b = backend().zeros(0)) {
            assertArrayEquals(new long[] {3, 0}, a.shape());
            assertEquals(0, a.size());
            assertEquals(0.0, backend().dot(a, b), 0.0);
            backend().axpy(2.0, a, b);
            backend().scale(3.0, a);
            backend().copy(a, b);
            backend().get(a, 0, new float[0], 0, 0);
            backend().set(a, 0, new float[0], 0, 0);
            assertEquals(0, values(a).length);
            try (Tensor c = backend().copyOf(a); Tensor v = backend().readOnlyView(a);
                 Tensor r = backend().readOnlyFloats(ByteBuffer.allocate(0), 0)) {
                assertEquals(0, c.size());
                assertEquals(0, v.size());
                assertEquals(0, r.size());
                assertTrue(r.isReadOnly());
            }
        }
    }

    @Test
    void zeros_negativeDimension_throws() {
        assertThrows(IllegalArgumentException.class, () -> backend().zeros(2, -1));
    }

    @Test
    void shape_returnsDefensiveCopy() {
        try (Tensor t = backend().zeros(2, 3)) {
            t.shape()[0] = 99;
            assertArrayEquals(new long[] {2, 3}, t.shape());
        }
    }

    @Test
    void fromFloats_copiesValues() {
        float[] v = {1, 2, 3, 4, 5, 6};
        try (Tensor t = backend().fromFloats(v, 3, 2)) {
            v[0] = 100;
            assertArrayEquals(new long[] {3, 2}, t.shape());
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, values(t));
            assertFalse(t.isReadOnly());
        }
    }

    @Test
    void fromFloats_lengthMismatch_throws() {
        assertThrows(IllegalArgumentException.class, () -> backend().fromFloats(new float[5], 2, 3));
    }

    @Test
    void fromFloats_nullValues_throws() {
        assertThrows(NullPointerException.class, () -> backend().fromFloats(null, 2));
    }

    // ---------------------------------------------------------------- get / set

    @Test
    void get_subRange_copiesIntoOffset() {
        try (Tensor t = backend().fromFloats(new float[] {0, 1, 2, 3, 4, 5, 6}, 7)) {
            float[] dst = {-1, -1, -1, -1, -1};
            backend().get(t, 2, dst, 1, 3);
            assertArrayEquals(new float[] {-1, 2, 3, 4, -1}, dst);
        }
    }

    @Test
    void set_subRange_writesOnlyThatRange() {
        try (Tensor t = backend().zeros(6)) {
            backend().set(t, 3, new float[] {9, 7, 8, 9}, 1, 3);
            assertArrayEquals(new float[] {0, 0, 0, 7, 8, 9}, values(t));
        }
    }

    @Test
    void get_outOfRange_throws() {
        try (Tensor t = backend().zeros(5)) {
            float[] dst = new float[10];
            assertThrows(IndexOutOfBoundsException.class, () -> backend().get(t, 3, dst, 0, 3));
            assertThrows(IndexOutOfBoundsException.class, () -> backend().get(t, -1, dst, 0, 1));
            assertThrows(IndexOutOfBoundsException.class, () -> backend().get(t, 0, dst, 0, -1));
            assertThrows(IndexOutOfBoundsException.class, () -> backend().get(t, 0, dst, 8, 3));
            assertThrows(IndexOutOfBoundsException.class, () -> backend().get(t, 0, dst, -1, 1));
        }
    }

    @Test
    void set_outOfRange_throwsAndLeavesTensorUnchanged() {
        try (Tensor t = backend().zeros(5)) {
            float[] src = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
            assertThrows(IndexOutOfBoundsException.class, () -> backend().set(t, 3, src, 0, 3));
            assertThrows(IndexOutOfBoundsException.class, () -> backend().set(t, -1, src, 0, 1));
            assertThrows(IndexOutOfBoundsException.class, () -> backend().set(t, 0, src, 0, -1));
            assertThrows(IndexOutOfBoundsException.class, () -> backend().set(t, 0, src, 8, 3));
            assertArrayEquals(new float[5], values(t));
        }
    }

    @Test
    void toFloats_returnsAllValues() {
        float[] v = randomFloats(3, 1000, -1, 1);
        try (Tensor t = backend().fromFloats(v, 10, 100)) {
            assertArrayEquals(v, values(t));
        }
    }

    // ---------------------------------------------------------------- read-only tensors

    @Test
    void readOnlyFloats_heapBufferWithPosition_readsLittleEndianSlice() {
        float[] v = {1.5f, -2.25f, 3e-5f, 4e7f, Float.MIN_VALUE, -0.0f};
        byte[] le = littleEndian(v);
        ByteBuffer buf = ByteBuffer.allocate(le.length + 11); // big-endian order: must not matter
        buf.put(new byte[] {9, 9, 9, 9, 9, 9, 9}).put(le).put(new byte[] {8, 8, 8, 8});
        buf.position(7).limit(7 + le.length);
        try (Tensor t = backend().readOnlyFloats(buf, 2, 3)) {
            assertTrue(t.isReadOnly());
            assertArrayEquals(new long[] {2, 3}, t.shape());
            assertArrayEquals(v, values(t));
            assertEquals(7, buf.position(), "the buffer's position must not move");
            assertEquals(7 + le.length, buf.limit());
        }
    }

    @Test
    void readOnlyFloats_directSliceWithPosition_readsValues() {
        float[] v = randomFloats(11, 300, -3, 3);
        byte[] le = littleEndian(v);
        ByteBuffer buf = ByteBuffer.allocateDirect(le.length + 64);
        buf.position(16);
        buf.put(le);
        buf.position(16).limit(16 + le.length);
        ByteBuffer slice = buf.slice(); // position 0 of the slice is byte 16 of the buffer
        slice.position(8); // and a non-zero position inside the slice too
        float[] tail = java.util.Arrays.copyOfRange(v, 2, v.length);
        try (Tensor t = backend().readOnlyFloats(slice, tail.length)) {
            assertArrayEquals(tail, values(t));
            assertEquals(8, slice.position());
            float[] y = randomFloats(12, tail.length, -1, 1);
            try (Tensor ty = backend().fromFloats(y, tail.length)) {
                assertClose(dotRef(tail, y), backend().dot(t, ty), absDotRef(tail, y), "dot over direct slice");
            }
        }
    }

    @Test
    void readOnlyFloats_wrongByteCount_throws() {
        ByteBuffer buf = ByteBuffer.allocate(20);
        assertThrows(IllegalArgumentException.class, () -> backend().readOnlyFloats(buf, 6));
        assertThrows(IllegalArgumentException.class, () -> backend().readOnlyFloats(buf, 4));
    }

    @Test
    void readOnlyFloats_memoryMappedFile_readsValuesAndRefusesWrites(@TempDir Path dir) throws IOException {
        float[] v = randomFloats(21, 5000, -2, 2);
        byte[] le = littleEndian(v);
        Path file = dir.resolve("weights.bin");
        int header = 24; // a file header before the tensor, as in safetensors
        byte[] content = new byte[header + le.length];
        System.arraycopy(le, 0, content, header, le.length);
        Files.write(file, content);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MappedByteBuffer whole = ch.map(FileChannel.MapMode.READ_ONLY, 0, content.length);
            whole.position(header);
            try (Tensor t = backend().readOnlyFloats(whole, 50, 100)) {
                assertTrue(t.isReadOnly());
                assertArrayEquals(v, values(t));
                float[] y = randomFloats(22, v.length, -1, 1);
                try (Tensor ty = backend().fromFloats(y, 50, 100); Tensor copy = backend().copyOf(t)) {
                    assertClose(dotRef(v, y), backend().dot(t, ty), absDotRef(v, y), "dot over mapped file");
                    assertFalse(copy.isReadOnly());
                    backend().scale(2, copy);
                    assertEquals(2 * v[0], values(copy)[0], 0.0);
                    // Writing into a read-only mapping would crash a native backend: it must be refused first.
                    assertThrows(IllegalStateException.class, () -> backend().axpy(1, ty, t));
                    assertThrows(IllegalStateException.class, () -> backend().scale(2, t));
                    assertThrows(IllegalStateException.class, () -> backend().copy(ty, t));
                    assertThrows(IllegalStateException.class, () -> backend().set(t, 0, new float[1], 0, 1));
                }
                assertArrayEquals(v, values(t));
            }
        }
        assertArrayEquals(content, Files.readAllBytes(file));
    }

    @Test
    void readOnlyFloats_writes_areRefused() {
        float[] v = {1, 2, 3, 4};
        try (Tensor t = backend().readOnlyFloats(ByteBuffer.wrap(littleEndian(v)), 4);
             Tensor w = backend().fromFloats(new float[] {5, 6, 7, 8}, 4)) {
            assertRefusesWrites(t, w);
            assertArrayEquals(v, values(t));
        }
    }

    @Test
    void readOnlyView_writes_areRefusedAndOriginalUnchanged() {
        try (Tensor t = backend().fromFloats(new float[] {1, 2, 3, 4}, 2, 2);
             Tensor w = backend().fromFloats(new float[] {5, 6, 7, 8}, 4)) {
            Tensor view = backend().readOnlyView(t);
            assertTrue(view.isReadOnly());
            assertArrayEquals(new long[] {2, 2}, view.shape());
            assertRefusesWrites(view, w);
            assertArrayEquals(new float[] {1, 2, 3, 4}, values(t));
            view.close();
        }
    }

    @Test
    void seal_takesOverTheStorage_readOnly_andTheOriginalIsClosed() {
        try (Tensor w = backend().fromFloats(new float[] {5, 6, 7, 8}, 4)) {
            Tensor t = backend().fromFloats(new float[] {1, 2, 3, 4}, 2, 2);
            Tensor sealed = backend().seal(t);
            assertTrue(sealed.isReadOnly());
            assertArrayEquals(new long[] {2, 2}, sealed.shape());
            assertArrayEquals(new float[] {1, 2, 3, 4}, values(sealed));
            assertRefusesWrites(sealed, w);
            assertThrows(IllegalStateException.class, () -> backend().get(t, 0, new float[1], 0, 1));
            sealed.close();
            assertThrows(IllegalStateException.class, () -> backend().get(sealed, 0, new float[1], 0, 1));
        }
    }

    private void assertRefusesWrites(Tensor readOnly, Tensor writable) {
        assertThrows(IllegalStateException.class, () -> backend().axpy(1, writable, readOnly));
        assertThrows(IllegalStateException.class, () -> backend().scale(2, readOnly));
        assertThrows(IllegalStateException.class, () -> backend().copy(writable, readOnly));
        assertThrows(IllegalStateException.class, () -> backend().set(readOnly, 0, new float[] {9}, 0, 1));
    }

    @Test
    void readOnlyView_aliasesOriginal_andClosingItFreesNothing() {
        try (Tensor t = backend().fromFloats(new float[] {1, 2, 3}, 3)) {
            Tensor view = backend().readOnlyView(t);
            backend().set(t, 1, new float[] {20}, 0, 1);
            assertArrayEquals(new float[] {1, 20, 3}, values(view));
            view.close();
            view.close(); // idempotent
            assertArrayEquals(new float[] {1, 20, 3}, values(t));
            backend().scale(2, t);
            assertArrayEquals(new float[] {2, 40, 6}, values(t));
        }
    }

    @Test
    void readOnlyView_canBeReadByEveryOperation() {
        try (Tensor t = backend().fromFloats(new float[] {1, 2, 3}, 3);
             Tensor y = backend().fromFloats(new float[] {1, 1, 1}, 3)) {
            Tensor view = backend().readOnlyView(t);
            assertEquals(14.0, backend().dot(view, view), 0.0);
            backend().axpy(2, view, y);
            assertArrayEquals(new float[] {3, 5, 7}, values(y));
            backend().copy(view, y);
            assertArrayEquals(new float[] {1, 2, 3}, values(y));
            try (Tensor c = backend().copyOf(view)) {
                assertFalse(c.isReadOnly());
                backend().scale(-1, c);
                assertArrayEquals(new float[] {-1, -2, -3}, values(c));
            }
            assertArrayEquals(new float[] {1, 2, 3}, values(t));
            view.close();
        }
    }

    // ---------------------------------------------------------------- refusal of bad arguments

    @Test
    void operations_foreignTensor_throw() {
        Tensor f = foreignTensor();
        try (Tensor t = backend().zeros(4)) {
            List<Runnable> ops = List.of(
                    () -> backend().dot(f, t), () -> backend().dot(t, f),
                    () -> backend().axpy(1, f, t), () -> backend().axpy(1, t, f),
                    () -> backend().copy(f, t), () -> backend().copy(t, f),
                    () -> backend().scale(1, f), () -> backend().readOnlyView(f),
                    () -> backend().get(f, 0, new float[4], 0, 4), () -> backend().set(f, 0, new float[4], 0, 4));
            for (Runnable op : ops) {
                assertThrows(IllegalArgumentException.class, op::run);
            }
            assertArrayEquals(new float[4], values(t));
        }
    }

    @Test
    void operations_sizeMismatch_throw() {
        try (Tensor a = backend().zeros(4); Tensor b = backend().zeros(5); Tensor c = backend().zeros(2, 3)) {
            assertThrows(IllegalArgumentException.class, () -> backend().dot(a, b));
            assertThrows(IllegalArgumentException.class, () -> backend().axpy(1, a, b));
            assertThrows(IllegalArgumentException.class, () -> backend().copy(a, b));
            assertThrows(IllegalArgumentException.class, () -> backend().dot(c, b));
        }
    }

    @Test
    void operations_closedTensor_throw() {
        Tensor t = backend().fromFloats(new float[] {1, 2}, 2);
        t.close();
        t.close(); // idempotent
        try (Tensor y = backend().zeros(2)) {
            assertThrows(IllegalStateException.class, () -> backend().dot(t, y));
            assertThrows(IllegalStateException.class, () -> backend().axpy(1, t, y));
            assertThrows(IllegalStateException.class, () -> backend().get(t, 0, new float[2], 0, 2));
        }
    }

    // ---------------------------------------------------------------- arithmetic against a double recomputation

    @Test
    void dot_mixedSigns_matchesDoubleReference() {
        for (int n : new int[] {1, 7, 1000, 100_003}) {
            float[] x = randomFloats(100 + n, n, -1, 1);
            float[] y = randomFloats(200 + n, n, -5, 5);
            try (Tensor tx = backend().fromFloats(x, n); Tensor ty = backend().fromFloats(y, n)) {
                assertClose(dotRef(x, y), backend().dot(tx, ty), absDotRef(x, y), "dot n=" + n);
            }
        }
    }

    @Test
    void dot_differentShapesSameSize_isFlatInnerProduct() {
        float[] x = {1, 2, 3, 4, 5, 6};
        float[] y = {6, 5, 4, 3, 2, 1};
        try (Tensor tx = backend().fromFloats(x, 2, 3); Tensor ty = backend().fromFloats(y, 6)) {
            assertEquals(56.0, backend().dot(tx, ty), 0.0);
        }
    }

    @Test
    void axpy_matchesDoubleReference() {
        int n = 10_001;
        float[] x = randomFloats(31, n, -3, 3);
        float[] y = randomFloats(32, n, -1, 1);
        double a = -0.37;
        try (Tensor tx = backend().fromFloats(x, n); Tensor ty = backend().fromFloats(y, n)) {
            backend().axpy(a, tx, ty);
            float[] out = values(ty);
            for (int i = 0; i < n; i++) {
                double expected = y[i] + a * x[i];
                assertClose(expected, out[i], Math.abs(y[i]) + Math.abs(a * x[i]), "axpy[" + i + "]");
            }
            assertArrayEquals(x, values(tx), "axpy must not modify x");
        }
    }

    @Test
    void scale_matchesDoubleReference() {
        int n = 4097;
        float[] y = randomFloats(41, n, -10, 10);
        try (Tensor ty = backend().fromFloats(y, n)) {
            backend().scale(0.7, ty);
            float[] out = values(ty);
            for (int i = 0; i < n; i++) {
                assertClose(0.7 * y[i], out[i], Math.abs(0.7 * y[i]), "scale[" + i + "]");
            }
            backend().scale(0, ty);
            for (float f : values(ty)) {
                assertEquals(0.0, f, 0.0); // -0.0 (from a negative value) counts as zero
            }
        }
    }

    @Test
    void copy_copiesExactly_andCopyOfIsIndependent() {
        float[] x = randomFloats(51, 999, -1, 1);
        try (Tensor tx = backend().fromFloats(x, 999); Tensor ty = backend().zeros(999)) {
            backend().copy(tx, ty);
            assertArrayEquals(x, values(ty));
            try (Tensor c = backend().copyOf(tx)) {
                assertArrayEquals(new long[] {999}, c.shape());
                assertNotSame(tx, c);
                backend().scale(2, c);
                assertArrayEquals(x, values(tx));
            }
        }
    }

    @Test
    void dot_concurrentCallers_agree() throws Exception {
        int n = 200_000;
        float[] x = randomFloats(61, n, -1, 1);
        float[] y = randomFloats(62, n, -1, 1);
        double expected = dotRef(x, y);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try (Tensor tx = backend().fromFloats(x, n); Tensor ty = backend().fromFloats(y, n)) {
            double first = backend().dot(tx, ty);
            assertClose(expected, first, absDotRef(x, y), "dot");
            List<Future<Double>> results = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                results.add(pool.submit(() -> backend().dot(tx, ty)));
            }
            for (Future<Double> f : results) {
                assertEquals(first, f.get(), 0.0);
            }
        } finally {
            pool.shutdown();
        }
    }

    /**
     * ⟨x, y⟩ over 10^8 elements against a double-precision reference: where float accumulation
     * drifts by 1e-3 or worse (see nd4j-notes), the LMO would pick the wrong checkpoint.
     */
    @Test
    void dot_hundredMillionElements_matchesDoubleReference() {
        int n = 100_000_000;
        int chunk = 1 << 20;
        float[] bx = new float[chunk];
        float[] by = new float[chunk];
        SplittableRandom rnd = new SplittableRandom(20250101L);
        double ref = 0;
        double absRef = 0;
        try (Tensor tx = backend().zeros(n); Tensor ty = backend().zeros(n)) {
            for (int off = 0; off < n; off += chunk) {
                int len = Math.min(chunk, n - off);
                for (int i = 0; i < len; i++) {
                    // Mostly positive, like squared norms and scores of similar checkpoints: no cancellation hides the error.
                    bx[i] = (float) (rnd.nextDouble() - 0.1);
                    by[i] = (float) rnd.nextDouble();
                    double p = (double) bx[i] * by[i];
                    ref += p;
                    absRef += Math.abs(p);
                }
                backend().set(tx, off, bx, 0, len);
                backend().set(ty, off, by, 0, len);
            }
            double got = backend().dot(tx, ty);
            double rel = Math.abs(got - ref) / Math.abs(ref);
            assertTrue(rel <= REL_TOL, "relative error " + rel + " of dot on 1e8 elements (" + got + " vs " + ref + ")");
            assertClose(ref, got, absRef, "dot 1e8");
        }
    }
    /**
     * The FW gap and LMO scores are differences of inner products: a backend must accumulate them as
     * accurately as double arithmetic. Dyadic data make every partial sum exact in double (35 bits) while
     * float accumulation (24 bits) loses each small term next to ±2^25, so the exact value is known and
     * any float accumulator fails by orders of magnitude.
     */
    @Test
    void dot_whereFloatAccumulationFails_isExactToDouble() {
        int n = 1_000_003;
        float[] x = new float[n];
        float[] y = new float[n];
        long units = 0; // the exact sum in units of 2^-10
        for (int i = 0; i < n; i++) {
            x[i] = 1 + (i % 1024) / 1024f;
            y[i] = 1;
            units += 1024 + i % 1024;
        }
        x[0] = 0x1p25f;
        x[n / 2] = -0x1p25f;
        units -= 2 * 1024 + (n / 2) % 1024;
        double exact = units / 1024.0;
        try (Tensor tx = backend().fromFloats(x, n); Tensor ty = backend().fromFloats(y, n)) {
            double got = backend().dot(tx, ty);
            assertTrue(Math.abs(got - exact) <= 1e-12 * Math.abs(exact), "dot " + got + ", exactly " + exact);
            float floatSum = 0;
            for (int i = 0; i < n; i++) {
                floatSum += x[i] * y[i];
            }
            assertTrue(Math.abs(floatSum - exact) > 1e-3 * exact, "the data defeat float accumulation: " + floatSum);
        }
    }

    /** Random signs: within 1e-12 of Σ|x_i·y_i| of an exact (BigDecimal) reference. */
    @Test
    void dot_randomSigns_agreesWithAnExactReference() {
        int n = 300_001;
        float[] x = randomFloats(3, n, -1, 1);
        float[] y = randomFloats(4, n, -1, 1);
        java.math.BigDecimal exact = java.math.BigDecimal.ZERO;
        double abs = 0;
        for (int i = 0; i < n; i++) {
            double p = (double) x[i] * y[i]; // exact: 24 + 24 bits
            exact = exact.add(new java.math.BigDecimal(p));
            abs += Math.abs(p);
        }
        try (Tensor tx = backend().fromFloats(x, n); Tensor ty = backend().fromFloats(y, n)) {
            double got = backend().dot(tx, ty);
            assertTrue(Math.abs(got - exact.doubleValue()) <= 1e-12 * abs, "dot " + got + ", exactly " + exact);
        }
    }

    // ---------------------------------------------------------------- dense linear algebra in double

    /** A seeded Gaussian m × n matrix, with columns {@code zeroFrom..} set to zero (a rank-deficient case). */
    private static Matrix gaussian(long seed, int m, int n, int zeroFrom) {
        SplittableRandom rnd = new SplittableRandom(seed);
        double[] v = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double g = Math.sqrt(-2 * Math.log(1 - rnd.nextDouble())) * Math.cos(2 * Math.PI * rnd.nextDouble());
                v[i * n + j] = j < zeroFrom ? g : 0;
            }
        }
        return new Matrix(m, n, v);
    }

    /** The naive triple loop, summed in order: the test's own product. */
    private static double[] product(Matrix a, Matrix b) {
        double[] c = new double[a.rows() * b.cols()];
        for (int i = 0; i < a.rows(); i++) {
            for (int j = 0; j < b.cols(); j++) {
                double s = 0;
                for (int k = 0; k < a.cols(); k++) {
                    s += a.get(i, k) * b.get(k, j);
                }
                c[i * b.cols() + j] = s;
            }
        }
        return c;
    }

    private static void assertOrthonormalColumns(Matrix q, double tol, String what) {
        for (int a = 0; a < q.cols(); a++) {
            for (int b = a; b < q.cols(); b++) {
                double s = 0;
                for (int i = 0; i < q.rows(); i++) {
                    s += q.get(i, a) * q.get(i, b);
                }
                assertEquals(a == b ? 1 : 0, s, tol, what + " columns " + a + "," + b);
            }
        }
    }

    @Test
    void svd_tallWideSquareAndRankDeficient_reconstructsWithOrthonormalFactors() {
        int[][] shapes = {{12, 7, 7}, {5, 16, 16}, {9, 9, 9}, {1, 6, 6}, {6, 1, 1}, {40, 24, 10}, {24, 40, 17}};
        for (int[] sh : shapes) {
            int m = sh[0];
            int n = sh[1];
            String what = "svd of " + m + " x " + n + " (nonzero columns " + sh[2] + ")";
            Matrix a = gaussian(31L * m + n, m, n, sh[2]);
            double[] original = a.values().clone();
            Svd d = backend().svd(a);
            assertArrayEquals(original, a.values(), what + ": input changed");
            int p = Math.min(m, n);
            assertEquals(m, d.u().rows(), what);
            assertEquals(p, d.u().cols(), what);
            assertEquals(p, d.s().length, what);
            assertEquals(p, d.vt().rows(), what);
            assertEquals(n, d.vt().cols(), what);
            for (int k = 0; k < p; k++) {
                assertTrue(d.s()[k] >= 0, what + ": s[" + k + "] = " + d.s()[k]);
                assertTrue(k == 0 || d.s()[k] <= d.s()[k - 1] * (1 + 1e-12) + 1e-12, what + ": s not sorted");
            }
            assertOrthonormalColumns(d.u(), 1e-10, what + " U");
            assertOrthonormalColumns(d.vt().transpose(), 1e-10, what + " V");
            double[] back = new double[m * n];
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int k = 0; k < p; k++) {
                        s += d.u().get(i, k) * d.s()[k] * d.vt().get(k, j);
                    }
                    back[i * n + j] = s;
                }
            }
            assertArrayEquals(original, back, 1e-10, what + ": U diag(s) Vt");
        }
    }

    @Test
    void svd_knownSpectrum_isRecovered() {
        // A = Q1 diag(5, 3, 2, 0.5) Q2ᵀ built from two rotations: its singular values are known exactly.
        double c = Math.cos(0.3);
        double s = Math.sin(0.3);
        double[] sigma = {5, 3, 2, 0.5};
        double[] v = new double[16];
        for (int i = 0; i < 4; i++) {
            v[i * 4 + i] = sigma[i];
        }
        Matrix diag = new Matrix(4, 4, v);
        Matrix rot = new Matrix(4, 4, new double[] {c, -s, 0, 0, s, c, 0, 0, 0, 0, c, -s, 0, 0, s, c});
        Matrix swap = new Matrix(4, 4, new double[] {0, 0, 1, 0, c, 0, 0, s, 0, 1, 0, 0, -s, 0, 0, c});
        Matrix a = new Matrix(4, 4, product(new Matrix(4, 4, product(rot, diag)), swap));
        assertArrayEquals(sigma, backend().svd(a).s(), 1e-12);
    }

    @Test
    void multiply_matchesTheTripleLoop_andRefusesMismatchedShapes() {
        Matrix a = gaussian(5, 37, 19, 19);
        Matrix b = gaussian(6, 19, 23, 23);
        assertArrayEquals(product(a, b), backend().multiply(a, b).values(), 1e-12);
        Matrix row = gaussian(7, 1, 19, 19);
        assertArrayEquals(product(row, b), backend().multiply(row, b).values(), 1e-12);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> backend().multiply(a, a));
        assertTrue(e.getMessage().contains("37 x 19"), e.getMessage());
    }

    @Test
    void solve_recoversAKnownSolution_andRefusesSingularOrMisshapenSystems() {
        Matrix a = gaussian(8, 13, 13, 13);
        Matrix x = gaussian(9, 13, 4, 4);
        Matrix b = new Matrix(13, 4, product(a, x));
        double[] aBefore = a.values().clone();
        double[] bBefore = b.values().clone();
        assertArrayEquals(x.values(), backend().solve(a, b).values(), 1e-9);
        assertArrayEquals(aBefore, a.values(), "a unchanged");
        assertArrayEquals(bBefore, b.values(), "b unchanged");
        Matrix singular = gaussian(10, 5, 5, 4); // last column zero
        assertThrows(ArithmeticException.class, () -> backend().solve(singular, gaussian(11, 5, 1, 1)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> backend().solve(x, b));
        assertTrue(e.getMessage().contains("13 x 4"), e.getMessage());
    }
}
