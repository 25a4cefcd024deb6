package org.fwmerge.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The rounding vectors of docs/safetensors.md and exhaustive round trips of every 16-bit pattern. */
class HalfFloatsTest {

    private static short bf16(int floatBits) {
        return HalfFloats.floatToBFloat16(Float.intBitsToFloat(floatBits));
    }

    @Test
    void floatToBFloat16_documentedVectors() {
        assertEquals((short) 0x3F80, bf16(0x3F808000)); // tie, even below
        assertEquals((short) 0x3F82, bf16(0x3F818000)); // tie, odd → up
        assertEquals((short) 0x3F81, bf16(0x3F808001)); // above half → up
        assertEquals((short) 0x7F80, bf16(0x7F7FFFFF)); // overflow → Inf
        short nan = bf16(0x7F800001); // payload in the low bits only: naive rounding would give Inf
        assertTrue(Float.isNaN(HalfFloats.bfloat16ToFloat(nan)), Integer.toHexString(nan));
        assertEquals((short) 0xFF80, bf16(0xFF7FFFFF));
    }

    @Test
    void floatToHalf_documentedVectors() {
        assertEquals((short) 0x7BFF, HalfFloats.floatToHalf(65504f));
        assertEquals((short) 0x0001, HalfFloats.floatToHalf(0x1p-24f));
        assertEquals((short) 0x0000, HalfFloats.floatToHalf(0x1p-25f)); // tie between 0 and 2^-24 → even (0)
        assertEquals((short) 0x0001, HalfFloats.floatToHalf(Math.nextUp(0x1p-25f)));
        assertEquals((short) 0x7C00, HalfFloats.floatToHalf(65520f)); // tie between 65504 (odd) and Inf → Inf
        assertEquals((short) 0x7BFF, HalfFloats.floatToHalf(Math.nextDown(65520f)));
        assertEquals((short) 0xFC00, HalfFloats.floatToHalf(-1e30f));
        assertEquals((short) 0x8000, HalfFloats.floatToHalf(-0f));
        assertEquals((short) 0x3C00, HalfFloats.floatToHalf(1f));
        assertEquals((short) 0x3C00, HalfFloats.floatToHalf(1f + 0x1p-11f)); // tie, even below
        assertEquals((short) 0x3C02, HalfFloats.floatToHalf(1f + 3 * 0x1p-11f)); // tie, odd → up
        assertEquals((short) 0x0400, HalfFloats.floatToHalf(Math.nextDown(0x1p-14f))); // subnormal rounds up to min normal
        assertTrue(Float.isNaN(HalfFloats.halfToFloat(HalfFloats.floatToHalf(Float.intBitsToFloat(0x7F800001)))));
    }

    @Test
    void halfToFloat_everyPatternRoundTripsAndMatchesDefinition() {
        for (int h = 0; h < 0x10000; h++) {
            float f = HalfFloats.halfToFloat((short) h);
            int e = (h >>> 10) & 0x1F;
            int m = h & 0x3FF;
            double expected = e == 0 ? m * Math.pow(2, -24) : e == 31 ? (m == 0 ? Double.POSITIVE_INFINITY : Double.NaN)
                    : (1 + m / 1024.0) * Math.pow(2, e - 15);
            expected = (h & 0x8000) != 0 ? -expected : expected;
            if (Double.isNaN(expected)) {
                assertTrue(Float.isNaN(f));
                assertTrue(Float.isNaN(HalfFloats.halfToFloat(HalfFloats.floatToHalf(f))));
            } else {
                assertEquals(expected, f, 0.0, Integer.toHexString(h));
                assertEquals((short) h, HalfFloats.floatToHalf(f), Integer.toHexString(h));
            }
        }
    }

    @Test
    void floatToHalf_matchesDoublePrecisionNearest() {
        // Independent oracle: the nearest representable half computed in double from the decoded table.
        java.util.Random r = new java.util.Random(7);
        for (int i = 0; i < 200_000; i++) {
            float f = Float.intBitsToFloat(r.nextInt());
            if (Float.isNaN(f) || Math.abs(f) > 70000) {
                continue;
            }
            short h = HalfFloats.floatToHalf(f);
            double got = HalfFloats.halfToFloat(h);
            double err = Math.abs(got - f);
            double ulpBelow = Math.abs(HalfFloats.halfToFloat((short) (h - 1)) - (double) f);
            double ulpAbove = Math.abs(HalfFloats.halfToFloat((short) (h + 1)) - (double) f);
            if ((h & 0x7FFF) != 0x7C00 && (h & 0x7FFF) != 0) {
                assertTrue(err <= ulpBelow && err <= ulpAbove, f + " → " + Integer.toHexString(h));
            }
        }
    }

    @Test
    void bfloat16_everyPatternRoundTrips() {
        for (int b = 0; b < 0x10000; b++) {
            float f = HalfFloats.bfloat16ToFloat((short) b);
            assertEquals(Float.intBitsToFloat(b << 16), f, 0f);
            if (Float.isNaN(f)) {
                assertTrue(Float.isNaN(HalfFloats.bfloat16ToFloat(HalfFloats.floatToBFloat16(f))));
            } else {
                assertEquals((short) b, HalfFloats.floatToBFloat16(f));
            }
        }
    }
}
