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
 * Q5_K weights (superblocks of 256 in 176 bytes: fp16 d, fp16 dmin, 12 bytes of eight 6-bit scales and
 * mins, 32 bytes of fifth bits, 128 bytes of nibbles; value = d * scale_j * q - dmin * min_j, q in 0..31) against Q8_K activations, as
 * ggml_vec_dot_q4_K_q8_K: {@code d_x * d * sum_j scale_j * (q . q8)} exactly in integers, minus
 * {@code d_x * dmin * sum_j min_j * bsum_j}. Weights are multiplied by their 6-bit scale before the dot
 * (still small integers), so one FMA per token per weight vector gives the exact integer sum.
 */
final class Q5_KMatrix extends WeightMatrix {

    static final int BLOCK_BYTES = 176;

    private final MemorySegment data;
    private final long rowBytes;
    private final int blocks;

    Q5_KMatrix(MemorySegment data, int rows, int cols) {
        super(rows, cols);
        this.data = data;
        this.blocks = cols / KQuants.SUPER;
        this.rowBytes = (long) blocks * BLOCK_BYTES;
    }

    @Override public GgmlType type() { return GgmlType.Q5_K; }

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

    private float dot1(long row, Activations x, int t) {
        float[] xq = x.values, xd = x.scales, bs = x.bsums;
        int q0 = t * x.stride, g0 = t * (cols() / 16), d0 = t * blocks;
        FloatVector acc = FloatVector.zero(F);
        float accMin = 0f;
        for (int sb = 0; sb < blocks; sb++) {
            long blk = row + (long) sb * BLOCK_BYTES, sc = blk + 4, qh = blk + 16, qs = blk + 48;
            int c = q0 + sb * KQuants.SUPER, g = g0 + sb * 16;
            FloatVector sum = FloatVector.zero(F);
            float mins = 0f;
            for (int j = 0; j < 4; j++) {
                float scLo = KQuants.scale(data, sc, 2 * j), scHi = KQuants.scale(data, sc, 2 * j + 1);
                mins += KQuants.min(data, sc, 2 * j) * (bs[g + 4 * j] + bs[g + 4 * j + 1])
                        + KQuants.min(data, sc, 2 * j + 1) * (bs[g + 4 * j + 2] + bs[g + 4 * j + 3]);
                for (int k = 0; k < 32; k += L) {
                    ByteVector packed = Simd.bytes(data, qs + 32 * j + k);
                    ByteVector fifth = Simd.bytes(data, qh + k);
                    FloatVector lo = Simd.toFloats(Simd.low(packed).or(bit(fifth, 2 * j))).mul(scLo);
                    FloatVector hi = Simd.toFloats(Simd.high(packed).or(bit(fifth, 2 * j + 1))).mul(scHi);
                    int cl = c + 64 * j + k;
                    sum = hi.fma(FloatVector.fromArray(F, xq, cl + 32), lo.fma(FloatVector.fromArray(F, xq, cl), sum));
                }
            }
            float dx = xd[d0 + sb];
            acc = sum.fma(FloatVector.broadcast(F, dx * Simd.fp16(data, blk)), acc);
            accMin += (-dx * Simd.fp16(data, blk + 2)) * mins;
        }
        return LaneSum.sum(acc) + accMin;
    }

