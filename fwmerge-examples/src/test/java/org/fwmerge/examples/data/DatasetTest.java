package org.fwmerge.examples.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class DatasetTest {

    /** n samples, sample i has label i % classes and every pixel = i / n (so pixels identify samples). */
    private static Dataset numbered(int n, int classes) {
        float[] p = new float[n * 784];
        int[] l = new int[n];
        for (int i = 0; i < n; i++) {
            l[i] = i % classes;
            java.util.Arrays.fill(p, i * 784, (i + 1) * 784, i / (float) n);
        }
        return Dataset.of("n", p, l, classes);
    }

    @Test
    void stratifiedSplit_disjointAndPerClassCounts() {
        Dataset d = numbered(100, 4); // 25 per class
        Dataset.Split s = d.stratifiedSplit(10, 5, 1L);
        assertArrayEquals(new int[] {10, 10, 10, 10}, s.train().classCounts());
        assertArrayEquals(new int[] {5, 5, 5, 5}, s.test().classCounts());
        Set<Float> seen = new HashSet<>();
        for (Dataset part : new Dataset[] {s.train(), s.test()}) {
            for (int i = 0; i < part.size(); i++) {
                float id = part.image(i)[0];
                assertEquals(Math.round(id * 100) % 4, part.label(i));
                assertEquals(true, seen.add(id), "sample used twice");
            }
        }
    }

    @Test
    void stratifiedSplit_sameSeed_sameResult() {
        Dataset d = numbered(60, 3);
        assertArrayEquals(d.stratifiedSplit(5, 5, 9L).train().pixels(), d.stratifiedSplit(5, 5, 9L).train().pixels());
    }

    @Test
    void stratifiedSubset_shortClass_takesAll() {
        Dataset d = numbered(10, 3); // classes 4,3,3
        assertArrayEquals(new int[] {4, 3, 3}, d.stratifiedSubset(100, 2L).classCounts());
    }

    @Test
    void of_labelOutOfRange_rejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Dataset.of("x", new float[784], new int[] {5}, 5));
        assertEquals("dataset x: label 5 of sample 0 is outside [0, 5)", e.getMessage());
    }

    @Test
    void of_pixelOutOfRange_rejected() {
        float[] p = new float[784];
        p[3] = 2f;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Dataset.of("x", p, new int[] {0}, 1));
        assertEquals("dataset x: pixel 3 of sample 0 is 2.0, expected a value in [0,1]", e.getMessage());
    }
}
