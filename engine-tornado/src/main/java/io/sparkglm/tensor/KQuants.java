package io.sparkglm.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** The packed 6-bit scales and mins of Q4_K and Q5_K superblocks (ggml's get_scale_min_k4). */
final class KQuants {

    private KQuants() {}

    static final int SUPER = 256;

    private static int u8(MemorySegment s, long at) {
        return s.get(ValueLayout.JAVA_BYTE, at) & 0xff;
    }

    /** Scale {@code j} (0..7) of the 12 scale bytes at {@code scales}. */
    static int scale(MemorySegment s, long scales, int j) {
        return j < 4 ? u8(s, scales + j) & 63
                : (u8(s, scales + j + 4) & 0x0f) | ((u8(s, scales + j - 4) >> 6) << 4);
    }

    /** Min {@code j} (0..7) of the 12 scale bytes at {@code scales}. */
    static int min(MemorySegment s, long scales, int j) {
        return j < 4 ? u8(s, scales + j + 4) & 63
                : (u8(s, scales + j + 4) >> 4) | ((u8(s, scales + j) >> 6) << 4);
    }
}
