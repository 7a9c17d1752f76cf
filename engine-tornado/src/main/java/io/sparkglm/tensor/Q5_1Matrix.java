package io.sparkglm.tensor;

import io.sparkglm.model.GgmlType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;

import static io.sparkglm.tensor.Simd.F;
import static io.sparkglm.tensor.Simd.L;

/**
 * Q5_1 weights (blocks of 32 in 24 bytes: fp16 scale d, fp16 min m, 32 fifth bits {@code qh} as a
 * little-endian uint32, 16 bytes of nibbles; value {@code j} = d * q + m with q the low nibble of byte
 * {@code j} and bit {@code j} of qh above it, value {@code j + 16} the high nibble and bit {@code j + 16})
 * against Q8_1 activations, as ggml_vec_dot_q5_1_q8_1: the exact integer block dot {@code sum q * qx}, times
 * {@code dw * dx}, accumulated per lane; plus {@code m * s} per block, with {@code s = fp16(dx * sum qx)} the
 * activations' stored block sum, accumulated in one float ({@code summs}, an FMA each as the compilers contract
 * {@code summs += m * s} when llama.cpp is built for the host) and added after the lane sum. Q5_K_M files store
 * GLM-4's ffn_down (13,696 columns, not whole 256-blocks) in this type.
 */
final class Q5_1Matrix extends WeightMatrix {

    static final int BLOCK = 32;
    static final int BLOCK_BYTES = 24;

    private final MemorySegment data;
    private final long rowBytes;
    private final int blocks;

    Q5_1Matrix(MemorySegment data, int rows, int cols) {
        super(rows, cols);
        this.data = data;
        this.blocks = cols / BLOCK;
        this.rowBytes = (long) blocks * BLOCK_BYTES;
    }

    @Override public GgmlType type() { return GgmlType.Q5_1; }

    @Override public ActivationFormat activationFormat() { return ActivationFormat.Q8_1; }

    @Override
    void matmulChecked(Activations x, float[] out, int outOffset, int outStride, int rowFrom, int rowTo) {
        int n = x.tokens();
        float[] lanes = n >= 4 ? new float[4 * Simd.L] : null;
        for (int r = rowFrom; r < rowTo; r++) {
            long row = r * rowBytes;
            int t = 0;
            for (; t + 4 <= n; t += 4) dot4(row, x, t, out, outOffset + t * outStride + r, outStride, lanes);
            for (; t < n; t++) out[outOffset + t * outStride + r] = dot1(row, x, t);
        }
    }

    /**
     * The prompt kernel's rows: {@code d q} without the minimum. A block's {@code m} multiplies the sum of its
     * activations, which ggml takes from Q8_1's stored fp16 s: folding m into the panel would give it the dense
     * values' sum instead, and their large same-signed products cancel in float (4e-2 on a small model's logits).
     */
    @Override
    void panelRow(int row, float[] dst, int dstOffset) {
        long base = row * rowBytes;
        for (int b = 0; b < blocks; b++) {
            long blk = base + (long) b * BLOCK_BYTES;
            float d = Simd.fp16(data, blk);
            int qh = data.get(Simd.I32, blk + 4);
            for (int j = 0; j < BLOCK / 2; j++) {
                int v = data.get(ValueLayout.JAVA_BYTE, blk + 8 + j) & 0xff;
                dst[dstOffset + b * BLOCK + j] = ((v & 0x0f) | ((qh >>> j) & 1) << 4) * d;
                dst[dstOffset + b * BLOCK + j + 16] = ((v >> 4) | ((qh >>> (j + 16)) & 1) << 4) * d;
            }
        }
    }

    /** {@code sum_b m_b s_b} per row and token, one fma chain over the blocks, as {@link #matmulChecked}'s {@code summs}. */
    @Override
    void panelCorrection(Activations x, float[] out, int outOffset, int outStride, int rowFrom, int rowTo) {
        float[] sums = x.sums, mins = new float[blocks];
        for (int r = rowFrom; r < rowTo; r++) {
            for (int b = 0; b < blocks; b++) mins[b] = min(r, b);
            for (int t = 0; t < x.tokens(); t++) {
                float summs = 0f;
                for (int b = 0; b < blocks; b++) summs = Math.fma(mins[b], sums[t * blocks + b], summs);
                out[outOffset + t * outStride + r] += summs;
            }
        }
    }

    /** Block {@code b}'s min m of row {@code r}. */
    float min(int r, int b) {
        return Simd.fp16(data, r * rowBytes + (long) b * BLOCK_BYTES + 2);
    }

    /** The 5-bit quants {@code j .. j + L} (0..31) from their nibbles: plus 16 where the fifth bit is set. */
    private FloatVector quants(ByteVector nibbles, long qh, int j) {
        return Simd.toFloats(nibbles.blend(nibbles.or((byte) 16), Simd.fifthBits(data, qh, j)));
    }

