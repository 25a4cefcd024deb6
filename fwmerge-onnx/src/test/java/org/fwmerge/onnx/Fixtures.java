package org.fwmerge.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.fwmerge.Evaluation;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.Safetensors;
import org.fwmerge.nd4j.Nd4jBackend;
import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;

/**
 * The test resources written by {@code tools/export-gradients/make_test_fixtures.py}: per architecture a
 * tiny random Hugging Face model (config.json, model.safetensors), its graph (batch 4, sequence length 8),
 * 6 calibration samples (so the second batch is padded), perturbed weights, and torch's loss and gradients
 * in double precision at both points over all 6 samples.
 */
final class Fixtures {

    static final List<String> ARCHITECTURES = List.of("vit", "clip", "bert", "gpt2", "llama");
    static final TensorBackend ND4J = new Nd4jBackend();
    static final List<TensorBackend> BACKENDS = List.of(TensorBackends.reference(), ND4J);

    private Fixtures() {
    }

    static Path file(String arch, String name) {
        URL url = Fixtures.class.getResource(arch + "/" + name);
        if (url == null) {
            throw new IllegalStateException("no test resource org/fwmerge/onnx/" + arch + "/" + name);
        }
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Checkpoint open(String arch, String name) {
        try {
            return Safetensors.open(file(arch, name));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static OnnxObjective objective(String arch) {
        return OnnxObjective.builder().graph(file(arch, "graph.onnx")).calibration(file(arch, "calibration.safetensors"))
                .threads(2).build();
    }

    /**
     * Asserts the evaluation equals torch's (prefix "" at the checkpoint, "perturbed." at the perturbed
     * weights) to {@code tolerance}: the loss relative to itself, each gradient by its largest entry error
     * relative to max(its largest entry, 1% of the largest entry of all gradients) — a tensor whose
     * gradient is exactly 0 in exact arithmetic (a key bias under softmax) holds only rounding.
     *
     * @return the worst of those relative differences
     */
    static double assertMatches(Checkpoint expected, String prefix, Evaluation e, TensorBackend backend,
            double tolerance, String what) {
        double torchLoss = lossF64(expected, prefix + "loss");
        assertEquals(torchLoss, e.loss(), tolerance * Math.abs(torchLoss), what + ": loss");
        double worst = Math.abs(e.loss() - torchLoss) / Math.abs(torchLoss);
        double largest = 0;
        for (String name : e.gradient().keySet()) {
            largest = Math.max(largest, maxAbs(reference(expected, prefix, name)));
        }
        for (Map.Entry<String, org.fwmerge.tensor.Tensor> g : e.gradient().entrySet()) {
            float[] want = reference(expected, prefix, g.getKey());
            float[] have = backend.toFloats(g.getValue());
            assertEquals(want.length, have.length, what + ": size of " + g.getKey());
            double err = 0;
            for (int i = 0; i < want.length; i++) {
                err = Math.max(err, Math.abs((double) have[i] - want[i]));
            }
            double scale = Math.max(maxAbs(want), 1e-2 * largest);
            assertTrue(err <= tolerance * scale, what + ": gradient of " + g.getKey() + " differs from torch's by "
                    + err + " (" + err / scale + " relative)");
            worst = Math.max(worst, err / scale);
        }
        return worst;
    }

    private static float[] reference(Checkpoint expected, String prefix, String name) {
        return TensorBackends.reference().toFloats(expected.load(prefix + "grad." + name, TensorBackends.reference()));
    }

    /** The F64 loss as stored (the float32 path of the readers would round it). */
    static double lossF64(Checkpoint expected, String name) {
        return expected.storedBytes(name).orElseThrow().order(java.nio.ByteOrder.LITTLE_ENDIAN).getDouble(0);
    }

    private static double maxAbs(float[] v) {
        double m = 0;
        for (float f : v) {
            m = Math.max(m, Math.abs(f));
        }
        return m;
    }
}
