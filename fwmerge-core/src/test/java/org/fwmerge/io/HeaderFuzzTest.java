package org.fwmerge.io;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Jazzer fuzz test of the header parser. Under plain {@code mvn test} Jazzer runs in regression
 * mode: the seed inputs in {@code HeaderFuzzTestInputs/} (valid fixtures and malformed files) and
 * nothing else, so the run is bounded. {@code JAZZER_FUZZ=1 mvn test -Dtest=HeaderFuzzTest} fuzzes
 * for real (coverage-guided), up to {@code maxExecutions}. Only {@link CheckpointException} may
 * escape the parser; anything else (ArithmeticException, IndexOutOfBounds, NumberFormatException,
 * OutOfMemoryError, StackOverflowError) fails the test.
 */
class HeaderFuzzTest {

    @FuzzTest(maxExecutions = 200_000)
    void parse_arbitraryBytes_onlyCheckpointException(byte[] data) {
        try {
            SafetensorsFile.parse("fuzz", data);
        } catch (CheckpointException expected) {
            // Rejecting malformed input with the typed exception is the contract.
        }
    }
}
