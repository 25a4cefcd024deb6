package org.fwmerge.baseline;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackends;

/**
 * Golden files of this package copied out of the class path into a temporary directory (the class path may
 * be a jar: the ND4J module runs these cases on its backend too).
 */
final class Fixtures {
    private static Path dir;

    private Fixtures() {
    }

    /** {@code resource} (relative to this package, e.g. "spectral/base.safetensors") as a file. */
    static synchronized Path file(String resource) {
        try {
            if (dir == null) {
                dir = Files.createTempDirectory("fwmerge-fixtures");
                dir.toFile().deleteOnExit();
            }
            Path p = dir.resolve(resource.replace('/', '-'));
            if (!Files.exists(p)) {
                try (InputStream in = Fixtures.class.getResourceAsStream(resource)) {
                    Files.copy(Objects.requireNonNull(in, resource), p);
                }
                p.toFile().deleteOnExit();
            }
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A tensor's values, read with the reference backend. */
    static float[] floats(Checkpoint c, String name) {
        try (Tensor t = c.load(name, TensorBackends.reference())) {
            return TensorBackends.reference().toFloats(t);
        }
    }
}
