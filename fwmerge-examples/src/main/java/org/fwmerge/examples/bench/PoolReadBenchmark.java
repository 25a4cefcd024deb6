package org.fwmerge.examples.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.DType;
import org.fwmerge.io.Safetensors;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;

/**
 * Reading benchmark (a program, not a timed test): the LMO's inner loop — a dot product of a
 * page-cached F32 checkpoint with an in-memory gradient, read through a {@link ModelPool} — against
 * the same dot on two in-memory models, in the same run. Prints both throughputs, their ratio and
 * the peak resident memory.
 *
 * <pre>java -cp fwmerge-examples/target/fwmerge.jar org.fwmerge.examples.bench.PoolReadBenchmark [GB] [repeats]</pre>
 */
public final class PoolReadBenchmark {
    private static final int TENSOR_ELEMENTS = 16 << 20; // 64 MB per tensor

    private PoolReadBenchmark() {
    }

    public static void main(String[] args) throws IOException {
        double gb = args.length > 0 ? Double.parseDouble(args[0]) : 1.0;
        int repeats = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        TensorBackend b = TensorBackends.get();
        int tensors = (int) Math.max(1, Math.round(gb * 1e9 / (4.0 * TENSOR_ELEMENTS)));
        long bytes = 4L * TENSOR_ELEMENTS * tensors;
        Path dir = Files.createTempDirectory("fwmerge-bench");
        try {
            Model gradient = random("gradient", b, tensors, 1);
            Model inMemory = random("in-memory", b, tensors, 2);
            Path file = dir.resolve("candidate.safetensors");
            Safetensors.write(inMemory, file, DType.F32, Map.of());
            Files.copy(file, dir.resolve("base.safetensors"));
            System.out.printf("backend %s, checkpoint %.2f GB in %d tensors%n", b.name(), bytes / 1e9, tensors);
            try (ModelPool pool = ModelPool.open(dir.resolve("base.safetensors"), List.of(file))) {
                Checkpoint candidate = pool.candidates().get(0);
                double expected = gradient.dot(inMemory);
                poolDot(gradient, candidate, b); // warm the page cache and the JIT
                double bestMem = Double.POSITIVE_INFINITY;
                double bestPool = Double.POSITIVE_INFINITY;
                for (int r = 0; r < repeats; r++) {
                    long t0 = System.nanoTime();
                    double m = gradient.dot(inMemory);
                    long t1 = System.nanoTime();
                    double p = poolDot(gradient, candidate, b);
                    long t2 = System.nanoTime();
                    if (m != expected || Math.abs(p - expected) > 1e-9 * Math.abs(expected)) {
                        throw new IllegalStateException("dot mismatch: " + m + " / " + p + " vs " + expected);
                    }
                    bestMem = Math.min(bestMem, (t1 - t0) / 1e9);
                    bestPool = Math.min(bestPool, (t2 - t1) / 1e9);
                }
                // Both variants read 2 × bytes: the gradient and the candidate.
                double memRate = 2 * bytes / bestMem / 1e9;
                double poolRate = 2 * bytes / bestPool / 1e9;
                System.out.printf("in-memory dot:   %.1f ms  %.1f GB/s%n", bestMem * 1e3, memRate);
                System.out.printf("through pool:    %.1f ms  %.1f GB/s%n", bestPool * 1e3, poolRate);
                System.out.printf("ratio pool/in-memory: %.0f%% (target ≥ 70%%)%n", 100 * poolRate / memRate);
                System.out.printf("peak resident memory (VmHWM): %s%n", peakRss());
            }
        } finally {
            try (var s = Files.list(dir)) {
                for (Path p : s.toList()) {
                    Files.delete(p);
                }
            }
            Files.delete(dir);
        }
    }

    private static double poolDot(Model gradient, Checkpoint candidate, TensorBackend b) {
        double s = 0;
        for (String name : gradient.names()) {
            try (Tensor t = candidate.load(name, b)) {
                s += b.dot(gradient.tensor(name), t);
            }
        }
        return s;
    }

    private static Model random(String source, TensorBackend b, int tensors, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        Map<String, Tensor> m = new LinkedHashMap<>();
        float[] chunk = new float[1 << 16];
        for (int t = 0; t < tensors; t++) {
            Tensor x = b.zeros(TENSOR_ELEMENTS);
            for (int off = 0; off < TENSOR_ELEMENTS; off += chunk.length) {
                for (int i = 0; i < chunk.length; i++) {
                    chunk[i] = (float) rnd.nextDouble(-1, 1);
                }
                b.set(x, off, chunk, 0, chunk.length);
            }
            m.put(String.format("layer.%03d.weight", t), x);
        }
        return Model.of(source, b, m);
    }

    private static String peakRss() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM:")) {
                return line.substring(6).trim();
            }
        }
        return "unknown";
    }
}
