package org.fwmerge.examples.data;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.zip.GZIPInputStream;

/**
 * Reads the idx format of MNIST and Fashion-MNIST: {@code idx3-ubyte} image files (magic 0x00000803,
 * count, rows, columns, then one unsigned byte per pixel) and {@code idx1-ubyte} label files (magic
 * 0x00000801, count, then one byte per label), big-endian, plain or gzip-compressed (detected from
 * the content, not the file name).
 *
 * <p>Pixels are scaled to [0,1] by dividing by 255. Every check failure is a
 * {@link DatasetFormatException} naming the file and the value found.
 */
public final class IdxReader {

    /** Magic number of an idx file of unsigned bytes with three dimensions (images). */
    public static final int IMAGES_MAGIC = 0x00000803;
    /** Magic number of an idx file of unsigned bytes with one dimension (labels). */
    public static final int LABELS_MAGIC = 0x00000801;
    /** Labels of MNIST and Fashion-MNIST lie in [0, 10). */
    public static final int CLASSES = 10;

    private IdxReader() {
    }

    /**
     * Reads an image file and its label file into one dataset.
     *
     * @throws DatasetFormatException if either file is malformed, the image size is not 28×28, a label is
     *                                outside [0,10), or the two counts differ
     * @throws IOException            if a file cannot be read
     */
    public static Dataset read(Path images, Path labels, String name) throws IOException {
        Objects.requireNonNull(images, "images");
        Objects.requireNonNull(labels, "labels");
        Objects.requireNonNull(name, "name");
        try (InputStream im = Files.newInputStream(images); InputStream lb = Files.newInputStream(labels)) {
            return read(im, images.toString(), lb, labels.toString(), name);
        }
    }

    /**
     * Reads from streams (e.g. class-path resources); the file names are used in messages only.
     * The streams are read to the end but not closed.
     */
    public static Dataset read(InputStream images, String imagesFile, InputStream labels, String labelsFile,
            String name) throws IOException {
        float[] pixels = readImages(images, imagesFile);
        int[] lab = readLabels(labels, labelsFile);
        long nImages = pixels.length / Dataset.PIXELS;
        if (nImages != lab.length) {
            throw new DatasetFormatException(labelsFile, "has " + lab.length + " labels but " + imagesFile
                    + " has " + nImages + " images");
        }
        return Dataset.wrap(name, pixels, lab, CLASSES);
    }

    /**
     * Reads an idx3 image file of 28×28 images into N×784 floats in [0,1].
     *
     * @throws DatasetFormatException on a bad magic number, a size other than 28×28 or a truncated file
     */
    public static float[] readImages(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return readImages(in, file.toString());
        }
    }

    /**
     * Reads an idx1 label file; each label must lie in [0,10).
     *
     * @throws DatasetFormatException on a bad magic number, a truncated file or a label out of range
     */
    public static int[] readLabels(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return readLabels(in, file.toString());
        }
    }

    static float[] readImages(InputStream in, String file) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(content(in, file));
        need(b, 16, file, "header");
        int magic = b.getInt();
        if (magic != IMAGES_MAGIC) {
            throw new DatasetFormatException(file, String.format(
                    "bad magic number 0x%08x, expected 0x%08x (idx3-ubyte images)", magic, IMAGES_MAGIC));
        }
        int n = b.getInt();
        int rows = b.getInt();
        int cols = b.getInt();
        if (n < 0) {
            throw new DatasetFormatException(file, "negative image count " + n);
        }
        if (rows != Dataset.SIDE || cols != Dataset.SIDE) {
            throw new DatasetFormatException(file, "images are " + rows + "x" + cols + ", expected "
                    + Dataset.SIDE + "x" + Dataset.SIDE);
        }
        long expected = (long) n * Dataset.PIXELS;
        if (b.remaining() != expected) {
            throw new DatasetFormatException(file, (b.remaining() < expected ? "truncated: " : "trailing data: ")
                    + b.remaining() + " pixel bytes after the header, expected " + expected + " for " + n
                    + " images");
        }
        float[] out = new float[(int) expected];
        for (int i = 0; i < out.length; i++) {
            out[i] = (b.get() & 0xff) / 255f;
        }
        return out;
    }

    static int[] readLabels(InputStream in, String file) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(content(in, file));
        need(b, 8, file, "header");
        int magic = b.getInt();
        if (magic != LABELS_MAGIC) {
            throw new DatasetFormatException(file, String.format(
                    "bad magic number 0x%08x, expected 0x%08x (idx1-ubyte labels)", magic, LABELS_MAGIC));
        }
        int n = b.getInt();
        if (n < 0) {
            throw new DatasetFormatException(file, "negative label count " + n);
        }
        if (b.remaining() != n) {
            throw new DatasetFormatException(file, (b.remaining() < n ? "truncated: " : "trailing data: ")
                    + b.remaining() + " label bytes after the header, expected " + n);
        }
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            int l = b.get() & 0xff;
            if (l >= CLASSES) {
                throw new DatasetFormatException(file, "label " + l + " of sample " + i + " is outside [0, "
                        + CLASSES + ")");
            }
            out[i] = l;
        }
        return out;
    }

    private static void need(ByteBuffer b, int bytes, String file, String what) throws DatasetFormatException {
        if (b.remaining() < bytes) {
            throw new DatasetFormatException(file, "truncated " + what + ": " + b.remaining() + " bytes, expected "
                    + bytes);
        }
    }

    /** The whole content, gunzipped when it starts with the gzip magic 1f 8b. */
    private static byte[] content(InputStream raw, String file) throws IOException {
        BufferedInputStream in = new BufferedInputStream(raw);
        in.mark(2);
        int b0 = in.read();
        int b1 = in.read();
        in.reset();
        if (b0 == 0x1f && b1 == 0x8b) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            try {
                new GZIPInputStream(in).transferTo(out);
            } catch (java.io.EOFException e) {
                throw new DatasetFormatException(file, "truncated gzip stream after " + out.size()
                        + " decompressed bytes");
            } catch (java.util.zip.ZipException e) {
                throw new DatasetFormatException(file, "corrupt gzip stream: " + e.getMessage());
            }
            return out.toByteArray();
        }
        return in.readAllBytes();
    }
}
