package io.sparkglm.tensor;

import io.sparkglm.model.GgmlType;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

import static io.sparkglm.tensor.Simd.CHUNK;
import static io.sparkglm.tensor.Simd.CHUNK_SHORTS;
import static io.sparkglm.tensor.Simd.F;
import static io.sparkglm.tensor.Simd.pairSums;

/**
 * Q8_0 weights (blocks of 32: fp16 scale, 32 int8) against Q8_0 activations, as ggml_vec_dot_q8_0_q8_0:
 * per block the exact integer dot {@code sum qw * qx}, times {@code dw * dx}, accumulated per lane in float.
 *
 * <p>Lanes. A block is cut into {@code 32 / 2L} chunks of {@code 2L} columns ({@code L} float lanes); lane
 * {@code i} of a block holds the exact integer {@code p_i = sum over chunks of (qw*qx)[2i] + (qw*qx)[2i+1]}
 * (column pairs as x86's pmaddwd pairs them). Then {@code acc_i = fma(p_i, dw * dx, acc_i)} per block, and
 * {@link LaneSum} at the end. Two kernels compute exactly these values:
 * <ul>
 *   <li>one token ({@link #dot1}): int16 products of widened bytes against the int16 activations,
 *       adjacent pairs summed by shifts of the 32-bit view, converted once: 25% faster here than widening
 *       bytes to floats, and with no slow path for C2 to fall into;</li>
 *   <li>eight tokens ({@link #dot8}): each weight chunk widened once into even- and odd-column float
 *       vectors, then two FMAs per token against the activations stored de-interleaved the same way.</li>
 * </ul>
 * Every partial sum is an integer below 2^24, exact in both, so a token's result has the same bits in
 * either kernel and whatever tile it falls in (batch invariance), on every vector width.
 *
 * <p>Tiling: tokens are taken in blocks of {@link #TOKEN_BLOCK} (outermost), so their activations stay in
 * L2 while the rows stream past.
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
        float[] lanes = n >= TILE ? new float[TILE * Simd.L] : null;
        for (int tb = 0; tb < n; tb += TOKEN_BLOCK) {
            int tbEnd = Math.min(n, tb + TOKEN_BLOCK);
            for (int r = rowFrom; r < rowTo; r++) {
                long row = r * rowBytes;
                int t = tb;
                for (; t + TILE <= tbEnd; t += TILE) dot8(row, x, t, out, outOffset + t * outStride + r, outStride, lanes);
                for (; t < tbEnd; t++) out[outOffset + t * outStride + r] = dot1(row, x.quants, x.stride, x.scales, t);
            }
        }
    }

    /** The weights of one chunk as 2L int16 lanes. */
    private ShortVector chunk(long at) {
        return Simd.toShorts(Simd.chunkBytes(data, at));
    }

    private float dot1(long row, short[] xq, int stride, float[] xd, int t) {
        int q0 = t * stride, d0 = t * blocks;
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            long blk = row + (long) b * BLOCK_BYTES;
            int q = q0 + b * BLOCK;
            IntVector sum = pairSums(chunk(blk + 2).mul(ShortVector.fromArray(CHUNK_SHORTS, xq, q)));
            for (int c = CHUNK; c < BLOCK; c += CHUNK) {
                sum = sum.add(pairSums(chunk(blk + 2 + c).mul(ShortVector.fromArray(CHUNK_SHORTS, xq, q + c))));
            }
            FloatVector p = (FloatVector) sum.convert(VectorOperators.I2F, 0);
            acc = p.fma(FloatVector.broadcast(F, Simd.fp16(data, blk) * xd[d0 + b]), acc);
        }
        return LaneSum.sum(acc);
    }

    /** Even columns of a chunk as floats (the low halves of the 32-bit view, sign-extended). */
    private static FloatVector even(ShortVector w) {
        return (FloatVector) ((IntVector) w.reinterpretAsInts()).lanewise(VectorOperators.LSHL, 16)
                .lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0);
    }

    /** Odd columns of a chunk as floats (the high halves of the 32-bit view). */
    private static FloatVector odd(ShortVector w) {
        return (FloatVector) ((IntVector) w.reinterpretAsInts()).lanewise(VectorOperators.ASHR, 16)
                .convert(VectorOperators.I2F, 0);
    }

    /** p = we * xe + wo * xo for the de-interleaved activations at {@code q} (even lanes, then odd lanes). */
    private static FloatVector pairDot(FloatVector we, FloatVector wo, float[] xp, int q) {
        return wo.fma(FloatVector.fromArray(F, xp, q + Simd.L), we.mul(FloatVector.fromArray(F, xp, q)));
    }

    /** The next chunk's pair products added to {@code p} (exact: integers below 2^24). */
    private static FloatVector pairDot(FloatVector we, FloatVector wo, float[] xp, int q, FloatVector p) {
        return wo.fma(FloatVector.fromArray(F, xp, q + Simd.L), we.fma(FloatVector.fromArray(F, xp, q), p));
    }

    /**
     * One row times tokens {@code t..t+7}: the widened weights and their scale serve eight tokens. (Two
     * rows times four tokens would also halve activation reads, but C2 then stops inlining the Vector API
     * calls, NodeCountInliningCutoff, and every vector gets boxed: 5x slower.)
     */
    private void dot8(long row, Activations x, int t, float[] out, int o, int outStride, float[] lanes) {
        float[] xp = x.pairs, xd = x.scales;
        int stride = x.stride, blocks = this.blocks;
        int q0 = t * stride, d0 = t * blocks;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int b = 0; b < blocks; b++) {
            long blk = row + (long) b * BLOCK_BYTES;
            ShortVector w = chunk(blk + 2);
            FloatVector we = even(w), wo = odd(w);
            int q = q0 + b * BLOCK, d = d0 + b;
            FloatVector p0 = pairDot(we, wo, xp, q), p1 = pairDot(we, wo, xp, q + stride);
            FloatVector p2 = pairDot(we, wo, xp, q + 2 * stride), p3 = pairDot(we, wo, xp, q + 3 * stride);
            FloatVector p4 = pairDot(we, wo, xp, q + 4 * stride), p5 = pairDot(we, wo, xp, q + 5 * stride);
            FloatVector p6 = pairDot(we, wo, xp, q + 6 * stride), p7 = pairDot(we, wo, xp, q + 7 * stride);
            for (int c = CHUNK; c < BLOCK; c += CHUNK) {  // narrower vectors than AVX-512: more chunks per block
                w = chunk(blk + 2 + c);
                we = even(w);
                wo = odd(w);
                p0 = pairDot(we, wo, xp, q + c, p0);
                p1 = pairDot(we, wo, xp, q + c + stride, p1);
                p2 = pairDot(we, wo, xp, q + c + 2 * stride, p2);
                p3 = pairDot(we, wo, xp, q + c + 3 * stride, p3);
                p4 = pairDot(we, wo, xp, q + c + 4 * stride, p4);
                p5 = pairDot(we, wo, xp, q + c + 5 * stride, p5);
                p6 = pairDot(we, wo, xp, q + c + 6 * stride, p6);
                p7 = pairDot(we, wo, xp, q + c + 7 * stride, p7);
            }
            float dw = Simd.fp16(data, blk);
            a0 = p0.fma(FloatVector.broadcast(F, dw * xd[d]), a0);
            a1 = p1.fma(FloatVector.broadcast(F, dw * xd[d + blocks]), a1);
            a2 = p2.fma(FloatVector.broadcast(F, dw * xd[d + 2 * blocks]), a2);
            a3 = p3.fma(FloatVector.broadcast(F, dw * xd[d + 3 * blocks]), a3);
            a4 = p4.fma(FloatVector.broadcast(F, dw * xd[d + 4 * blocks]), a4);
            a5 = p5.fma(FloatVector.broadcast(F, dw * xd[d + 5 * blocks]), a5);
            a6 = p6.fma(FloatVector.broadcast(F, dw * xd[d + 6 * blocks]), a6);
            a7 = p7.fma(FloatVector.broadcast(F, dw * xd[d + 7 * blocks]), a7);
        }
        int l = Simd.L;
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, l);
        a2.intoArray(lanes, 2 * l);
        a3.intoArray(lanes, 3 * l);
        a4.intoArray(lanes, 4 * l);
        a5.intoArray(lanes, 5 * l);
        a6.intoArray(lanes, 6 * l);
        a7.intoArray(lanes, 7 * l);
        for (int u = 0; u < TILE; u++) out[o + u * outStride] = LaneSum.sum(lanes, u * l);
    }

    @Override
    void dequantizeRowChecked(int row, float[] dst, int dstOffset) {
        long base = row * rowBytes;
        for (int b = 0; b < blocks; b++) {
            long blk = base + (long) b * BLOCK_BYTES;
            float d = Simd.fp16(data, blk);
            for (int i = 0; i < BLOCK; i += Simd.L) Simd.bytesToFloats(data, blk + 2 + i).mul(d).intoArray(dst, dstOffset + b * BLOCK + i);
        }
    }
}
