package io.sparkglm.tensor;

import io.sparkglm.model.GgmlType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import static io.sparkglm.tensor.Simd.F;
import static io.sparkglm.tensor.Simd.L;

/**
 * Q6_K weights (superblocks of 256 in 210 bytes: 128 bytes of low nibbles, 64 bytes of 2-bit highs,
 * 16 int8 scales (one per 16 values), fp16 d; value = d * scale * (q - 32)) against Q8_K activations, as
 * ggml_vec_dot_q6_K_q8_K: {@code d_x * d * sum_g scale_g * ((q - 32) . q8)} in exact integers. Each
 * weight vector is multiplied by its int8 scale first (|scale * (q - 32)| <= 4096, still exact).
 */
final class Q6_KMatrix extends WeightMatrix {

    static final int BLOCK_BYTES = 210;

    private final MemorySegment data;
    private final long rowBytes;
    private final int blocks;

    Q6_KMatrix(MemorySegment data, int rows, int cols) {
        super(rows, cols);
        this.data = data;
        this.blocks = cols / KQuants.SUPER;
        this.rowBytes = (long) blocks * BLOCK_BYTES;
    }

    @Override public GgmlType type() { return GgmlType.Q6_K; }

    @Override public ActivationFormat activationFormat() { return ActivationFormat.Q8_K; }

    @Override
    void matmulChecked(Activations x, float[] out, int outOffset, int outStride, int rowFrom, int rowTo) {
        int n = x.tokens();
        for (int r = rowFrom; r < rowTo; r++) {
            long row = r * rowBytes;
            int t = 0;
            for (; t + 4 <= n; t += 4) dot4(row, x, t, out, outOffset + t * outStride + r, outStride);
            for (; t < n; t++) out[outOffset + t * outStride + r] = dot1(row, x, t);
        }
    }

    private float scale(long blk, int group) {
        return data.get(ValueLayout.JAVA_BYTE, blk + 192 + group);
    }

    /** The 6-bit quant minus 32 from a nibble vector and two high bits at {@code shift} of {@code highs}. */
    private static FloatVector quant(ByteVector nibbles, ByteVector highs, int shift, float scale) {
        ByteVector q = nibbles.or(highs.lanewise(VectorOperators.LSHR, shift).and((byte) 3).lanewise(VectorOperators.LSHL, 4));
        return Simd.toFloats(q.sub((byte) 32)).mul(scale);
    }

    private float dot1(long row, Activations x, int t) {
        float[] xq = x.values, xd = x.scales;
        int q0 = t * x.stride, d0 = t * blocks;
        FloatVector acc = FloatVector.zero(F);
        for (int sb = 0; sb < blocks; sb++) {
            long blk = row + (long) sb * BLOCK_BYTES;
            int c = q0 + sb * KQuants.SUPER;
            FloatVector sum = FloatVector.zero(F);
            for (int half = 0; half < 2; half++) {
                long ql = blk + 64 * half, qh = blk + 128 + 32 * half;
                int g = 8 * half, e = c + 128 * half;
                for (int k = 0; k < 32; k += L) {
                    ByteVector ql0 = Simd.bytes(data, ql + k), ql1 = Simd.bytes(data, ql + 32 + k);
                    ByteVector highs = Simd.bytes(data, qh + k);
                    int gk = g + k / 16;
                    FloatVector w0 = quant(Simd.low(ql0), highs, 0, scale(blk, gk));
                    FloatVector w1 = quant(Simd.low(ql1), highs, 2, scale(blk, gk + 2));
                    FloatVector w2 = quant(Simd.high(ql0), highs, 4, scale(blk, gk + 4));
                    FloatVector w3 = quant(Simd.high(ql1), highs, 6, scale(blk, gk + 6));
                    sum = w0.fma(FloatVector.fromArray(F, xq, e + k), sum);
                    sum = w1.fma(FloatVector.fromArray(F, xq, e + 32 + k), sum);
                    sum = w2.fma(FloatVector.fromArray(F, xq, e + 64 + k), sum);
                    sum = w3.fma(FloatVector.fromArray(F, xq, e + 96 + k), sum);
                }
            }
            acc = sum.fma(FloatVector.broadcast(F, xd[d0 + sb] * Simd.fp16(data, blk + 208)), acc);
        }
        return LaneSum.sum(acc);
    }

