package org.fwmerge.examples.data;

import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;

/** Writes a dataset as a gzipped idx3/idx1 pair (used to make the bundled subset). */
final class IdxWriter {

    private IdxWriter() {
    }

    /**
     * Writes images and labels; pixels are quantised back to bytes by rounding x·255, which is exact for
     * data that came from bytes (idx) or from bytes/255 printed to three decimals (the npm JSON).
     */
    static void writeGzipped(Dataset d, Path images, Path labels) throws IOException {
        float[] p = d.pixelsNoCopy();
        try (OutputStream f = Files.newOutputStream(images);
                DataOutputStream out = new DataOutputStream(new GZIPOutputStream(f, 1 << 16))) {
            out.writeInt(IdxReader.IMAGES_MAGIC);
            out.writeInt(d.size());
            out.writeInt(Dataset.SIDE);
            out.writeInt(Dataset.SIDE);
            byte[] bytes = new byte[p.length];
            for (int i = 0; i < p.length; i++) {
                bytes[i] = (byte) Math.round(p[i] * 255f);
            }
            out.write(bytes);
        }
        try (OutputStream f = Files.newOutputStream(labels);
                DataOutputStream out = new DataOutputStream(new GZIPOutputStream(f))) {
            out.writeInt(IdxReader.LABELS_MAGIC);
            out.writeInt(d.size());
            for (int l : d.labelsNoCopy()) {
                out.writeByte(l);
            }
        }
    }
}
