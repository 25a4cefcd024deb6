package org.fwmerge.examples.zoo;

import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A task's LoRA adapter over the pre-trained trunk, in PEFT's layout: {@code
 * base_model.model.trunk.<l>.lora_A.weight} [r, in] and {@code …lora_B.weight} [out, r] for both trunk
 * weights; with {@code fan_in_fan_out} (the trunk stores W as [in, out]) the adapted weight is
 * W + (alpha/r)·(B·A)ᵀ. On disk: a directory with {@code adapter_config.json} and
 * {@code adapter_model.safetensors}, which {@link org.fwmerge.ModelPool#open} reads as a candidate.
 *
 * @param rank     r
 * @param alpha    lora_alpha
 * @param factors  the factors by PEFT name
 * @param dir      the adapter directory, if the zoo was cached
 * @param accuracy test accuracy of the adapted trunk with the task's zero-shot head
 */
public record LoraAdapter(int rank, double alpha, Map<String, float[]> factors, Optional<Path> dir, double accuracy) {

    /** Checks presence; the map is copied (arrays are shared, do not write them). */
    public LoraAdapter {
        factors = Map.copyOf(factors);
        Objects.requireNonNull(dir, "dir");
    }

    /** PEFT's name of a factor ('A' or 'B') of trunk layer {@code layer}. */
    static String name(int layer, char factor) {
        return "base_model.model.trunk." + layer + ".lora_" + factor + ".weight";
    }
}
