package io.sparkglm.model;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Conversions between float32 and the storage formats, bit-exact with ggml's reference code:
 * fp16 and bf16 round to nearest even ({@code ggml_compute_fp32_to_bf16}), Q8_0 follows
 * {@code quantize_row_q8_0_ref} (d = amax/127 stored as fp16, q = roundf(x * (1/d))), Q5_0 and Q5_1
 * {@code quantize_row_q5_0_ref} and {@code quantize_row_q5_1_ref}, and every decoder its {@code dequantize_row_*}.
 * Used to write test and demo models and to dequantize a GGUF into safetensors; not a hot path.
 */
public final class Quantization {

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Quantization() {}

    /** {@code values} stored as {@code type}, little-endian. */
    public static byte[] encode(GgmlType type, float[] values) {
        MemorySegment out = MemorySegment.ofArray(new byte[Math.toIntExact(type.byteSize(values.length))]);
        switch (type) {
            case F32 -> { for (int i = 0; i < values.length; i++) out.setAtIndex(F32, i, values[i]); }
            case F16 -> { for (int i = 0; i < values.length; i++) out.setAtIndex(I16, i, Float.floatToFloat16(values[i])); }
            case BF16 -> { for (int i = 0; i < values.length; i++) out.setAtIndex(I16, i, toBf16(values[i])); }
            case Q8_0 -> quantizeQ8_0(values, out);
            case Q5_0 -> quantizeQ5_0(values, out);
            case Q5_1 -> quantizeQ5_1(values, out);
            default -> throw new IllegalArgumentException("cannot encode " + type + " (supported: F32, F16, BF16, Q8_0, Q5_0, Q5_1)");
        }
        return (byte[]) out.heapBase().orElseThrow();
    }

