package org.fwmerge.examples.zoo;

import java.util.List;
import java.util.Objects;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A task's network as a SameDiff graph, ready to become a calibration objective: the trunk parameters
 * are variables named exactly like the checkpoint tensors ({@code trunk.0.weight} …), the task's head is
 * made of constants, and {@code loss} is the mean softmax cross-entropy over the placeholders.
 *
 * @param graph        the graph
 * @param input        name of the input placeholder [-1, 784]
 * @param label        name of the one-hot label placeholder [-1, C]
 * @param loss         name of the loss variable
 * @param trunkTensors names of the trunk variables (= checkpoint tensor names)
 * @param inputs       calibration inputs [n, 784]
 * @param labels       calibration labels, one-hot [n, C]
 */
public record TaskGraph(SameDiff graph, String input, String label, String loss, List<String> trunkTensors,
        INDArray inputs, INDArray labels) {

    /** Checks presence and copies the name list. */
    public TaskGraph {
        Objects.requireNonNull(graph, "graph");
        Objects.requireNonNull(input, "input");
        Objects.requireNonNull(label, "label");
        Objects.requireNonNull(loss, "loss");
        trunkTensors = List.copyOf(trunkTensors);
        Objects.requireNonNull(inputs, "inputs");
        Objects.requireNonNull(labels, "labels");
    }
}
