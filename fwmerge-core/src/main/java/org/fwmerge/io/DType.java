package org.fwmerge.io;

import java.util.Optional;

/**
 * The safetensors element types, with their case-sensitive names as they appear in a header.
 * Only {@link #isMergeable() floating types F32, F64, F16 and BF16} are read for merging
 * (converted to float32); the others can be listed but not merged.
 */
public enum DType {
    BOOL(8), U8(8), I8(8), F8_E5M2(8), F8_E4M3(8), I16(16), U16(16), F16(16), BF16(16),
    I32(32), U32(32), F32(32), F64(64), I64(64), U64(64),
    /** 4-bit float (sub-byte: only whole bytes are valid). */
    F4(4),
    /** 6-bit floats (sub-byte: only whole bytes are valid). */
    F6_E2M3(6), F6_E3M2(6),
    /** 8-bit exponent-only scale type. */
    E8M0(8), F8_E8M0(8);

    private final int bits;

    DType(int bits) {
        this.bits = bits;
    }

    /** Size of one element in bits. */
    public int bits() {
        return bits;
    }

    /** Whether tensors of this type can be merged (converted to float32 for compute). */
    public boolean isMergeable() {
        return this == F32 || this == F64 || this == F16 || this == BF16;
    }

    /** The dtype with this exact (case-sensitive) header name, if any. */
    public static Optional<DType> fromHeaderName(String name) {
        for (DType d : values()) {
            if (d.name().equals(name)) {
                return Optional.of(d);
            }
        }
        return Optional.empty();
    }
}
