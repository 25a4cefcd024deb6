package org.fwmerge.examples.demo;

import java.util.List;
import org.fwmerge.baseline.AdaMerging;
import org.fwmerge.baseline.Dare;
import org.fwmerge.baseline.TaskArithmetic;
import org.fwmerge.baseline.Ties;
import org.fwmerge.baseline.WeightAveraging;

/**
 * The baselines of the comparison with their library defaults (FusionBench's), except AdaMerging's
 * step count and learning rate: 100 Adam steps at lr 0.01 instead of 1000 at 1e-3, to fit the demo's
 * time budget (the same total coefficient movement).
 */
final class Baselines {
    /** AdaMerging steps in the demo. */
    static final int ADAMERGING_STEPS = 100;
    /** AdaMerging learning rate in the demo. */
    static final double ADAMERGING_LR = 0.01;

    private Baselines() {
    }

    static List<Demo.Method> methods() {
        return List.of(
                new Demo.Method("Weight averaging", true, c -> WeightAveraging.builder().backend(c.backend()).build()),
                new Demo.Method("Task arithmetic", true, c -> TaskArithmetic.builder().backend(c.backend()).build()),
                new Demo.Method("TIES", true, c -> Ties.builder().backend(c.backend()).build()),
                new Demo.Method("DARE (TA)", true, c -> Dare.builder().backend(c.backend()).build()),
                new Demo.Method("AdaMerging", false, c -> AdaMerging.builder().objective(c.unlabelled())
                        .steps(ADAMERGING_STEPS).learningRate(ADAMERGING_LR).backend(c.backend()).build()));
    }
}
