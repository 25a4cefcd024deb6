package org.fwmerge;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The line search never accepts a step that raises the loss, not even by float32 rounding. */
class LineSearchTest {

    /** A flat path whose every trial sits 10⁻⁷ above ℓ(0): a predicted decrease below float resolution. */
    private static StepSizeRule.Context noisyPlateau() {
        return new StepSizeRule.Context() {
            @Override
            public int iteration() {
                return 5;
            }

            @Override
            public double loss() {
                return 1.0;
            }

            @Override
            public double gap() {
                return 1e-9;
            }

            @Override
            public double slope() {
                return -1e-9;
            }

            @Override
            public double lossAt(double gamma) {
                return gamma == 0 ? 1.0 : 1.0 + 1e-7;
            }
        };
    }

    @Test
    void lineSearch_everyTrialAboveTheStart_returnsZero() {
        assertEquals(0.0, StepSizeRule.lineSearch().stepSize(noisyPlateau()));
        assertEquals(0.0, StepSizeRule.lineSearch(3).stepSize(noisyPlateau()));
    }
}
