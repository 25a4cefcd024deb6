package org.fwmerge.examples.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Random;

/**
 * An immutable labelled set of 28×28 grey-scale images: pixels as a flat row-major {@code float[]} of
 * N×784 values in [0,1], labels in [0, classes).
 *
 * <p>Arrays are copied on the way in and out, so a dataset is a value that can be shared freely.
 * Package-internal code reads the backing arrays without copying.
 */
public final class Dataset {

    /** Image side in pixels. */
    public static final int SIDE = 28;
    /** Pixels per image. */
    public static final int PIXELS = SIDE * SIDE;

    private final String name;
    private final float[] pixels;
    private final int[] labels;
    private final int classes;

    private Dataset(String name, float[] pixels, int[] labels, int classes) {
        this.name = name;
        this.pixels = pixels;
        this.labels = labels;
        this.classes = classes;
    }

    /**
     * A dataset from copies of the given arrays.
     *
     * @param name    a short name used in messages and provenance
     * @param pixels  N×784 values in [0,1], row-major, one image after the other
     * @param labels  N labels in [0, classes)
     * @param classes number of classes (≥ 1)
     * @throws IllegalArgumentException if the sizes disagree, a pixel is outside [0,1] or not finite,
     *                                  or a label is out of range
     */
    public static Dataset of(String name, float[] pixels, int[] labels, int classes) {
        return checked(name, pixels.clone(), labels.clone(), classes);
    }

    /** Builds without copying (arrays must not be shared with anyone else). */
    static Dataset wrap(String name, float[] pixels, int[] labels, int classes) {
        return checked(name, pixels, labels, classes);
    }

    private static Dataset checked(String name, float[] pixels, int[] labels, int classes) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(pixels, "pixels");
        Objects.requireNonNull(labels, "labels");
        if (classes < 1) {
            throw new IllegalArgumentException("classes must be >= 1, got " + classes);
        }
        if ((long) labels.length * PIXELS != pixels.length) {
            throw new IllegalArgumentException("dataset " + name + ": " + pixels.length + " pixels for "
                    + labels.length + " labels, expected " + (long) labels.length * PIXELS);
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= classes) {
                throw new IllegalArgumentException("dataset " + name + ": label " + labels[i] + " of sample " + i
                        + " is outside [0, " + classes + ")");
            }
        }
        for (int i = 0; i < pixels.length; i++) {
            float v = pixels[i];
            if (!(v >= 0f && v <= 1f)) {
                throw new IllegalArgumentException("dataset " + name + ": pixel " + (i % PIXELS) + " of sample "
                        + (i / PIXELS) + " is " + v + ", expected a value in [0,1]");
            }
        }
        return new Dataset(name, pixels, labels, classes);
    }

    /** The dataset's name. */
    public String name() {
        return name;
    }

    /** Number of samples. */
    public int size() {
        return labels.length;
    }

    /** Number of classes. */
    public int classes() {
        return classes;
    }

    /** A copy of all pixels, N×784 row-major. */
    public float[] pixels() {
        return pixels.clone();
    }

    /** A copy of the labels. */
    public int[] labels() {
        return labels.clone();
    }

    /** The label of sample {@code i}. */
    public int label(int i) {
        return labels[i];
    }

    /** A copy of the 784 pixels of sample {@code i}. */
    public float[] image(int i) {
        Objects.checkIndex(i, labels.length);
        return Arrays.copyOfRange(pixels, i * PIXELS, (i + 1) * PIXELS);
    }

    /** Backing pixel array, not copied (package-internal readers only). */
    float[] pixelsNoCopy() {
        return pixels;
    }

    /** Backing label array, not copied. */
    int[] labelsNoCopy() {
        return labels;
    }

    /** Number of samples of each class. */
    public int[] classCounts() {
        int[] c = new int[classes];
        for (int l : labels) {
            c[l]++;
        }
        return c;
    }

    /**
     * The samples at the given indices, in that order, under a new name.
     *
     * @throws IndexOutOfBoundsException if an index is out of range
     */
    public Dataset select(String newName, int[] indices) {
        float[] p = new float[indices.length * PIXELS];
        int[] l = new int[indices.length];
        for (int k = 0; k < indices.length; k++) {
            int i = Objects.checkIndex(indices[k], labels.length);
            System.arraycopy(pixels, i * PIXELS, p, k * PIXELS, PIXELS);
            l[k] = labels[i];
        }
        return new Dataset(newName, p, l, classes);
    }

    /**
     * A class-stratified random subset: at most {@code perClass} samples of every class (all of a class
     * that has fewer), chosen with {@code seed}, interleaved by class in a seeded shuffled order.
     *
     * @throws IllegalArgumentException if {@code perClass < 1}
     */
    public Dataset stratifiedSubset(int perClass, long seed) {
        if (perClass < 1) {
            throw new IllegalArgumentException("perClass must be >= 1, got " + perClass);
        }
        return stratifiedSplit(perClass, 0, seed).train();
    }

    /**
     * Splits into two disjoint class-stratified parts: for each class, a seeded random permutation of
     * its samples, of which the first {@code trainPerClass} go to train and the next {@code testPerClass}
     * to test (fewer if the class is short: test is filled first, so a small class keeps test samples).
     * Both parts are shuffled with the seed.
     *
     * @throws IllegalArgumentException if a count is negative
     */
    public Split stratifiedSplit(int trainPerClass, int testPerClass, long seed) {
        if (trainPerClass < 0 || testPerClass < 0) {
            throw new IllegalArgumentException("per-class counts must be >= 0, got train " + trainPerClass
                    + ", test " + testPerClass);
        }
        Random rnd = new Random(seed);
        List<List<Integer>> byClass = new ArrayList<>();
        for (int c = 0; c < classes; c++) {
            byClass.add(new ArrayList<>());
        }
        for (int i = 0; i < labels.length; i++) {
            byClass.get(labels[i]).add(i);
        }
        List<Integer> train = new ArrayList<>();
        List<Integer> test = new ArrayList<>();
        for (List<Integer> members : byClass) {
            shuffle(members, rnd);
            int nTest = Math.min(testPerClass, members.size());
            int nTrain = Math.min(trainPerClass, members.size() - nTest);
            test.addAll(members.subList(0, nTest));
            train.addAll(members.subList(nTest, nTest + nTrain));
        }
        shuffle(train, rnd);
        shuffle(test, rnd);
        return new Split(select(name + "/train", toArray(train)), select(name + "/test", toArray(test)));
    }

    /** Fisher-Yates with our own Random so the order is fixed by the seed alone. */
    private static void shuffle(List<Integer> list, Random rnd) {
        for (int i = list.size() - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            Integer t = list.get(i);
            list.set(i, list.get(j));
            list.set(j, t);
        }
    }

    private static int[] toArray(List<Integer> list) {
        int[] a = new int[list.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = list.get(i);
        }
        return a;
    }

    /**
     * Two disjoint parts of a dataset.
     *
     * @param train the training part
     * @param test  the held-out part
     */
    public record Split(Dataset train, Dataset test) {
        /** Checks both parts are present. */
        public Split {
            Objects.requireNonNull(train, "train");
            Objects.requireNonNull(test, "test");
        }
    }

    @Override
    public String toString() {
        return "Dataset[" + name + ", " + size() + " samples, " + classes + " classes]";
    }
}
