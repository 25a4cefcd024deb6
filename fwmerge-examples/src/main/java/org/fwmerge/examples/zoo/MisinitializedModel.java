package org.fwmerge.examples.zoo;

import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A model fine-tuned on one task from a differently initialised pre-trained trunk (the paper's
 * misinitialised candidate, Fig. 1c): a good model on its own, whose difference from the zoo's base is
 * not a task vector but the distance between two unrelated networks.
 *
 * @param task       the task it was fine-tuned on
 * @param trunk      its trunk tensors
 * @param checkpoint its safetensors file, if the zoo was cached
 * @param accuracy   its test accuracy with its own head (fitted like the zoo's zero-shot heads, on its
 *                   own pre-trained trunk)
 */
public record MisinitializedModel(String task, Map<String, float[]> trunk, Optional<Path> checkpoint, double accuracy) {

    /** Checks presence; the map is copied (arrays are shared, do not write them). */
    public MisinitializedModel {
        Objects.requireNonNull(task, "task");
        trunk = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(trunk));
        Objects.requireNonNull(checkpoint, "checkpoint");
    }
}
