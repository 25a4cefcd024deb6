package org.fwmerge.internal;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The builders' rule for settings: each may be set once ({@link IllegalStateException} naming it
 * otherwise), and one copied from a built merger by {@code toBuilder()} may be replaced, once.
 */
public final class Settings {
    private final Set<String> inherited = new HashSet<>();

    /** Checks that the setting {@code name}, now {@code current} (null: unset), may be set. */
    public void once(Object current, String name) {
        if (current != null && !inherited.remove(name)) {
            throw new IllegalStateException(name + " was already set to " + current);
        }
    }

    /** Marks settings as copied from a built merger: each may be replaced once. */
    public void inherit(String... names) {
        inherited.addAll(List.of(names));
    }

    /** Whether a setting holding {@code value} was given on this builder, not only copied by toBuilder(). */
    public boolean explicit(Object value, String name) {
        return value != null && !inherited.contains(name);
    }
}
