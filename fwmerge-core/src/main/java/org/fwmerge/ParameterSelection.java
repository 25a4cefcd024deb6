package org.fwmerge;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Which tensors are merged: names matching any include pattern (all, if none is given) and no
 * exclude pattern. Patterns are Java regular expressions matched against the whole name. Tensors
 * left out (e.g. task heads) are not merged and are copied from the base model when the result is
 * saved. Immutable.
 */
public final class ParameterSelection {

    private static final ParameterSelection ALL = new ParameterSelection(List.of(), List.of());

    private final List<Pattern> includes;
    private final List<Pattern> excludes;

    private ParameterSelection(List<Pattern> includes, List<Pattern> excludes) {
        this.includes = includes;
        this.excludes = excludes;
    }

    /** Every tensor. */
    public static ParameterSelection all() {
        return ALL;
    }

    /** Only tensors whose names match one of {@code regexes}. */
    public static ParameterSelection include(String... regexes) {
        return ALL.andInclude(regexes);
    }

    /** Every tensor except those whose names match one of {@code regexes}. */
    public static ParameterSelection exclude(String... regexes) {
        return ALL.andExclude(regexes);
    }

    /** This selection with more include patterns. */
    public ParameterSelection andInclude(String... regexes) {
        return new ParameterSelection(concat(includes, regexes), excludes);
    }

    /** This selection with more exclude patterns. */
    public ParameterSelection andExclude(String... regexes) {
        return new ParameterSelection(includes, concat(excludes, regexes));
    }

    /** Whether a tensor name is selected. */
    public boolean test(String name) {
        boolean in = includes.isEmpty() || includes.stream().anyMatch(p -> p.matcher(name).matches());
        return in && excludes.stream().noneMatch(p -> p.matcher(name).matches());
    }

    /**
     * The selected names, in the given order.
     *
     * @throws IllegalArgumentException if nothing is selected
     */
    public List<String> select(List<String> names, String source) {
        List<String> out = names.stream().filter(this::test).toList();
        if (out.isEmpty()) {
            throw new IllegalArgumentException("parameter selection " + this + " matches none of the "
                    + names.size() + " tensors of " + source);
        }
        return out;
    }

    private static List<Pattern> concat(List<Pattern> list, String[] regexes) {
        Objects.requireNonNull(regexes, "regexes");
        List<Pattern> out = new ArrayList<>(list);
        for (String r : regexes) {
            Objects.requireNonNull(r, "regex");
            try {
                out.add(Pattern.compile(r));
            } catch (PatternSyntaxException e) {
                throw new IllegalArgumentException("invalid tensor name pattern '" + r + "': " + e.getDescription(), e);
            }
        }
        return List.copyOf(out);
    }

    @Override
    public String toString() {
        return "include" + includes + " exclude" + excludes;
    }
}