    private void dot4(long row, Activations x, int t, float[] out, int o, int outStride) {
        float[] xq = x.values, xd = x.scales, bs = x.bsums;
        int cols = cols(), groups = cols / 16;
        int q0 = t * x.stride, q1 = q0 + x.stride, q2 = q1 + x.stride, q3 = q2 + x.stride;
        int g0 = t * groups, g1 = g0 + groups, g2 = g1 + groups, g3 = g2 + groups;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        float m0 = 0f, m1 = 0f, m2 = 0f, m3 = 0f;
        for (int sb = 0; sb < blocks; sb++) {
            long blk = row + (long) sb * BLOCK_BYTES, sc = blk + 4, qh = blk + 16, qs = blk + 48;
            int c = sb * KQuants.SUPER, g = sb * 16;
            FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
            float n0 = 0f, n1 = 0f, n2 = 0f, n3 = 0f;
            for (int j = 0; j < 4; j++) {
                float scLo = KQuants.scale(data, sc, 2 * j), scHi = KQuants.scale(data, sc, 2 * j + 1);
                float mnLo = KQuants.min(data, sc, 2 * j), mnHi = KQuants.min(data, sc, 2 * j + 1);
                int gj = g + 4 * j;
                n0 += mnLo * (bs[g0 + gj] + bs[g0 + gj + 1]) + mnHi * (bs[g0 + gj + 2] + bs[g0 + gj + 3]);
                n1 += mnLo * (bs[g1 + gj] + bs[g1 + gj + 1]) + mnHi * (bs[g1 + gj + 2] + bs[g1 + gj + 3]);
                n2 += mnLo * (bs[g2 + gj] + bs[g2 + gj + 1]) + mnHi * (bs[g2 + gj + 2] + bs[g2 + gj + 3]);
                n3 += mnLo * (bs[g3 + gj] + bs[g3 + gj + 1]) + mnHi * (bs[g3 + gj + 2] + bs[g3 + gj + 3]);
                for (int k = 0; k < 32; k += L) {
                    ByteVector packed = Simd.bytes(data, qs + 32 * j + k);
                    ByteVector fifth = Simd.bytes(data, qh + k);
                    FloatVector lo = Simd.toFloats(Simd.low(packed).or(bit(fifth, 2 * j))).mul(scLo);
                    FloatVector hi = Simd.toFloats(Simd.high(packed).or(bit(fifth, 2 * j + 1))).mul(scHi);
                    int cl = c + 64 * j + k, ch = cl + 32;
                    s0 = hi.fma(FloatVector.fromArray(F, xq, q0 + ch), lo.fma(FloatVector.fromArray(F, xq, q0 + cl), s0));
                    s1 = hi.fma(FloatVector.fromArray(F, xq, q1 + ch), lo.fma(FloatVector.fromArray(F, xq, q1 + cl), s1));
                    s2 = hi.fma(FloatVector.fromArray(F, xq, q2 + ch), lo.fma(FloatVector.fromArray(F, xq, q2 + cl), s2));
                    s3 = hi.fma(FloatVector.fromArray(F, xq, q3 + ch), lo.fma(FloatVector.fromArray(F, xq, q3 + cl), s3));
                }
            }
            float d = Simd.fp16(data, blk), dmin = Simd.fp16(data, blk + 2);
            float x0 = xd[t * blocks + sb], x1 = xd[(t + 1) * blocks + sb], x2 = xd[(t + 2) * blocks + sb], x3 = xd[(t + 3) * blocks + sb];
            a0 = s0.fma(FloatVector.broadcast(F, x0 * d), a0);
            a1 = s1.fma(FloatVector.broadcast(F, x1 * d), a1);
            a2 = s2.fma(FloatVector.broadcast(F, x2 * d), a2);
            a3 = s3.fma(FloatVector.broadcast(F, x3 * d), a3);
            m0 += (-x0 * dmin) * n0;
            m1 += (-x1 * dmin) * n1;
            m2 += (-x2 * dmin) * n2;
            m3 += (-x3 * dmin) * n3;
        }
        out[o] = LaneSum.sum(a0) + m0;
        out[o + outStride] = LaneSum.sum(a1) + m1;
        out[o + 2 * outStride] = LaneSum.sum(a2) + m2;
        out[o + 3 * outStride] = LaneSum.sum(a3) + m3;
    }

    /** Bit {@code shift} of each byte, moved to 16: the fifth bit of a 5-bit quant. */
    private static ByteVector bit(ByteVector fifth, int shift) {
        return fifth.lanewise(VectorOperators.LSHR, shift).and((byte) 1).lanewise(VectorOperators.LSHL, 4);
    }

    @Override
    void dequantizeRowChecked(int row, float[] dst, int dstOffset) {
        long base = row * rowBytes;
        for (int sb = 0; sb < blocks; sb++) {
            long blk = base + (long) sb * BLOCK_BYTES, sc = blk + 4, qh = blk + 16, qs = blk + 48;
            float d = Simd.fp16(data, blk), dmin = Simd.fp16(data, blk + 2);
            int out = dstOffset + sb * KQuants.SUPER;
            for (int j = 0; j < 4; j++) {
                float d1 = d * KQuants.scale(data, sc, 2 * j), m1 = dmin * KQuants.min(data, sc, 2 * j);
                float d2 = d * KQuants.scale(data, sc, 2 * j + 1), m2 = dmin * KQuants.min(data, sc, 2 * j + 1);
                for (int l = 0; l < 32; l++) {
                    int v = data.get(ValueLayout.JAVA_BYTE, qs + 32 * j + l) & 0xff;
                    int h = data.get(ValueLayout.JAVA_BYTE, qh + l) & 0xff;
                    dst[out + 64 * j + l] = d1 * ((v & 0x0f) | ((h >> (2 * j)) & 1) << 4) - m1;
                    dst[out + 64 * j + 32 + l] = d2 * ((v >> 4) | ((h >> (2 * j + 1)) & 1) << 4) - m2;
                }
            }
        }
    }
}
