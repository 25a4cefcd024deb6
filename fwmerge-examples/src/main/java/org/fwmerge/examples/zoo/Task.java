package org.fwmerge.examples.zoo;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Random;
import org.fwmerge.examples.data.Dataset;

/**
 * One task of the zoo: a source dataset, a fixed input transform and a label map. Tasks are values;
 * {@link #standard(long)} gives the 20 tasks of the demo, deterministic for a seed (only the pixel
 * permutations depend on it).
 *
 * @param name      short unique name, used in checkpoint names ({@code head.<name>.weight})
 * @param source    the dataset the task draws from
 * @param transform the input transform applied to every image
 * @param labelMap  original label (0…9) → task label
 * @param classes   number of task classes (1 + max of {@code labelMap})
 */
public record Task(String name, Source source, Transform transform, int[] labelMap, int classes) {

    /** The two source datasets. */
    public enum Source {
        /** Fashion-MNIST (Zalando). */
        FASHION,
        /** MNIST handwritten digits. */
        DIGITS
    }

    /** Checks the fields and copies the label map. */
    public Task {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(transform, "transform");
        Objects.requireNonNull(labelMap, "labelMap");
        if (!name.matches("[a-z0-9_]+")) {
            throw new IllegalArgumentException("task name must match [a-z0-9_]+, got '" + name + "'");
        }
        if (labelMap.length != 10) {
            throw new IllegalArgumentException("label map of task " + name + " has " + labelMap.length
                    + " entries, expected 10");
        }
        labelMap = labelMap.clone();
        for (int l : labelMap) {
            if (l < 0 || l >= classes) {
                throw new IllegalArgumentException("label map of task " + name + " maps to " + l + ", outside [0, "
                        + classes + ")");
            }
        }
    }

    /** A copy of the label map. */
    @Override
    public int[] labelMap() {
        return labelMap.clone();
    }

    /** Applies the transform and label map to every sample of {@code d}, keeping its order. */
    public Dataset apply(Dataset d) {
        float[] in = d.pixels();
        float[] out = new float[in.length];
        float[] img = new float[Dataset.PIXELS];
        float[] res = new float[Dataset.PIXELS];
        for (int i = 0; i < d.size(); i++) {
            System.arraycopy(in, i * Dataset.PIXELS, img, 0, Dataset.PIXELS);
            transform.apply(img, res);
            System.arraycopy(res, 0, out, i * Dataset.PIXELS, Dataset.PIXELS);
        }
        int[] labels = d.labels();
        for (int i = 0; i < labels.length; i++) {
            labels[i] = labelMap[labels[i]];
        }
        return Dataset.of(d.name() + "/" + name, out, labels, classes);
    }

    /**
     * A pixel transform of 28×28 images: a fixed pixel mapping (rotations, flips, permutations), optionally
     * followed by inversion 1 − x.
     *
     * @param name   description, recorded in provenance
     * @param source output pixel p takes input pixel {@code source[p]}
     * @param invert whether to map x to 1 − x afterwards
     */
    public record Transform(String name, int[] source, boolean invert) {

        /** Checks the mapping is a permutation of 0…783 and copies it. */
        public Transform {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(source, "source");
            if (source.length != Dataset.PIXELS) {
                throw new IllegalArgumentException("pixel map " + name + " has " + source.length
                        + " entries, expected " + Dataset.PIXELS);
            }
            boolean[] seen = new boolean[Dataset.PIXELS];
            for (int s : source) {
                if (s < 0 || s >= Dataset.PIXELS || seen[s]) {
                    throw new IllegalArgumentException("pixel map " + name + " is not a permutation (entry " + s + ")");
                }
                seen[s] = true;
            }
            source = source.clone();
        }

        /** A copy of the pixel mapping. */
        @Override
        public int[] source() {
            return source.clone();
        }

        /** Writes the transformed {@code in} (784 pixels) into {@code out}. */
        public void apply(float[] in, float[] out) {
            for (int p = 0; p < Dataset.PIXELS; p++) {
                float v = in[source[p]];
                out[p] = invert ? 1f - v : v;
            }
        }

        /** The identity. */
        public static Transform identity() {
            return map("identity", (r, c) -> r * 28 + c, false);
        }

        /** Clockwise rotation by {@code degrees} (90, 180 or 270). */
        public static Transform rotate(int degrees) {
            return switch (degrees) {
                case 90 -> map("rot90", (r, c) -> (27 - c) * 28 + r, false);
                case 180 -> map("rot180", (r, c) -> (27 - r) * 28 + (27 - c), false);
                case 270 -> map("rot270", (r, c) -> c * 28 + (27 - r), false);
                default -> throw new IllegalArgumentException("rotation must be 90, 180 or 270, got " + degrees);
            };
        }

