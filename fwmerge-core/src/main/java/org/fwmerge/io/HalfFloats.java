package org.fwmerge.io;

/**
 * Conversions between float32 and the 16-bit formats bfloat16 and IEEE 754 binary16 (half), as the
 * raw 16-bit patterns stored in safetensors files.
 *
 * <p>Narrowing rounds to nearest, ties to even; values beyond the target's range become ±Infinity;
 * a NaN stays a (quiet) NaN with its sign. Widening is exact. Java 17 has no
 * {@code Float.floatToFloat16}, hence this class.
 */
public final class HalfFloats {

    /** Bits of 65520f: half-way between the largest half (65504) and 65536; ties to even round up to Inf. */
    private static final int HALF_OVERFLOW = 0x477FF000;
    /** Bits of 2^-14, the smallest normal half. */
    private static final int HALF_MIN_NORMAL = 0x38800000;
    /** Bits of 2^-25: half the smallest subnormal half; this and below round to zero. */
    private static final int HALF_UNDERFLOW = 0x33000000;

    private HalfFloats() {
    }

    /** The bfloat16 nearest to {@code f} (ties to even), as its bit pattern. */
    public static short floatToBFloat16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7FFFFFFF) > 0x7F800000) {
            // NaN first: rounding could carry a NaN's payload into the exponent and make it Inf; set the quiet bit.
            return (short) ((bits >>> 16) | 0x0040);
        }
        return (short) ((bits + ((bits >>> 16) & 1) + 0x7FFF) >>> 16);
    }

    /** The float32 value of a bfloat16 bit pattern (exact). */
    public static float bfloat16ToFloat(short bf16) {
        return Float.intBitsToFloat((bf16 & 0xFFFF) << 16);
    }

    /** The IEEE half nearest to {@code f} (ties to even; overflow to ±Inf), as its bit pattern. */
    public static short floatToHalf(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int abs = bits & 0x7FFFFFFF;
        if (abs > 0x7F800000) {
            // Keep the top payload bits and force the quiet bit so the result is never Inf.
            return (short) (sign | 0x7E00 | ((abs >>> 13) & 0x3FF));
        }
        if (abs >= HALF_OVERFLOW) {
            return (short) (sign | 0x7C00);
        }
        if (abs >= HALF_MIN_NORMAL) {
            // Rebias the exponent (127 → 15) and drop 13 mantissa bits; a carry correctly bumps the exponent.
            int h = (abs - 0x38000000) >>> 13;
            int rem = abs & 0x1FFF;
            if (rem > 0x1000 || (rem == 0x1000 && (h & 1) != 0)) {
                h++;
            }
            return (short) (sign | h);
        }
        if (abs <= HALF_UNDERFLOW) {
            return (short) sign;
        }
        // Subnormal half: value = m · 2^(E−150) and the half unit is 2^−24, so shift m right by 126 − E.
        int e = abs >>> 23;
        int m = (abs & 0x7FFFFF) | 0x800000;
        int shift = 126 - e;
        int h = m >>> shift;
        int rem = m & ((1 << shift) - 1);
        int halfway = 1 << (shift - 1);
        if (rem > halfway || (rem == halfway && (h & 1) != 0)) {
            h++;
        }
        return (short) (sign | h);
    }

    /** The float32 value of a half bit pattern (exact). */
    public static float halfToFloat(short half) {
        int h = half & 0xFFFF;
        int sign = (h & 0x8000) << 16;
        int e = (h >>> 10) & 0x1F;
        int m = h & 0x3FF;
        if (e == 0) {
            float v = m * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        if (e == 31) {
            return Float.intBitsToFloat(sign | 0x7F800000 | (m << 13));
        }
        return Float.intBitsToFloat(sign | ((e + 112) << 23) | (m << 13));
    }

    /** Every half value as a float32 (256 KiB), built on first use: widening by lookup instead of branches. */
    static final class HalfTable {
        static final float[] VALUES = new float[1 << 16];

        static {
            for (int h = 0; h < VALUES.length; h++) {
                VALUES[h] = halfToFloat((short) h);
            }
        }

        private HalfTable() {
        }
    }
}
