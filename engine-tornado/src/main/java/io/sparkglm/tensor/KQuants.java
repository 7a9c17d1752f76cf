package io.sparkglm.tensor;

import java.lang.foreign.MemorySegment;

import static io.sparkglm.tensor.Simd.I32;

/**
 * The packed 6-bit scales and mins of Q4_K and Q5_K superblocks (ggml's get_scale_min_k4), unpacked all eight at a
 * time into the bytes of a long, as ggml's kernels unpack them with 32-bit masks: a handful of integer operations per
 * superblock, where unpacking one value at a time cost the decode kernel a quarter of its time (KernelBench).
 */
final class KQuants {

    private KQuants() {}

    static final int SUPER = 256;

    private static final int LOW6 = 0x3f3f3f3f, LOW4 = 0x0f0f0f0f, LOW2 = 0x03030303;

    /** Scales 0..7 of the 12 scale bytes at {@code at}, scale j in byte j (bits 8j .. 8j+7) of the result. */
    static long scales(MemorySegment s, long at) {
        int u0 = s.get(I32, at), u2 = s.get(I32, at + 8);
        int high = (u2 & LOW4) | (((u0 >>> 6) & LOW2) << 4);
        return (u0 & LOW6) & 0xffffffffL | (long) high << 32;
    }

    /** Mins 0..7 of the 12 scale bytes at {@code at}, min j in byte j of the result. */
    static long mins(MemorySegment s, long at) {
        int u1 = s.get(I32, at + 4), u2 = s.get(I32, at + 8);
        int high = ((u2 >>> 4) & LOW4) | (((u1 >>> 6) & LOW2) << 4);
        return (u1 & LOW6) & 0xffffffffL | (long) high << 32;
    }

    /** Value {@code j} (0..7) of {@link #scales} or {@link #mins}. */
    static int at(long packed, int j) {
        return (int) (packed >>> (8 * j)) & 0xff;
    }
}
