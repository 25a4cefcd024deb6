/**
 * The model zoo of the demo: an MLP trunk pre-trained on real images, and one fine-tuned trunk per task
 * (rotations, inversions, flips, pixel permutations and label groupings of Fashion-MNIST and MNIST),
 * each with the linear head fitted on the frozen pre-trained trunk. Entry point:
 * {@link org.fwmerge.examples.zoo.Zoo#build}.
 */
package org.fwmerge.examples.zoo;
