package org.fwmerge.internal;

import java.util.HashSet;
import java.util.Set;

/**
 * The builders' one rule for settings: each setter may be called once per builder; a second call is
 * an {@link IllegalStateException} naming the setting and the value it already holds. A builder made by
 * {@code toBuilder()} starts from a merger's values with no setter called yet. Conflicting settings are
 * refused when the second of them is set; {@link #called} tells a value set on this builder from one
 * copied from a merger.
 */
public final class Settings {
    private final Set<String> called = new HashSet<>();

    /** Whether the setter {@code name} was called on this builder. */
    public boolean called(String name) {
        return called.contains(name);
    }

    /** Records a call of the setter {@code name}, whose setting holds {@code current} before it. */
    public void once(String name, Object current) {
        if (!called.add(name)) {
            throw new IllegalStateException(name + " was already set to " + current);
        }
    }
}
