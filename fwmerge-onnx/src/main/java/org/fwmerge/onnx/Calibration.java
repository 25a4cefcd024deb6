package org.fwmerge.onnx;

import ai.onnxruntime.OnnxJavaType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.DType;
import org.fwmerge.io.Safetensors;
import org.fwmerge.io.TensorInfo;
import org.fwmerge.io.TensorReader;

/**
 * The calibration samples of a graph's data inputs, held in host memory as the graph's element types
 * (float32, int64, int32), and the batches cut from them: rows gathered into buffers of the graph's batch
 * size, the last batch padded by repeating its first row with sample weight 0 (a real row, so padding can
 * never put a non-finite value into the weighted sum).
 */
final class Calibration {

    /** One batch: a buffer per data input and the sample weights (1/n for each of the n samples, 0 for padding). */
    record Batch(Map<String, ByteBuffer> data, ByteBuffer sampleWeight) {
    }

    private final Map<String, ByteBuffer> rows = new LinkedHashMap<>();
    private final Map<String, Integer> rowBytes = new LinkedHashMap<>();
    final int samples;

    private Calibration(int samples) {
        this.samples = samples;
    }

    static Calibration read(Path file, GradientGraph graph) {
        try (Checkpoint c = Safetensors.open(file)) {
            return read(c, graph);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read calibration " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Reads the graph's data inputs from {@code c}; other tensors in it are ignored (one file can feed a
     * cross-entropy graph and an entropy graph, which takes no labels).
     */
    static Calibration read(Checkpoint c, GradientGraph graph) {
        String file = c.source();
        long n = -1;
        String first = null;
        for (GradientGraph.DataInput in : graph.data.values()) {
            if (!c.contains(in.name())) {
                throw new IllegalArgumentException("calibration " + file + " has no tensor '" + in.name()
                        + "', a data input of graph " + graph.file + " (its data inputs: " + graph.data.keySet()
                        + "; the calibration's tensors: " + GradientGraph.abbreviate(c.names()) + ")");
            }
            TensorInfo info = c.info(in.name());
            long[] s = info.shape();
            long[] per = Arrays.copyOfRange(in.shape(), 1, in.shape().length);
            if (s.length != in.shape().length || !Arrays.equals(Arrays.copyOfRange(s, 1, s.length), per)) {
                throw new IllegalArgumentException("calibration " + file + ": tensor '" + in.name() + "' has shape "
                        + Arrays.toString(s) + "; graph " + graph.file + " needs [samples"
                        + (per.length == 0 ? "]" : ", " + Arrays.toString(per).substring(1)));
            }
            if (n >= 0 && s[0] != n) {
                throw new IllegalArgumentException("calibration " + file + ": tensor '" + in.name() + "' has " + s[0]
                        + " samples, tensor '" + first + "' has " + n + " (the first dimension counts samples)");
            }
            n = s[0];
            first = in.name();
        }
        if (n < 1) {
            throw new IllegalArgumentException("calibration " + file + " holds no samples");
        }
        Calibration cal = new Calibration(Math.toIntExact(n));
        for (GradientGraph.DataInput in : graph.data.values()) {
            cal.load(file, c, in);
        }
        return cal;
    }

    private void load(String file, Checkpoint c, GradientGraph.DataInput in) {
        TensorInfo info = c.info(in.name());
        long perRow = info.size() / samples;
        DType d = info.dtype();
        ByteBuffer out;
        switch (in.type()) {
            case FLOAT -> {
                if (d != DType.F32 && d != DType.F16 && d != DType.BF16 && d != DType.F64) {
                    throw typeError(file, in, d, "F32 (or F16, BF16, F64, converted)");
                }
                out = allocate(info.size(), Float.BYTES);
                try (TensorReader r = c.reader(in.name())) {
                    float[] chunk = new float[(int) Math.min(info.size(), 1 << 16)];
                    for (long off = 0; off < info.size(); off += chunk.length) {
                        int len = (int) Math.min(chunk.length, info.size() - off);
                        r.read(off, chunk, 0, len);
                        out.asFloatBuffer().position((int) off).put(chunk, 0, len);
                    }
                }
            }
            case INT64 -> {
                if (d != DType.I64 && d != DType.I32) {
                    throw typeError(file, in, d, "I64 (or I32, widened)");
                }
                ByteBuffer src = stored(file, c, in.name());
                out = allocate(info.size(), Long.BYTES);
                for (long i = 0; i < info.size(); i++) {
                    long v = d == DType.I64 ? src.getLong((int) (i * 8)) : src.getInt((int) (i * 4));
                    out.putLong((int) (i * 8), v);
                }
            }
            case INT32 -> {
                if (d != DType.I32) {
                    throw typeError(file, in, d, "I32");
                }
                ByteBuffer src = stored(file, c, in.name());
                out = allocate(info.size(), Integer.BYTES);
                for (long i = 0; i < info.size(); i++) {
                    out.putInt((int) (i * 4), src.getInt((int) (i * 4)));
                }
            }
            default -> throw new IllegalArgumentException("graph data input '" + in.name() + "' has element type "
                    + in.type() + ", which calibration files do not feed (float32, int64, int32)");
        }
        rows.put(in.name(), out);
        rowBytes.put(in.name(), Math.toIntExact(perRow * in.type().size));
    }

    private static ByteBuffer stored(String file, Checkpoint c, String name) {
        return c.storedBytes(name).orElseThrow(() -> new IllegalArgumentException("calibration " + file
                + ": the bytes of tensor '" + name + "' cannot be read as stored")).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static IllegalArgumentException typeError(String file, GradientGraph.DataInput in, DType d, String wanted) {
        return new IllegalArgumentException("calibration " + file + ": tensor '" + in.name() + "' is " + d
                + "; graph input '" + in.name() + "' is " + in.type() + ", fed from " + wanted);
    }

    private static ByteBuffer allocate(long elements, int width) {
        long bytes = elements * width;
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("calibration data of " + bytes + " bytes in one tensor; at most 2 GiB");
        }
        return ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.nativeOrder());
    }

    /**
     * The batches over {@code samples} (indices into this calibration set), each of {@code batch} rows, in
     * order. Each sample weighs 1/n, so the graph's weighted sums over all batches add up to the mean loss
     * and its gradient directly (no scaling pass over the gradients afterwards).
     */
    List<Batch> batches(int[] samples, int batch) {
        List<Batch> out = new ArrayList<>();
        float weight = (float) (1.0 / samples.length);
        for (int from = 0; from < samples.length; from += batch) {
            Map<String, ByteBuffer> data = new LinkedHashMap<>();
            int real = Math.min(batch, samples.length - from);
            for (Map.Entry<String, ByteBuffer> e : rows.entrySet()) {
                int width = rowBytes.get(e.getKey());
                ByteBuffer b = ByteBuffer.allocateDirect(width * batch).order(ByteOrder.nativeOrder());
                for (int i = 0; i < batch; i++) {
                    int row = samples[from + (i < real ? i : 0)];
                    b.put(i * width, e.getValue(), row * width, width);
                }
                data.put(e.getKey(), b);
            }
            ByteBuffer w = ByteBuffer.allocateDirect(Float.BYTES * batch).order(ByteOrder.nativeOrder());
            for (int i = 0; i < batch; i++) {
                w.putFloat(i * Float.BYTES, i < real ? weight : 0f);
            }
            out.add(new Batch(data, w));
        }
        return out;
    }
}
