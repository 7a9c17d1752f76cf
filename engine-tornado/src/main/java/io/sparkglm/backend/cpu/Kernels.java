package io.sparkglm.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The element-wise and attention kernels of the forward pass (the matrix products live in the tensor
 * package). Numerics follow llama.cpp's CPU ops where it matters for matching its logits: RMSNorm sums
 * squares in double, softmax sums exponentials in double.
 */
final class Kernels {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** As many bytes as {@link #F} has lanes: one byte vector widens to one float vector. */
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(F.length() * 8));
    private static final ValueLayout.OfShort FP16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Q8_0: values per block, bytes per block (fp16 scale, then 32 int8). */
    static final int QK = 32, Q_BLOCK_BYTES = 34;

    private Kernels() {}

    /** out = x * rsqrt(mean(x^2) + eps) * w, for one row of n floats. */
    static void rmsNorm(float[] x, int xOff, float[] w, float eps, float[] out, int outOff, int n) {
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float v = x[xOff + i];
            sum += v * v;
        }
        float mean = (float) (sum / n);
        float scale = 1.0f / (float) Math.sqrt(mean + eps);
        for (int i = 0; i < n; i++) {
            out[outOff + i] = (x[xOff + i] * scale) * w[i];
        }
    }

    /** Rotates adjacent pairs (2i, 2i+1) of the first ropeDims dims of one head by the given angles. */
    static void rope(float[] x, int off, float[] cos, float[] sin, int angleOff, int ropeDims) {
        for (int i = 0; i < ropeDims / 2; i++) {
            float c = cos[angleOff + i], s = sin[angleOff + i];
            float x0 = x[off + 2 * i], x1 = x[off + 2 * i + 1];
            x[off + 2 * i] = x0 * c - x1 * s;
            x[off + 2 * i + 1] = x0 * s + x1 * c;
        }
    }

    static float silu(float x) {
        return (float) (x / (1.0 + Math.exp(-x)));
    }

    // ---- Q8_0 rows (KV cache): blocks of an fp16 scale d and 32 int8 q, value = q * d ----

    /**
     * Quantizes {@code n} floats (a multiple of 32) into Q8_0 blocks at {@code at}: ggml's quantize_row_q8_0 as it
     * runs on x86 (the arithmetic {@link io.sparkglm.tensor.Activations} uses for Q8_0 activations), per block
     * {@code d = amax/127} stored as fp16, {@code q = rint(x * 127/amax)} (ties to even; 0 when amax is 0).
     */
    static void quantizeQ8_0(float[] x, int off, int n, MemorySegment seg, long at) {
        for (int b = 0; b < n / QK; b++) {
            int from = off + b * QK;
            long blk = at + (long) b * Q_BLOCK_BYTES;
            float amax = 0f;
            for (int i = 0; i < QK; i++) amax = Math.max(amax, Math.abs(x[from + i]));
            float d = amax / 127f;
            float id = amax != 0f ? 127f / amax : 0f;
            seg.set(FP16, blk, Float.floatToFloat16(d));
            for (int i = 0; i < QK; i++) seg.set(ValueLayout.JAVA_BYTE, blk + 2 + i, (byte) Math.rint(x[from + i] * id));
        }
    }

    private static float scale(MemorySegment seg, long blk) {
        return Float.float16ToFloat(seg.get(FP16, blk));
    }

    /** {@link #F}'s lane count of int8 at {@code offset}, widened to floats (exact). */
    private static FloatVector bytes(MemorySegment seg, long offset) {
        return (FloatVector) ByteVector.fromMemorySegment(B, seg, offset, ByteOrder.LITTLE_ENDIAN)
                .convertShape(VectorOperators.B2F, F, 0);
    }

    /** Whether dims {@code [dimOff, dimOff + len)} are whole blocks (always for head dims that are multiples of 32). */
    private static boolean wholeBlocks(int dimOff, int len) {
        return dimOff % QK == 0 && len % QK == 0 && QK % F.length() == 0;
    }

    /** The value of dim {@code i} of the Q8_0 row at {@code row}: q * d, exact in float (8 x 11 mantissa bits). */
    private static float valueQ8_0(MemorySegment seg, long row, int i) {
        long blk = row + (long) (i / QK) * Q_BLOCK_BYTES;
        return seg.get(ValueLayout.JAVA_BYTE, blk + 2 + i % QK) * scale(seg, blk);
    }

    /** dst[dstOff + i] = row[dimOff + i] of a Q8_0 row, exactly (q * d). */
    static void dequantizeQ8_0(MemorySegment seg, long row, int dimOff, float[] dst, int dstOff, int len) {
        if (!wholeBlocks(dimOff, len)) {
            for (int i = 0; i < len; i++) dst[dstOff + i] = valueQ8_0(seg, row, dimOff + i);
            return;
        }
        int lanes = F.length();
        for (int b = 0; b < len / QK; b++) {
            long blk = row + (long) (dimOff / QK + b) * Q_BLOCK_BYTES;
            float d = scale(seg, blk);
            for (int c = 0; c < QK; c += lanes) bytes(seg, blk + 2 + c).mul(d).intoArray(dst, dstOff + b * QK + c);
        }
    }
}