        /** Mirror left–right. */
        public static Transform flipHorizontal() {
            return map("hflip", (r, c) -> r * 28 + (27 - c), false);
        }

        /** Mirror top–bottom. */
        public static Transform flipVertical() {
            return map("vflip", (r, c) -> (27 - r) * 28 + c, false);
        }

        /** Inversion 1 − x. */
        public static Transform inversion() {
            return map("invert", (r, c) -> r * 28 + c, true);
        }

        /** A fixed random permutation of the pixels, drawn with {@code seed}. */
        public static Transform permutation(long seed) {
            int[] p = new int[Dataset.PIXELS];
            for (int i = 0; i < p.length; i++) {
                p[i] = i;
            }
            Random rnd = new Random(seed);
            for (int i = p.length - 1; i > 0; i--) {
                int j = rnd.nextInt(i + 1);
                int t = p[i];
                p[i] = p[j];
                p[j] = t;
            }
            return new Transform("permutation(seed=" + seed + ")", p, false);
        }

        private interface PixelMap {
            int source(int row, int col);
        }

        private static Transform map(String name, PixelMap m, boolean invert) {
            int[] s = new int[Dataset.PIXELS];
            for (int r = 0; r < 28; r++) {
                for (int c = 0; c < 28; c++) {
                    s[r * 28 + c] = m.source(r, c);
                }
            }
            return new Transform(name, s, invert);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Transform t && t.name.equals(name) && t.invert == invert
                    && Arrays.equals(t.source, source);
        }

        @Override
        public int hashCode() {
            return 31 * name.hashCode() + Arrays.hashCode(source) + (invert ? 1 : 0);
        }

        @Override
        public String toString() {
            return name;
        }
    }

    private static final int[] IDENTITY = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};

    /**
     * The 20 tasks of the demo, all 10-way classification: for each dataset the original images,
     * rotation by 90° and vertical flip, then distinct pixel permutations drawn with {@code seed} — 9 of
     * digits and 5 of Fashion-MNIST (12 and 8 tasks: fashion's small MLP tops out near 0.84, digits' near
     * 0.94). The pre-trained trunk learns from original images, so its features serve the transformed
     * inputs poorly — most of all the permutations, which destroy the spatial structure its filters learnt
     * — and each fine-tuned model holds knowledge the others lack. The list spreads both datasets evenly,
     * so every prefix (experiment 3 adds models in this order) has both.
     *
     * @param seed seed of the pixel permutations
     */
    public static List<Task> standard(long seed) {
        List<List<Task>> bySource = List.of(tasksOf(Source.DIGITS, 12, seed), tasksOf(Source.FASHION, 8, seed));
        List<Task> tasks = new ArrayList<>();
        int[] taken = new int[bySource.size()];
        while (tasks.size() < 20) {
            int next = 0;
            for (int s = 1; s < taken.length; s++) {
                // the source furthest behind its share so far goes next
                if ((taken[s] + 0.5) / bySource.get(s).size() < (taken[next] + 0.5) / bySource.get(next).size()) {
                    next = s;
                }
            }
            tasks.add(bySource.get(next).get(taken[next]++));
        }
        return List.copyOf(tasks);
    }

    private static List<Task> tasksOf(Source s, int count, long seed) {
        String p = s == Source.FASHION ? "fashion_" : "digits_";
        List<Task> tasks = new ArrayList<>();
        tasks.add(new Task(p + "orig", s, Transform.identity(), IDENTITY, 10));
        tasks.add(new Task(p + "rot90", s, Transform.rotate(90), IDENTITY, 10));
        tasks.add(new Task(p + "vflip", s, Transform.flipVertical(), IDENTITY, 10));
        for (int i = 1; tasks.size() < count; i++) {
            tasks.add(new Task(p + "perm" + i, s, Transform.permutation(seed * 1_000L + s.ordinal() * 100L + i),
                    IDENTITY, 10));
        }
        return tasks;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Task t && t.name.equals(name) && t.source == source && t.transform.equals(transform)
                && Arrays.equals(t.labelMap, labelMap) && t.classes == classes;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, source, transform) * 31 + Arrays.hashCode(labelMap);
    }

    @Override
    public String toString() {
        return name + "(" + source + ", " + transform + ", labels " + Arrays.toString(labelMap) + ")";
    }
}