    private void dot4(long row, Activations x, int t, float[] out, int o, int outStride) {
        float[] xq = x.values, xd = x.scales;
        int cols = cols();
        int q0 = t * x.stride, q1 = q0 + x.stride, q2 = q1 + x.stride, q3 = q2 + x.stride;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (int sb = 0; sb < blocks; sb++) {
            long blk = row + (long) sb * BLOCK_BYTES;
            int c = sb * KQuants.SUPER;
            FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
            for (int half = 0; half < 2; half++) {
                long ql = blk + 64 * half, qh = blk + 128 + 32 * half;
                int g = 8 * half, e = c + 128 * half;
                for (int k = 0; k < 32; k += L) {
                    ByteVector ql0 = Simd.bytes(data, ql + k), ql1 = Simd.bytes(data, ql + 32 + k);
                    ByteVector highs = Simd.bytes(data, qh + k);
                    int gk = g + k / 16;
                    FloatVector w0 = quant(Simd.low(ql0), highs, 0, scale(blk, gk));
                    FloatVector w1 = quant(Simd.low(ql1), highs, 2, scale(blk, gk + 2));
                    FloatVector w2 = quant(Simd.high(ql0), highs, 4, scale(blk, gk + 4));
                    FloatVector w3 = quant(Simd.high(ql1), highs, 6, scale(blk, gk + 6));
                    int e0 = e + k, e1 = e0 + 32, e2 = e0 + 64, e3 = e0 + 96;
                    s0 = w3.fma(FloatVector.fromArray(F, xq, q0 + e3), w2.fma(FloatVector.fromArray(F, xq, q0 + e2),
                            w1.fma(FloatVector.fromArray(F, xq, q0 + e1), w0.fma(FloatVector.fromArray(F, xq, q0 + e0), s0))));
                    s1 = w3.fma(FloatVector.fromArray(F, xq, q1 + e3), w2.fma(FloatVector.fromArray(F, xq, q1 + e2),
                            w1.fma(FloatVector.fromArray(F, xq, q1 + e1), w0.fma(FloatVector.fromArray(F, xq, q1 + e0), s1))));
                    s2 = w3.fma(FloatVector.fromArray(F, xq, q2 + e3), w2.fma(FloatVector.fromArray(F, xq, q2 + e2),
                            w1.fma(FloatVector.fromArray(F, xq, q2 + e1), w0.fma(FloatVector.fromArray(F, xq, q2 + e0), s2))));
                    s3 = w3.fma(FloatVector.fromArray(F, xq, q3 + e3), w2.fma(FloatVector.fromArray(F, xq, q3 + e2),
                            w1.fma(FloatVector.fromArray(F, xq, q3 + e1), w0.fma(FloatVector.fromArray(F, xq, q3 + e0), s3))));
                }
            }
            float d = Simd.fp16(data, blk + 208);
            a0 = s0.fma(FloatVector.broadcast(F, xd[t * blocks + sb] * d), a0);
            a1 = s1.fma(FloatVector.broadcast(F, xd[(t + 1) * blocks + sb] * d), a1);
            a2 = s2.fma(FloatVector.broadcast(F, xd[(t + 2) * blocks + sb] * d), a2);
            a3 = s3.fma(FloatVector.broadcast(F, xd[(t + 3) * blocks + sb] * d), a3);
        }
        out[o] = LaneSum.sum(a0);
        out[o + outStride] = LaneSum.sum(a1);
        out[o + 2 * outStride] = LaneSum.sum(a2);
        out[o + 3 * outStride] = LaneSum.sum(a3);
    }

    @Override
    void dequantizeRowChecked(int row, float[] dst, int dstOffset) {
        long base = row * rowBytes;
        for (int sb = 0; sb < blocks; sb++) {
            long blk = base + (long) sb * BLOCK_BYTES;
            float d = Simd.fp16(data, blk + 208);
            int out = dstOffset + sb * KQuants.SUPER;
            for (int half = 0; half < 2; half++) {
                long ql = blk + 64 * half, qh = blk + 128 + 32 * half;
                for (int l = 0; l < 32; l++) {
                    int a = data.get(ValueLayout.JAVA_BYTE, ql + l) & 0xff, b = data.get(ValueLayout.JAVA_BYTE, ql + 32 + l) & 0xff;
                    int h = data.get(ValueLayout.JAVA_BYTE, qh + l) & 0xff;
                    int g = 8 * half + l / 16, e = out + 128 * half + l;
                    dst[e] = d * scale(blk, g) * (((a & 0x0f) | (h & 3) << 4) - 32);
                    dst[e + 32] = d * scale(blk, g + 2) * (((b & 0x0f) | ((h >> 2) & 3) << 4) - 32);
                    dst[e + 64] = d * scale(blk, g + 4) * (((a >> 4) | ((h >> 4) & 3) << 4) - 32);
                    dst[e + 96] = d * scale(blk, g + 6) * (((b >> 4) | ((h >> 6) & 3) << 4) - 32);
                }
            }
        }
    }
}
