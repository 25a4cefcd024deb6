package org.fwmerge.examples.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IdxReaderTest {

    @TempDir
    Path dir;

    /** Hand-built idx3 bytes: header fields as given, then the pixel bytes. */
    static byte[] images(int magic, int n, int rows, int cols, byte[] pixels) {
        ByteBuffer b = ByteBuffer.allocate(16 + pixels.length);
        b.putInt(magic).putInt(n).putInt(rows).putInt(cols).put(pixels);
        return b.array();
    }

    static byte[] labels(int magic, int n, byte... labels) {
        ByteBuffer b = ByteBuffer.allocate(8 + labels.length);
        b.putInt(magic).putInt(n).put(labels);
        return b.array();
    }

    static byte[] gzip(byte[] raw) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (OutputStream out = new GZIPOutputStream(bos)) {
            out.write(raw);
        }
        return bos.toByteArray();
    }

    private Path file(String name, byte[] content) throws IOException {
        return Files.write(dir.resolve(name), content);
    }

    /** Two images: first all 255 except pixel 0 = 0, second pixel i = i mod 256. */
    private static byte[] twoImages() {
        byte[] p = new byte[2 * 784];
        Arrays.fill(p, 0, 784, (byte) 255);
        p[0] = 0;
        for (int i = 0; i < 784; i++) {
            p[784 + i] = (byte) (i % 256);
        }
        return p;
    }

    @Test
    void read_plainFiles_scalesPixelsAndKeepsLabels() throws IOException {
        Path im = file("im", images(0x803, 2, 28, 28, twoImages()));
        Path lb = file("lb", labels(0x801, 2, (byte) 9, (byte) 3));
        Dataset d = IdxReader.read(im, lb, "t");
        assertEquals(2, d.size());
        assertArrayEquals(new int[] {9, 3}, d.labels());
        assertEquals(0f, d.image(0)[0]);
        assertEquals(1f, d.image(0)[1]);
        assertEquals(200 / 255f, d.image(1)[200]);
        assertEquals(44 / 255f, d.image(1)[300]); // 300 mod 256
    }

    @Test
    void read_gzippedFiles_sameAsPlain() throws IOException {
        Path im = file("im.gz", gzip(images(0x803, 2, 28, 28, twoImages())));
        Path lb = file("lb.gz", gzip(labels(0x801, 2, (byte) 1, (byte) 0)));
        Dataset d = IdxReader.read(im, lb, "t");
        assertArrayEquals(new int[] {1, 0}, d.labels());
        assertEquals(200 / 255f, d.image(1)[200]);
    }

    @Test
    void readImages_badMagic_namesFileAndValue() throws IOException {
        Path im = file("bad-magic", images(0x801, 2, 28, 28, twoImages()));
        DatasetFormatException e = assertThrows(DatasetFormatException.class, () -> IdxReader.readImages(im));
        assertEquals(im + ": bad magic number 0x00000801, expected 0x00000803 (idx3-ubyte images)", e.getMessage());
        assertEquals(im.toString(), e.file());
    }

    @Test
    void readLabels_badMagic_namesValue() throws IOException {
        Path lb = file("lbm", labels(0x803, 1, (byte) 1));
        DatasetFormatException e = assertThrows(DatasetFormatException.class, () -> IdxReader.readLabels(lb));
        assertEquals(lb + ": bad magic number 0x00000803, expected 0x00000801 (idx1-ubyte labels)", e.getMessage());
    }

    @Test
    void readImages_truncated_reportsBytes() throws IOException {
        byte[] full = images(0x803, 2, 28, 28, twoImages());
        Path im = file("trunc", Arrays.copyOf(full, full.length - 10));
        DatasetFormatException e = assertThrows(DatasetFormatException.class, () -> IdxReader.readImages(im));
        assertEquals(im + ": truncated: 1558 pixel bytes after the header, expected 1568 for 2 images", e.getMessage());
    }

    @Test
    void readImages_truncatedGzip_reported() throws IOException {
        byte[] gz = gzip(images(0x803, 2, 28, 28, twoImages()));
        Path im = file("trunc.gz", Arrays.copyOf(gz, gz.length / 2));
        DatasetFormatException e = assertThrows(DatasetFormatException.class, () -> IdxReader.readImages(im));
        assertTrue(e.getMessage().startsWith(im + ": truncated gzip stream"), e.getMessage());
    }

    @Test
    void readImages_shortHeader_reported() throws IOException {
        Path im = file("short", new byte[] {0, 0, 8, 3, 0});
        DatasetFormatException e = assertThrows(DatasetFormatException.class, () -> IdxReader.readImages(im));
        assertEquals(im + ": truncated header: 5 bytes, expected 16", e.getMessage());
    }

    @Test
    void readImages_wrongDimensions_reported() throws IOException {
        Path im = file("dims", images(0x803, 1, 32, 32, new byte[1024]));
        DatasetFormatException e = assertThrows(DatasetFormatException.class, () -> IdxReader.readImages(im));
        assertEquals(im + ": images are 32x32, expected 28x28", e.getMessage());
    }

    @Test
    void readLabels_outOfRange_namesSampleAndValue() throws IOException {
        Path lb = file("range", labels(0x801, 3, (byte) 0, (byte) 4, (byte) 10));
        DatasetFormatException e = assertThrows(DatasetFormatException.class, () -> IdxReader.readLabels(lb));
        assertEquals(lb + ": label 10 of sample 2 is outside [0, 10)", e.getMessage());
    }

    @Test
    void read_countMismatch_namesBothFiles() throws IOException {
        Path im = file("im", images(0x803, 2, 28, 28, twoImages()));
        Path lb = file("lb", labels(0x801, 3, (byte) 0, (byte) 1, (byte) 2));
        DatasetFormatException e = assertThrows(DatasetFormatException.class, () -> IdxReader.read(im, lb, "t"));
        assertEquals(lb + ": has 3 labels but " + im + " has 2 images", e.getMessage());
    }

    @Test
    void writeGzipped_roundTrip_exact() throws IOException {
        Path im = file("im", images(0x803, 2, 28, 28, twoImages()));
        Path lb = file("lb", labels(0x801, 2, (byte) 9, (byte) 3));
        Dataset d = IdxReader.read(im, lb, "t");
        Path im2 = dir.resolve("im2.gz");
        Path lb2 = dir.resolve("lb2.gz");
        IdxWriter.writeGzipped(d, im2, lb2);
        Dataset back = IdxReader.read(im2, lb2, "t");
        assertArrayEquals(d.pixels(), back.pixels());
        assertArrayEquals(d.labels(), back.labels());
    }

    @Test
    void bundled_loads_withDocumentedSizes() {
        DataBundle b = DataSources.bundled();
        assertEquals(5000, b.fashionTrain().size());
        assertEquals(1000, b.fashionTest().size());
        assertEquals(8500, b.digitsTrain().size());
        assertEquals(1500, b.digitsTest().size());
        int[] perClass = new int[10];
        Arrays.fill(perClass, 500);
        assertArrayEquals(perClass, b.fashionTrain().classCounts());
        Arrays.fill(perClass, 150);
        assertArrayEquals(perClass, b.digitsTest().classCounts());
    }
}
