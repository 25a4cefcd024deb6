package org.fwmerge.examples.zoo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fwmerge.Model;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.DType;
import org.fwmerge.io.Safetensors;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;

/**
 * The zoo's cache on disk, the only class that reads or writes its files: safetensors (F32) with the
 * provenance in the {@code __metadata__}. Files: {@code base.safetensors} (pre-trained trunk),
 * {@code task-<name>.safetensors} (fine-tuned trunk), {@code head-<name>.safetensors} (zero-shot head).
 */
final class ZooStore {

    /** Metadata key holding {@link ZooConfig#provenance()} plus the data origin. */
    static final String PROVENANCE = "fwmerge.zoo.provenance";

    private ZooStore() {
    }

    static Path baseFile(Path dir) {
        return dir.resolve("base.safetensors");
    }

    static Path taskFile(Path dir, String task) {
        return dir.resolve("task-" + task + ".safetensors");
    }

    static Path headFile(Path dir, String task) {
        return dir.resolve("head-" + task + ".safetensors");
    }

    /** Writes tensors (name → values with the given shapes) and metadata atomically. */
    static void save(Path file, Map<String, float[]> tensors, Map<String, long[]> shapes, Map<String, String> metadata)
            throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        try (Model m = Model.ofArrays(file.getFileName().toString(), TensorBackends.reference(), tensors, shapes)) {
            Safetensors.write(m, file, DType.F32, metadata);
        }
    }

    /** A stored file: its tensors and metadata. */
    record Stored(Map<String, float[]> tensors, Map<String, String> metadata) {
    }

    /** Reads the metadata only, or null if the file does not exist. */
    static Map<String, String> metadata(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            return null;
        }
        try (Checkpoint c = Safetensors.open(file)) {
            return Map.copyOf(c.metadata());
        }
    }

    /** Reads every tensor of a file into float arrays. */
    static Stored load(Path file) throws IOException {
        TensorBackend ref = TensorBackends.reference();
        try (Checkpoint c = Safetensors.open(file)) {
            Map<String, float[]> out = new LinkedHashMap<>();
            List<String> names = c.names();
            for (String n : names) {
                try (Tensor t = c.load(n, ref)) {
                    out.put(n, ref.toFloats(t));
                }
            }
            return new Stored(out, Map.copyOf(c.metadata()));
        }
    }
}
