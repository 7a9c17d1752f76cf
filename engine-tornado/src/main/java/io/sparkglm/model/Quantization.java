package io.sparkglm.model;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Conversions between float32 and the storage formats, bit-exact with ggml's reference code:
 * fp16 and bf16 round to nearest even ({@code ggml_compute_fp32_to_bf16}), Q8_0 follows
 * {@code quantize_row_q8_0_ref} (d = amax/127 stored as fp16, q = roundf(x * (1/d))).
 * Used to write test and demo models and to dequantize a GGUF into safetensors; not a hot path.
 */
public final class Quantization {

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Quantization() {}

    /** {@code values} stored as {@code type}, little-endian. */
    public static byte[] encode(GgmlType type, float[] values) {
        MemorySegment out = MemorySegment.ofArray(new byte[Math.toIntExact(type.byteSize(values.length))]);
        switch (type) {
            case F32 -> { for (int i = 0; i < values.length; i++) out.setAtIndex(F32, i, values[i]); }
            case F16 -> { for (int i = 0; i < values.length; i++) out.setAtIndex(I16, i, Float.floatToFloat16(values[i])); }
            case BF16 -> { for (int i = 0; i < values.length; i++) out.setAtIndex(I16, i, toBf16(values[i])); }
            case Q8_0 -> quantizeQ8_0(values, out);
            default -> throw new IllegalArgumentException("cannot encode " + type + " (supported: F32, F16, BF16, Q8_0)");
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

    /** C's roundf. */
    static int roundHalfAwayFromZero(float v) {
        return (int) Math.copySign(Math.floor(Math.abs((double) v) + 0.5), v);
    }

    /** Whether {@link #dequantize} can decode this type. */
    public static boolean canDequantize(GgmlType type) {
        return switch (type) {
            case F32, F16, BF16, Q8_0, Q4_0 -> true;
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
            default -> throw new IllegalArgumentException("dequantizing " + type + " is not implemented (F32, F16, BF16, Q8_0, Q4_0 are)");
        }
        return out;
    }

    private static void requireBlocks(GgmlType type, long first, int count) {
        if (first % type.blockSize() != 0 || count % type.blockSize() != 0) {
            throw new IllegalArgumentException(type + " decodes whole blocks of " + type.blockSize());
        }
    }
}
