package org.fwmerge.examples.zoo;

import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.fwmerge.examples.data.Dataset;

/**
 * One task's part of the zoo.
 *
 * @param task                the task
 * @param train               its transformed training data
 * @param test                its transformed held-out test data
 * @param head                the zero-shot head: {@code head.<task>.weight} [256,C] and {@code head.<task>.bias} [C]
 * @param trunk               the fine-tuned trunk tensors (names as in {@link Zoo#TRUNK_TENSORS})
 * @param checkpoint          the safetensors file of the fine-tuned trunk, if the zoo was cached
 * @param pretrainedAccuracy  test accuracy of the pre-trained trunk with the zero-shot head
 * @param finetunedAccuracy   test accuracy of the fine-tuned trunk with the same head
 * @param adapter             the task's LoRA adapter, if the zoo trains them
 */
public record TaskModel(Task task, Dataset train, Dataset test, Map<String, float[]> head, Map<String, float[]> trunk,
        Optional<Path> checkpoint, double pretrainedAccuracy, double finetunedAccuracy, Optional<LoraAdapter> adapter) {

    /** Checks presence and makes the maps unmodifiable (arrays are shared, do not write them). */
    public TaskModel {
        Objects.requireNonNull(task, "task");
        Objects.requireNonNull(train, "train");
        Objects.requireNonNull(test, "test");
        head = Map.copyOf(head);
        trunk = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(trunk));
        Objects.requireNonNull(checkpoint, "checkpoint");
        Objects.requireNonNull(adapter, "adapter");
    }
}