    private float dot1(long row, Activations x, int t) {
        float[] xq = x.values, xd = x.scales, xs = x.sums;
        int q0 = t * x.stride, d0 = t * blocks;
        FloatVector acc = FloatVector.zero(F);
        float summs = 0f;
        for (int b = 0; b < blocks; b++) {
            long blk = row + (long) b * BLOCK_BYTES, qh = blk + 4;
            float dw = Simd.fp16(data, blk);
            int q = q0 + b * BLOCK;
            FloatVector dot = FloatVector.zero(F);
            for (int k = 0; k < BLOCK / 2; k += L) {
                ByteVector packed = Simd.bytes(data, blk + 8 + k);
                FloatVector lo = quants(Simd.low(packed), qh, k);
                FloatVector hi = quants(Simd.high(packed), qh, 16 + k);
                dot = lo.fma(FloatVector.fromArray(F, xq, q + k), dot);
                dot = hi.fma(FloatVector.fromArray(F, xq, q + 16 + k), dot);
            }
            acc = dot.fma(FloatVector.broadcast(F, dw * xd[d0 + b]), acc);
            summs = Math.fma(Simd.fp16(data, blk + 2), xs[d0 + b], summs);
        }
        return LaneSum.sum(acc) + summs;
    }

    private void dot4(long row, Activations x, int t, float[] out, int o, int outStride, float[] lanes) {
        float[] xq = x.values, xd = x.scales, xs = x.sums;
        int q0 = t * x.stride, q1 = q0 + x.stride, q2 = q1 + x.stride, q3 = q2 + x.stride;
        int d0 = t * blocks, d1 = d0 + blocks, d2 = d1 + blocks, d3 = d2 + blocks;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        float m0 = 0f, m1 = 0f, m2 = 0f, m3 = 0f;
        for (int b = 0; b < blocks; b++) {
            long blk = row + (long) b * BLOCK_BYTES, qh = blk + 4;
            float dw = Simd.fp16(data, blk), mw = Simd.fp16(data, blk + 2);
            int c = b * BLOCK;
            FloatVector p0 = FloatVector.zero(F), p1 = p0, p2 = p0, p3 = p0;
            for (int k = 0; k < BLOCK / 2; k += L) {
                ByteVector packed = Simd.bytes(data, blk + 8 + k);
                FloatVector lo = quants(Simd.low(packed), qh, k);
                FloatVector hi = quants(Simd.high(packed), qh, 16 + k);
                int lk = c + k, hk = c + 16 + k;
                p0 = hi.fma(FloatVector.fromArray(F, xq, q0 + hk), lo.fma(FloatVector.fromArray(F, xq, q0 + lk), p0));
                p1 = hi.fma(FloatVector.fromArray(F, xq, q1 + hk), lo.fma(FloatVector.fromArray(F, xq, q1 + lk), p1));
                p2 = hi.fma(FloatVector.fromArray(F, xq, q2 + hk), lo.fma(FloatVector.fromArray(F, xq, q2 + lk), p2));
                p3 = hi.fma(FloatVector.fromArray(F, xq, q3 + hk), lo.fma(FloatVector.fromArray(F, xq, q3 + lk), p3));
            }
            a0 = p0.fma(FloatVector.broadcast(F, dw * xd[d0 + b]), a0);
            a1 = p1.fma(FloatVector.broadcast(F, dw * xd[d1 + b]), a1);
            a2 = p2.fma(FloatVector.broadcast(F, dw * xd[d2 + b]), a2);
            a3 = p3.fma(FloatVector.broadcast(F, dw * xd[d3 + b]), a3);
            m0 = Math.fma(mw, xs[d0 + b], m0);
            m1 = Math.fma(mw, xs[d1 + b], m1);
            m2 = Math.fma(mw, xs[d2 + b], m2);
            m3 = Math.fma(mw, xs[d3 + b], m3);
        }
        a0.intoArray(lanes, 0);
        out[o] = LaneSum.sum(lanes, 0) + m0;
        a1.intoArray(lanes, Simd.L);
        out[o + outStride] = LaneSum.sum(lanes, Simd.L) + m1;
        a2.intoArray(lanes, 2 * Simd.L);
        out[o + 2 * outStride] = LaneSum.sum(lanes, 2 * Simd.L) + m2;
        a3.intoArray(lanes, 3 * Simd.L);
        out[o + 3 * outStride] = LaneSum.sum(lanes, 3 * Simd.L) + m3;
    }

    /** As dequantize_row_q5_1: {@code (nibble | fifth bit << 4) * d + m}, a product and a sum each rounded. */
    @Override
    void dequantizeRowChecked(int row, float[] dst, int dstOffset) {
        long base = row * rowBytes;
        for (int b = 0; b < blocks; b++) {
            long blk = base + (long) b * BLOCK_BYTES;
            float d = Simd.fp16(data, blk), m = Simd.fp16(data, blk + 2);
            int qh = data.get(Simd.I32, blk + 4);
            for (int j = 0; j < BLOCK / 2; j++) {
                int v = data.get(ValueLayout.JAVA_BYTE, blk + 8 + j) & 0xff;
                dst[dstOffset + b * BLOCK + j] = ((v & 0x0f) | ((qh >>> j) & 1) << 4) * d + m;
                dst[dstOffset + b * BLOCK + j + 16] = ((v >> 4) | ((qh >>> (j + 16)) & 1) << 4) * d + m;
            }
        }
    }
}
