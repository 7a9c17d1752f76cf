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
 * Q4_0 weights (blocks of 32: fp16 scale, 16 bytes; value {@code j} is the low nibble of byte {@code j}
 * minus 8, value {@code j + 16} the high nibble minus 8) against Q8_0 activations, as
 * ggml_vec_dot_q4_0_q8_0: exact integer block dot, times {@code dw * dx}, accumulated per lane.
 */
final class Q4_0Matrix extends WeightMatrix {

    static final int BLOCK = 32;
    static final int BLOCK_BYTES = 18;

    private final MemorySegment data;
    private final long rowBytes;
    private final int blocks;

    Q4_0Matrix(MemorySegment data, int rows, int cols) {
        super(rows, cols);
        this.data = data;
        this.blocks = cols / BLOCK;
        this.rowBytes = (long) blocks * BLOCK_BYTES;
    }

    @Override public GgmlType type() { return GgmlType.Q4_0; }

    @Override public ActivationFormat activationFormat() { return ActivationFormat.Q8_0; }

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

    private float dot1(long row, Activations x, int t) {
        float[] xq = x.values, xd = x.scales;
        int q0 = t * x.stride, d0 = t * blocks;
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            long blk = row + (long) b * BLOCK_BYTES;
            float dw = Simd.fp16(data, blk);
            int q = q0 + b * BLOCK;
            FloatVector dot = FloatVector.zero(F);
            for (int k = 0; k < BLOCK / 2; k += L) {
                ByteVector packed = Simd.bytes(data, blk + 2 + k);
                FloatVector lo = Simd.toFloats(Simd.low(packed).sub((byte) 8));
                FloatVector hi = Simd.toFloats(Simd.high(packed).sub((byte) 8));
                dot = lo.fma(FloatVector.fromArray(F, xq, q + k), dot);
                dot = hi.fma(FloatVector.fromArray(F, xq, q + 16 + k), dot);
            }
            acc = dot.fma(FloatVector.broadcast(F, dw * xd[d0 + b]), acc);
        }
        return LaneSum.sum(acc);
    }

    private void dot4(long row, Activations x, int t, float[] out, int o, int outStride, float[] lanes) {
        float[] xq = x.values, xd = x.scales;
        int cols = cols();
        int q0 = t * x.stride, q1 = q0 + x.stride, q2 = q1 + x.stride, q3 = q2 + x.stride;
        int d0 = t * blocks, d1 = d0 + blocks, d2 = d1 + blocks, d3 = d2 + blocks;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (int b = 0; b < blocks; b++) {
            long blk = row + (long) b * BLOCK_BYTES;
            float dw = Simd.fp16(data, blk);
            int c = b * BLOCK;
            FloatVector p0 = FloatVector.zero(F), p1 = p0, p2 = p0, p3 = p0;
            for (int k = 0; k < BLOCK / 2; k += L) {
                ByteVector packed = Simd.bytes(data, blk + 2 + k);
                FloatVector lo = Simd.toFloats(Simd.low(packed).sub((byte) 8));
                FloatVector hi = Simd.toFloats(Simd.high(packed).sub((byte) 8));
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
        }
        a0.intoArray(lanes, 0);
        out[o] = LaneSum.sum(lanes, 0);
        a1.intoArray(lanes, Simd.L);
        out[o + outStride] = LaneSum.sum(lanes, Simd.L);
        a2.intoArray(lanes, 2 * Simd.L);
        out[o + 2 * outStride] = LaneSum.sum(lanes, 2 * Simd.L);
        a3.intoArray(lanes, 3 * Simd.L);
        out[o + 3 * outStride] = LaneSum.sum(lanes, 3 * Simd.L);
    }

    @Override
    void dequantizeRowChecked(int row, float[] dst, int dstOffset) {
        long base = row * rowBytes;
        for (int b = 0; b < blocks; b++) {
            long blk = base + (long) b * BLOCK_BYTES;
            float d = Simd.fp16(data, blk);
            for (int j = 0; j < BLOCK / 2; j++) {
                int v = data.get(ValueLayout.JAVA_BYTE, blk + 2 + j) & 0xff;
                dst[dstOffset + b * BLOCK + j] = ((v & 0x0f) - 8) * d;
                dst[dstOffset + b * BLOCK + j + 16] = ((v >> 4) - 8) * d;
            }
        }
    }
}
