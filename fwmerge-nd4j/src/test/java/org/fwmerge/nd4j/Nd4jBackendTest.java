package org.fwmerge.nd4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.Safetensors;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** ND4J-specific behaviour beyond the backend contract: discovery, zero-copy, interop helpers. */
class Nd4jBackendTest {

    private static final Nd4jBackend B = Nd4jBackendContractTest.BACKEND;

    @Test
    void serviceLoader_findsNd4jWithHighestPriority() {
        TensorBackend first = TensorBackends.available().get(0);
        assertEquals("nd4j", first.name());
        assertEquals(100, first.priority());
        assertTrue(first instanceof Nd4jBackend);
        if (System.getProperty(TensorBackends.PROPERTY) == null) {
            assertEquals("nd4j", TensorBackends.get().name());
        }
    }

    /**
     * RegMean's solves, many small ones in a row: OpenBLAS 0.3.19's threaded {@code dgesv} crashed the JVM on
     * such a run (2 cores) and its AVX-512 kernels returned wrong solutions; the backend's LAPACK calls run under
     * the thread policy. Each solution is checked by its residual, in double.
     */
    @Test
    void solve_manySmallSystems_stableAndRight() {
        java.util.SplittableRandom r = new java.util.SplittableRandom(1);
        for (int it = 0; it < 200; it++) {
            int n = 32 + r.nextInt(64);
            int m = 32 + r.nextInt(512);
            double[] a = new double[n * n];
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    a[i * n + j] = (i == j ? n : 0) + r.nextDouble(-1, 1);
                }
            }
            double[] b = new double[n * m];
            for (int i = 0; i < b.length; i++) {
                b[i] = r.nextDouble(-1, 1);
            }
            org.fwmerge.tensor.Matrix x = B.solve(new org.fwmerge.tensor.Matrix(n, n, a), new org.fwmerge.tensor.Matrix(n, m, b));
            double worst = 0;
            for (int i = 0; i < n; i++) {
                for (int c = 0; c < m; c++) {
                    double s = 0;
                    for (int k = 0; k < n; k++) {
                        s += a[i * n + k] * x.get(k, c);
                    }
                    worst = Math.max(worst, Math.abs(s - b[i * m + c]));
                }
            }
            assertTrue(worst < 1e-10, "system " + it + " (" + n + " x " + n + ", " + m + " right-hand sides): residual " + worst);
        }
    }

    /**
     * A merge loads every tensor of every candidate again and again, and zero-copy tensors keep their
     * mapped buffer alive. More live loads than Linux's default {@code vm.max_map_count} (65530) must
     * not need one mapping each. The file is built by hand: an 8-byte length, a JSON header, the data.
     */
    @Test
    void zeroCopyLoads_manyMoreThanTheMappingLimit_shareTheFilesMapping(@TempDir Path dir) throws IOException {
        String json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[8,20]}}";
        byte[] header = (json + " ".repeat((8 - json.length() % 8) % 8)).getBytes(StandardCharsets.UTF_8);
        ByteBuffer bytes = ByteBuffer.allocate(8 + header.length + 20).order(ByteOrder.LITTLE_ENDIAN);
        bytes.putLong(header.length).put(header);
        bytes.putFloat(1.5f).putFloat(-2f).putFloat(3f).putFloat(4f).putFloat(5f);
        Path file = dir.resolve("tiny.safetensors");
        Files.write(file, bytes.array());

        int loads = 70_000;
        List<Tensor> live = new ArrayList<>(loads);
        try (Checkpoint ckpt = Safetensors.open(file)) {
            for (int i = 0; i < loads; i++) {
                live.add(ckpt.load(i % 2 == 0 ? "a" : "b", B));
            }
        }
        // Still readable after the file is closed: each tensor keeps its slice of the mapping.
        assertArrayEquals(new float[] {1.5f, -2f}, B.toFloats(live.get(0)));
        assertArrayEquals(new float[] {3f, 4f, 5f}, B.toFloats(live.get(loads - 1)));
        live.forEach(Tensor::close);
    }

    /** Widened (BF16) loads used to stay allocated after close (a view over a copy): 14 GB of churn after 6 LMO passes. */
    @Test
    void load_bf16_isFreedOnClose_andSealedStorageIsCountedOnce(@TempDir Path dir) throws IOException {
        Nd4jBackend b = new Nd4jBackend();
        Path file = dir.resolve("m.safetensors");
        try (org.fwmerge.Model m = org.fwmerge.Model.ofArrays("m", TensorBackends.reference(),
                java.util.Map.of("w", new float[] {1.5f, -2f, 0.25f, 3f}), java.util.Map.of())) {
            Safetensors.write(m, file, org.fwmerge.io.DType.BF16, java.util.Map.of());
        }
        try (Checkpoint c = Safetensors.open(file)) {
            for (int pass = 0; pass < 3; pass++) {
                try (Tensor t = c.load("w", b)) {
                    assertTrue(t.isReadOnly());
                    assertEquals(4 * 4, b.allocatedBytes(), "one copy, counted once");
                    assertArrayEquals(new float[] {1.5f, -2f, 0.25f, 3f}, b.toFloats(t));
                }
                assertEquals(0, b.allocatedBytes());
            }
        }
    }

    @Test
    void allocatedBytes_countOwnedStorageUntilClose_notMappedViews() {
        Nd4jBackend b = new Nd4jBackend(); // its own counters
        assertEquals(0, b.allocatedBytes());
        Tensor z = b.zeros(10, 100);
        Tensor f = b.fromFloats(new float[] {1, 2, 3}, 3);
        assertEquals(4 * 1003, b.allocatedBytes());
        ByteBuffer direct = ByteBuffer.allocateDirect(4 * 50).order(ByteOrder.LITTLE_ENDIAN);
        try (Tensor mapped = b.readOnlyFloats(direct, 50); Tensor view = b.readOnlyView(z)) {
            assertEquals(4 * 1003, b.allocatedBytes(), "zero-copy tensors and views own nothing");
        }
        try (Tensor copied = b.readOnlyFloats(ByteBuffer.allocate(4 * 50).order(ByteOrder.LITTLE_ENDIAN), 50)) {
            assertEquals(4 * 1053, b.allocatedBytes(), "a heap buffer is copied into owned storage");
        }
        z.close();
        z.close(); // a second close frees nothing more
        assertEquals(4 * 3, b.allocatedBytes());
        assertEquals(4 * 1053, b.peakAllocatedBytes());
        b.resetPeakAllocatedBytes();
        assertEquals(4 * 3, b.peakAllocatedBytes());
        try (Tensor w = b.wrap(Nd4j.create(DataType.DOUBLE, 20))) {
            assertEquals(4 * 23, b.allocatedBytes(), "a wrapped DOUBLE array is copied to FLOAT");
        }
        f.close();
        assertEquals(0, b.allocatedBytes());
        assertEquals(4 * 23, b.peakAllocatedBytes());
    }

    @Test
    void readOnlyFloats_directBuffer_isZeroCopy() {
        ByteBuffer buf = ByteBuffer.allocateDirect(4 * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 8; i++) {
            buf.putFloat(4 * i, i);
        }
        buf.position(8); // elements 2..7
        try (Tensor t = B.readOnlyFloats(buf, 6)) {
            assertArrayEquals(new float[] {2, 3, 4, 5, 6, 7}, B.toFloats(t));
            buf.putFloat(12, 30f); // element 3, written after the tensor was made
            assertArrayEquals(new float[] {2, 30, 4, 5, 6, 7}, B.toFloats(t), "the tensor aliases the buffer");
        }
    }

    @Test
    void readOnlyFloats_heapBuffer_isCopied() {
        ByteBuffer buf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, 1f).putFloat(4, 2f);
        try (Tensor t = B.readOnlyFloats(buf, 2)) {
            buf.putFloat(0, 10f);
            assertArrayEquals(new float[] {1, 2}, B.toFloats(t));
        }
    }

    @Test
    void array_hasTensorShapeAndSharesStorage() {
        try (Tensor t = B.fromFloats(new float[] {1, 2, 3, 4, 5, 6}, 2, 3)) {
            INDArray a = Nd4jBackend.array(t);
            assertArrayEquals(new long[] {2, 3}, a.shape());
            assertEquals(DataType.FLOAT, a.dataType());
            assertEquals(6f, a.getFloat(1, 2), 0f);
            a.putScalar(0, 1, 20f);
            assertArrayEquals(new float[] {1, 20, 3, 4, 5, 6}, B.toFloats(t));
        }
    }

    @Test
    void array_scalarTensor_isRankZero() {
        try (Tensor t = B.fromFloats(new float[] {4.5f})) {
            INDArray a = Nd4jBackend.array(t);
            assertEquals(0, a.rank());
            assertEquals(4.5f, a.getFloat(0), 0f);
        }
    }

    @Test
    void array_foreignTensor_throws() {
        try (Tensor t = TensorBackends.reference().zeros(2)) {
            assertThrows(IllegalArgumentException.class, () -> Nd4jBackend.array(t));
        }
    }

    @Test
    void wrap_floatArray_takesItWithoutCopy() {
        INDArray a = Nd4j.createFromArray(new float[][] {{1, 2}, {3, 4}});
        try (Tensor t = B.wrap(a)) {
            assertSame(B, t.backend());
            assertFalse(t.isReadOnly());
            assertArrayEquals(new long[] {2, 2}, t.shape());
            a.putScalar(1, 1, 40f);
            assertArrayEquals(new float[] {1, 2, 3, 40}, B.toFloats(t));
        }
        assertTrue(a.wasClosed(), "closing the tensor closes the array it took");
    }

    @Test
    void wrap_doubleArrayOrView_copiesAsFloat() {
        INDArray d = Nd4j.createFromArray(new double[][] {{1.5, 2}, {3, 4}});
        INDArray column = d.getColumn(1); // a strided view
        try (Tensor t = B.wrap(d); Tensor c = B.wrap(column)) {
            d.putScalar(0, 0, 100.0);
            assertArrayEquals(new float[] {1.5f, 2, 3, 4}, B.toFloats(t));
            assertArrayEquals(new float[] {2, 4}, B.toFloats(c));
        }
        assertFalse(d.wasClosed());
    }
}
