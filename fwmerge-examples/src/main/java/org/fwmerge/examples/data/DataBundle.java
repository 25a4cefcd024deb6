package org.fwmerge.examples.data;

import java.util.Objects;

/**
 * The two datasets of the demo, each split into train and test.
 *
 * @param fashionTrain Fashion-MNIST training images
 * @param fashionTest  Fashion-MNIST test images (from the official test file)
 * @param digitsTrain  MNIST digits used for training
 * @param digitsTest   MNIST digits held out for testing
 * @param origin       where the data came from (recorded in provenance)
 */
public record DataBundle(Dataset fashionTrain, Dataset fashionTest, Dataset digitsTrain, Dataset digitsTest,
        String origin) {

    /** Checks every part is present. */
    public DataBundle {
        Objects.requireNonNull(fashionTrain, "fashionTrain");
        Objects.requireNonNull(fashionTest, "fashionTest");
        Objects.requireNonNull(digitsTrain, "digitsTrain");
        Objects.requireNonNull(digitsTest, "digitsTest");
        Objects.requireNonNull(origin, "origin");
    }
}