    /** ggml_compute_fp32_to_bf16: round to nearest even, NaN kept quiet. */
    public static short toBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) return (short) ((bits >>> 16) | 64);
        return (short) ((bits + (0x7fff + ((bits >>> 16) & 1))) >>> 16);
    }

    public static float fromBf16(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    private static void quantizeQ8_0(float[] x, MemorySegment out) {
        for (int block = 0; block < x.length / 32; block++) {
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[block * 32 + j]));
            float d = amax / 127;
            float id = d != 0 ? 1.0f / d : 0.0f;
            long at = block * 34L;
            out.set(I16, at, Float.floatToFloat16(d));
            for (int j = 0; j < 32; j++) {
                float scaled = x[block * 32 + j] * id;
                out.set(ValueLayout.JAVA_BYTE, at + 2 + j, (byte) roundHalfAwayFromZero(scaled));
            }
        }
    }

    /**
     * quantize_row_q5_0_ref: d = max / -16 from the signed value of largest magnitude (the first, on ties), stored as
     * fp16; q = min(31, (int) (x / d + 16.5)), truncated; nibbles as Q4_0's, fifth bits in a little-endian uint32.
     */
    private static void quantizeQ5_0(float[] x, MemorySegment out) {
        for (int block = 0; block < x.length / 32; block++) {
            float amax = 0, max = 0;
            for (int j = 0; j < 32; j++) {
                float v = x[block * 32 + j];
                if (amax < Math.abs(v)) {
                    amax = Math.abs(v);
                    max = v;
                }
            }
            float d = max / -16;
            float id = d != 0 ? 1.0f / d : 0.0f;
            long at = block * 22L;
            out.set(I16, at, Float.floatToFloat16(d));
            int qh = 0;
            for (int j = 0; j < 16; j++) {
                int q0 = Math.min(31, (int) (x[block * 32 + j] * id + 16.5f));
                int q1 = Math.min(31, (int) (x[block * 32 + 16 + j] * id + 16.5f));
                out.set(ValueLayout.JAVA_BYTE, at + 6 + j, (byte) ((q0 & 0x0f) | (q1 & 0x0f) << 4));
                qh |= (q0 >> 4) << j | (q1 >> 4) << (j + 16);
            }
            out.set(I32, at + 2, qh);
        }
    }

    /**
     * quantize_row_q5_1_ref: d = (max - min) / 31 and m = min, both stored as fp16; q = (int) ((x - min) / d + 0.5),
     * truncated (computed with the float d and min, as ggml does, not their fp16 roundings).
     */
    private static void quantizeQ5_1(float[] x, MemorySegment out) {
        for (int block = 0; block < x.length / 32; block++) {
            float min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
            for (int j = 0; j < 32; j++) {
                float v = x[block * 32 + j];
                if (v < min) min = v;
                if (v > max) max = v;
            }
            float d = (max - min) / 31;
            float id = d != 0 ? 1.0f / d : 0.0f;
            long at = block * 24L;
            out.set(I16, at, Float.floatToFloat16(d));
            out.set(I16, at + 2, Float.floatToFloat16(min));
            int qh = 0;
            for (int j = 0; j < 16; j++) {
                int q0 = (int) ((x[block * 32 + j] - min) * id + 0.5f) & 0xff;
                int q1 = (int) ((x[block * 32 + 16 + j] - min) * id + 0.5f) & 0xff;
                out.set(ValueLayout.JAVA_BYTE, at + 8 + j, (byte) ((q0 & 0x0f) | (q1 & 0x0f) << 4));
                qh |= ((q0 & 0x10) >> 4) << j | ((q1 & 0x10) >> 4) << (j + 16);
            }
            out.set(I32, at + 4, qh);
        }
    }

    /** C's roundf. */
    static int roundHalfAwayFromZero(float v) {
        return (int) Math.copySign(Math.floor(Math.abs((double) v) + 0.5), v);
    }

    /** Whether {@link #dequantize} can decode this type. */
    public static boolean canDequantize(GgmlType type) {
        return switch (type) {
            case F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q5_1 -> true;
            default -> false;
        };
    }

    /** Decodes {@code count} values starting at value {@code first} (a whole number of blocks) to float32. */
    public static float[] dequantize(GgmlType type, MemorySegment data, long first, int count) {
        float[] out = new float[count];
        switch (type) {
            case F32 -> { for (int i = 0; i < count; i++) out[i] = data.getAtIndex(F32, first + i); }
            case F16 -> { for (int i = 0; i < count; i++) out[i] = Float.float16ToFloat(data.getAtIndex(I16, first + i)); }
            case BF16 -> { for (int i = 0; i < count; i++) out[i] = fromBf16(data.getAtIndex(I16, first + i)); }
            case Q8_0 -> {
                requireBlocks(type, first, count);
                for (int b = 0; b < count / 32; b++) {
                    long at = (first / 32 + b) * 34;
                    float d = Float.float16ToFloat(data.get(I16, at));
                    for (int j = 0; j < 32; j++) out[b * 32 + j] = d * data.get(ValueLayout.JAVA_BYTE, at + 2 + j);
                }
            }
            case Q4_0 -> {
                // 16 bytes of nibbles: low nibbles are values 0..15, high nibbles 16..31, each minus 8
                requireBlocks(type, first, count);
                for (int b = 0; b < count / 32; b++) {
                    long at = (first / 32 + b) * 18;
                    float d = Float.float16ToFloat(data.get(I16, at));
                    for (int j = 0; j < 16; j++) {
                        int q = data.get(ValueLayout.JAVA_BYTE, at + 2 + j) & 0xff;
                        out[b * 32 + j] = d * ((q & 0x0f) - 8);
                        out[b * 32 + j + 16] = d * ((q >>> 4) - 8);
                    }
                }
            }
            case Q5_0, Q5_1 -> {
                // dequantize_row_q5_0 / _q5_1: Q4_0's nibbles, each with its fifth bit (bit j of the uint32 qh for
                // value j) above it; Q5_0 value = (q - 16) * d, Q5_1 value = q * d + m (two roundings, no FMA)
                requireBlocks(type, first, count);
                boolean offset = type == GgmlType.Q5_0;
                int bytes = type.blockBytes(), qs = offset ? 6 : 8;
                for (int b = 0; b < count / 32; b++) {
                    long at = (first / 32 + b) * bytes;
                    float d = Float.float16ToFloat(data.get(I16, at));
                    float m = offset ? 0f : Float.float16ToFloat(data.get(I16, at + 2));
                    int qh = data.get(I32, at + qs - 4);
                    for (int j = 0; j < 16; j++) {
                        int q = data.get(ValueLayout.JAVA_BYTE, at + qs + j) & 0xff;
                        int q0 = (q & 0x0f) | ((qh >>> j) & 1) << 4, q1 = (q >>> 4) | ((qh >>> (j + 16)) & 1) << 4;
                        out[b * 32 + j] = offset ? (q0 - 16) * d : q0 * d + m;
                        out[b * 32 + j + 16] = offset ? (q1 - 16) * d : q1 * d + m;
                    }
                }
            }
            default -> throw new IllegalArgumentException("dequantizing " + type
                    + " is not implemented (F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q5_1 are)");
        }
        return out;
    }

    private static void requireBlocks(GgmlType type, long first, int count) {
        if (first % type.blockSize() != 0 || count % type.blockSize() != 0) {
            throw new IllegalArgumentException(type + " decodes whole blocks of " + type.blockSize());
        }
    }
}
