package org.fwmerge.examples.zoo;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.fwmerge.examples.data.Dataset;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.DType;
import org.fwmerge.io.TensorInfo;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/**
 * Images and labels as the ViT graph takes them, a {@link Checkpoint} in memory: {@code pixel_values}
 * F32 [n, 1, 28, 28] scaled to [−1, 1] (ViT's usual (x − 0.5)/0.5) and {@code labels} I64 [n]. It feeds
 * an {@link org.fwmerge.onnx.OnnxObjective} directly and is written as a calibration file by
 * {@link org.fwmerge.io.Safetensors#write}.
 */
final class ImageSamples implements Checkpoint {

    static final String PIXELS = "pixel_values";
    static final String LABELS = "labels";

    private final String source;
    private final ByteBuffer pixels;
    private final ByteBuffer labels;
    private final int n;

    ImageSamples(Dataset d) {
        this.source = d.name();
        this.n = d.size();
        float[] p = d.pixels();
        pixels = ByteBuffer.allocate(p.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < p.length; i++) {
            pixels.putFloat(i * Float.BYTES, (p[i] - 0.5f) / 0.5f);
        }
        labels = ByteBuffer.allocate(n * Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            labels.putLong(i * Long.BYTES, d.label(i));
        }
    }

    int size() {
        return n;
    }

    int label(int i) {
        return (int) labels.getLong(i * Long.BYTES);
    }

    @Override
    public String source() {
        return source;
    }

    @Override
    public List<String> names() {
        return List.of(LABELS, PIXELS);
    }

    @Override
    public TensorInfo info(String name) {
        return switch (name) {
            case PIXELS -> new TensorInfo(PIXELS, DType.F32, new long[] {n, 1, Dataset.SIDE, Dataset.SIDE});
            case LABELS -> new TensorInfo(LABELS, DType.I64, new long[] {n});
            default -> throw new IllegalArgumentException("no tensor '" + name + "' in " + source);
        };
    }

    @Override
    public Tensor load(String name, TensorBackend backend) {
        TensorInfo info = info(name);
        if (name.equals(PIXELS)) {
            return backend.readOnlyFloats(pixels.duplicate().order(ByteOrder.LITTLE_ENDIAN), info.shape());
        }
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = label(i);
        }
        return backend.seal(backend.fromFloats(v, info.shape()));
    }

    @Override
    public Optional<ByteBuffer> storedBytes(String name) {
        info(name);
        return Optional.of((name.equals(PIXELS) ? pixels : labels).asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN));
    }

    @Override
    public Map<String, String> metadata() {
        return Map.of();
    }
}
