package org.fwmerge;

import java.util.Objects;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * How merged tensors group into blocks ("layers") for the layer-wise LMO and for layer-wise
 * coefficients: a function from tensor name to block name. Tensors with the same block name form
 * one block. Stateless and thread-safe.
 */
@FunctionalInterface
public interface BlockPartition {

    /** The block a tensor belongs to. Must be deterministic. */
    String blockOf(String tensorName);

    /** Every tensor is its own block (the default for {@link Lmo#layerWise()}). */
    static BlockPartition perTensor() {
        return named(name -> name, "perTensor");
    }

    /** All tensors form one block (the task-wise LMO). */
    static BlockPartition whole() {
        return named(name -> "*", "whole");
    }

    /**
     * Tensors whose names agree up to the last {@code '.'} form a block, e.g. {@code layer.0.weight}
     * and {@code layer.0.bias} form block {@code layer.0}; a name without a dot is its own block.
     */
    static BlockPartition byPrefix() {
        return named(name -> {
            int dot = name.lastIndexOf('.');
            return dot < 0 ? name : name.substring(0, dot);
        }, "byPrefix");
    }

    /**
     * Tensors whose names match the same capturing group 1 of {@code regex} form a block; a name
     * the pattern does not match is its own block. E.g. {@code "(encoder\\.layer\\.\\d+)\\..*"}.
     */
    static BlockPartition byRegex(String regex) {
        Pattern p = Pattern.compile(Objects.requireNonNull(regex, "regex"));
        if (p.matcher("").groupCount() < 1) {
            throw new IllegalArgumentException("block regex '" + regex + "' needs a capturing group naming the block");
        }
        return named(name -> {
            var m = p.matcher(name);
            return m.matches() && m.group(1) != null ? m.group(1) : name;
        }, "byRegex(" + regex + ")");
    }

    /** A user function, with a description for provenance. */
    static BlockPartition named(Function<String, String> fn, String description) {
        Objects.requireNonNull(fn, "fn");
        Objects.requireNonNull(description, "description");
        return new BlockPartition() {
            @Override
            public String blockOf(String tensorName) {
                return Objects.requireNonNull(fn.apply(tensorName), "block of " + tensorName);
            }

            @Override
            public String toString() {
                return description;
            }
        };
    }
}
