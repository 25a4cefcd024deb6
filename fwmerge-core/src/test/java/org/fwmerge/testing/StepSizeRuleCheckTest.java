package org.fwmerge.testing;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.fwmerge.StepSizeRule;
import org.junit.jupiter.api.Test;

/** The step-rule check passes the built-in rules and rejects steps outside [0, 1] and loss-raising searches. */
class StepSizeRuleCheckTest {

    @Test
    void verify_builtInRules_pass() {
        StepSizeRuleCheck.verify(StepSizeRule.lineSearch());
        StepSizeRuleCheck.verify(StepSizeRule.lineSearch(3));
        StepSizeRuleCheck.verify(StepSizeRule.harmonic());
        StepSizeRuleCheck.verify(StepSizeRule.harmonic(0.03));
        StepSizeRuleCheck.verify(StepSizeRule.constant(0.5));
    }

    @Test
    void verify_stepAboveOne_failsNamingTheContext() {
        StepSizeRule big = c -> 2.0 / (c.iteration() + 1);
        AssertionError e = assertThrows(AssertionError.class, () -> StepSizeRuleCheck.verify(big));
        assertTrue(e.getMessage().contains("returned γ = 2.0 (iteration 0"), e.getMessage());
        assertTrue(e.getMessage().contains("a step must be finite and in [0, 1]"), e.getMessage());
    }

    @Test
    void verify_nanStep_fails() {
        StepSizeRule nan = c -> -c.gap() / c.slope(); // 0/0 when the slope is 0, NaN when unknown
        AssertionError e = assertThrows(AssertionError.class, () -> StepSizeRuleCheck.verify(nan));
        assertTrue(e.getMessage().contains("returned γ = NaN"), e.getMessage());
    }

    @Test
    void verify_searchThatAcceptsAWorseStep_fails() {
        // evaluates the loss but takes the full step whatever it finds
        StepSizeRule greedy = c -> {
            c.lossAt(1.0);
            return 1.0;
        };
        AssertionError e = assertThrows(AssertionError.class, () -> StepSizeRuleCheck.verify(greedy));
        assertTrue(e.getMessage().contains("a line search must never increase the loss"), e.getMessage());
    }
}
