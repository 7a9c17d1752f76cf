package io.sparkglm.tensor;

import io.sparkglm.model.GgmlType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.FloatVector;

import static io.sparkglm.tensor.Simd.F;

/**
 * Q8_0 weights (blocks of 32: fp16 scale, 32 int8) against Q8_0 activations, as ggml_vec_dot_q8_0_q8_0:
 * per block the exact integer dot {@code sum qw * qx}, times {@code dw * dx}, accumulated per lane in float.
 * The integer dot is computed with float FMAs on widened bytes: every partial sum is an integer below
 * 2^24, so it is exact.
 *
 * <p>Per token and lane every path performs the same float operations in the same order
 * ({@code p = w0*x0; p = w1*x1 + p; acc = p*s + acc}, then {@link LaneSum}), whatever the tile it runs in:
 * a token's result never depends on how many tokens share the call (batch invariance).
 *
 * <p>Tiling: eight tokens share each widened weight vector and its fp16 scale. Tokens are
 * taken in blocks of {@link #TOKEN_BLOCK} (outermost), so their activations stay in L2 while the rows
 * stream past.
 */
final class Q8_0Matrix extends WeightMatrix {

    static final int BLOCK = 32;
    static final int BLOCK_BYTES = 34;
    /** Tokens whose activations (16 KB each at 4096 columns) stay cache-resident while every row passes. */
    static final int TOKEN_BLOCK = 32;
    private static final int TILE = 8;

    private final MemorySegment data;
    private final long rowBytes;
    private final int blocks;

    Q8_0Matrix(MemorySegment data, int rows, int cols) {
        super(rows, cols);
        this.data = data;
        this.blocks = cols / BLOCK;
        this.rowBytes = (long) blocks * BLOCK_BYTES;
    }

    @Override public GgmlType type() { return GgmlType.Q8_0; }

    @Override public ActivationFormat activationFormat() { return ActivationFormat.Q8_0; }

    @Override
    void matmulChecked(Activations x, float[] out, int outOffset, int outStride, int rowFrom, int rowTo) {
        int n = x.tokens();
        for (int tb = 0; tb < n; tb += TOKEN_BLOCK) {
            int tbEnd = Math.min(n, tb + TOKEN_BLOCK);
            for (int r = rowFrom; r < rowTo; r++) {
                long row = r * rowBytes;
                int t = tb;
                for (; t + TILE <= tbEnd; t += TILE) dot8(row, x, t, out, outOffset + t * outStride + r, outStride);
                for (; t < tbEnd; t++) out[outOffset + t * outStride + r] = dot1(row, x.values, x.stride, x.scales, t);
            }
        }
    }

    private FloatVector low(long blk) {
        return Simd.bytesToFloats(data, blk + 2);
    }

    private FloatVector high(long blk) {
        return Simd.bytesToFloats(data, blk + 2 + 16);
    }

    private static FloatVector blockDot(FloatVector w0, FloatVector w1, float[] xq, int q) {
        return w1.fma(FloatVector.fromArray(F, xq, q + 16), w0.mul(FloatVector.fromArray(F, xq, q)));
    }

    private float dot1(long row, float[] xq, int stride, float[] xd, int t) {
        int q0 = t * stride, d0 = t * blocks;
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            long blk = row + (long) b * BLOCK_BYTES;
            FloatVector p = blockDot(low(blk), high(blk), xq, q0 + b * BLOCK);
            acc = p.fma(FloatVector.broadcast(F, Simd.fp16(data, blk) * xd[d0 + b]), acc);
        }
        return LaneSum.sum(acc);
    }

    /**
     * One row times tokens {@code t..t+7}: the widened weights and their scale serve eight tokens. (Two
     * rows times four tokens would also halve activation reads, but C2 then stops inlining the Vector API
     * calls, NodeCountInliningCutoff, and every vector gets boxed: 5x slower.)
     */
    private void dot8(long row, Activations x, int t, float[] out, int o, int outStride) {
        float[] xq = x.values, xd = x.scales;
        int stride = x.stride, blocks = this.blocks;
        int q0 = t * stride, d0 = t * blocks;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int b = 0; b < blocks; b++) {
            long blk = row + (long) b * BLOCK_BYTES;
            FloatVector w0 = low(blk), w1 = high(blk);
            float dw = Simd.fp16(data, blk);
            int q = q0 + b * BLOCK, d = d0 + b;
            a0 = blockDot(w0, w1, xq, q).fma(FloatVector.broadcast(F, dw * xd[d]), a0);
            a1 = blockDot(w0, w1, xq, q + stride).fma(FloatVector.broadcast(F, dw * xd[d + blocks]), a1);
            a2 = blockDot(w0, w1, xq, q + 2 * stride).fma(FloatVector.broadcast(F, dw * xd[d + 2 * blocks]), a2);
            a3 = blockDot(w0, w1, xq, q + 3 * stride).fma(FloatVector.broadcast(F, dw * xd[d + 3 * blocks]), a3);
            a4 = blockDot(w0, w1, xq, q + 4 * stride).fma(FloatVector.broadcast(F, dw * xd[d + 4 * blocks]), a4);
            a5 = blockDot(w0, w1, xq, q + 5 * stride).fma(FloatVector.broadcast(F, dw * xd[d + 5 * blocks]), a5);
            a6 = blockDot(w0, w1, xq, q + 6 * stride).fma(FloatVector.broadcast(F, dw * xd[d + 6 * blocks]), a6);
            a7 = blockDot(w0, w1, xq, q + 7 * stride).fma(FloatVector.broadcast(F, dw * xd[d + 7 * blocks]), a7);
        }
        // lane sums in another method: this one stays small enough for C2 to inline every vector op
        float[] lanes = Scratch.floats(2, TILE * Simd.L);
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, Simd.L);
        a2.intoArray(lanes, 2 * Simd.L);
        a3.intoArray(lanes, 3 * Simd.L);
        a4.intoArray(lanes, 4 * Simd.L);
        a5.intoArray(lanes, 5 * Simd.L);
        a6.intoArray(lanes, 6 * Simd.L);
        a7.intoArray(lanes, 7 * Simd.L);
        LaneSum.sums(lanes, 0, TILE, out, o, outStride);
    }

    @Override
    void dequantizeRowChecked(int row, float[] dst, int dstOffset) {
        long base = row * rowBytes;
        for (int b = 0; b < blocks; b++) {
            long blk = base + (long) b * BLOCK_BYTES;
            float d = Simd.fp16(data, blk);
            for (int i = 0; i < BLOCK; i++) dst[dstOffset + b * BLOCK + i] = data.get(ValueLayout.JAVA_BYTE, blk + 2 + i) * d;
        }
    }
}
