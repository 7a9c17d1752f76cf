package io.sparkglm.tensor;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

import static io.sparkglm.tensor.Simd.CHUNK;
import static io.sparkglm.tensor.Simd.CHUNK_SHORTS;
import static io.sparkglm.tensor.Simd.F;
import static io.sparkglm.tensor.Simd.I;
import static io.sparkglm.tensor.Simd.pairSums;

/**
 * Q4_K and Q5_K weights, the K-quants with minimums: superblocks of 256 values as fp16 d, fp16 dmin, 12 bytes of eight
 * 6-bit scales and mins, for Q5_K 32 bytes of fifth bits, and 128 bytes of nibbles; value = d * scale_j * q -
 * dmin * min_j for the 32-column group j, q in 0..15 (Q4_K) or 0..31 (Q5_K). Column {@code 64 i + 32 u + k} has the
 * low (u = 0) or high nibble of byte {@code 32 i + k} and, in Q5_K, bit {@code 2 i + u} of fifth-bit byte {@code k}.
 *
 * <p>Against Q8_K activations, as ggml_vec_dot_q4_K_q8_K and _q5_K_q8_K: per superblock the exact integer
 * {@code isum = sum_j scale_j * (q . q8)} and the exact {@code msum = sum_j min_j * bsum_j}, then {@code acc =
 * fma(d_x * d, isum, acc)} and {@code minAcc = fma(-d_x * dmin, msum, minAcc)} in superblock order; the output is
 * {@code acc + minAcc}. The integer comes from int16 products ({@code q * q8} <= 3937), adjacent column pairs summed
 * into int32 lanes and each lane multiplied by its group's scale; any number of tokens computes the same integers,
 * so a token's output has the same bits alone or in a tile of {@link #TILE}. The two formats share this walk and
 * differ in their layout only (the offsets given to the constructor).
 *
 * <p>Only scalars cross the per-superblock calls: when C2 declines to inline one (its inlining node budget is spent
 * early by Vector API code), it costs a call, where a vector argument or result would have been boxed (the float
 * kernels this replaces allocated up to 6 KB per row that way; KernelBench's bytes/call column shows it).
 */
abstract sealed class AffineKMatrix extends WeightMatrix permits Q4_KMatrix, Q5_KMatrix {

    /** Tokens that share one unpacking of a superblock in a multi-token product. */
    private static final int TILE = 4;

    private final MemorySegment data;
    private final long rowBytes;
    private final int blocks;
    private final int blockBytes;
    /** Where a superblock keeps its 128 nibble bytes, and its 32 fifth-bit bytes (-1: none, Q4_K). */
    private final int nibbles, fifthBits;

    AffineKMatrix(MemorySegment data, int rows, int cols, int blockBytes, int nibbles, int fifthBits) {
        super(rows, cols);
        this.data = data;
        this.blocks = cols / KQuants.SUPER;
        this.blockBytes = blockBytes;
        this.rowBytes = (long) blocks * blockBytes;
        this.nibbles = nibbles;
        this.fifthBits = fifthBits;
    }

    @Override public final ActivationFormat activationFormat() { return ActivationFormat.Q8_K; }

    @Override
    final void matmulChecked(Activations x, float[] out, int outOffset, int outStride, int rowFrom, int rowTo) {
        int n = x.tokens();
        int[] sums = new int[TILE], lanes = new int[TILE * I.length()];
        float[] acc = new float[2 * TILE];
        for (int r = rowFrom; r < rowTo; r++) {
            long row = r * rowBytes;
            int t = 0;
            for (; t + TILE <= n; t += TILE) dotTile(row, x, t, out, outOffset + t * outStride + r, outStride, lanes, sums, acc);
            for (; t < n; t++) out[outOffset + t * outStride + r] = dot1(row, x, t);
        }
    }

    private float dot1(long row, Activations x, int t) {
        short[] xq = x.quants;
        float[] xd = x.scales, bs = x.bsums;
        int q0 = t * x.stride, g0 = t * (cols() / 16), d0 = t * blocks;
        float acc = 0f, minAcc = 0f;
        for (int sb = 0; sb < blocks; sb++) {
            long blk = row + (long) sb * blockBytes;
            float dx = xd[d0 + sb];
            acc = Math.fma(dx * Simd.fp16(data, blk), superblockDot(blk, xq, q0 + sb * KQuants.SUPER), acc);
            minAcc = Math.fma(-dx * Simd.fp16(data, blk + 2), minSum(blk, bs, g0 + 16 * sb), minAcc);
        }
        return acc + minAcc;
    }

    /** Tokens {@code t .. t + TILE} of one row, each summed exactly as {@link #dot1} sums it. */
    private void dotTile(long row, Activations x, int t, float[] out, int o, int outStride, int[] lanes, int[] sums, float[] acc) {
        short[] xq = x.quants;
        float[] xd = x.scales, bs = x.bsums;
        int stride = x.stride, groups = cols() / 16, q0 = t * stride;
        java.util.Arrays.fill(acc, 0f);
        for (int sb = 0; sb < blocks; sb++) {
            long blk = row + (long) sb * blockBytes;
            superblockDots(blk, xq, q0 + sb * KQuants.SUPER, stride, lanes, sums);
            float d = Simd.fp16(data, blk), dmin = Simd.fp16(data, blk + 2);
            for (int u = 0; u < TILE; u++) {
                float dx = xd[(t + u) * blocks + sb];
                acc[u] = Math.fma(dx * d, sums[u], acc[u]);
                acc[TILE + u] = Math.fma(-dx * dmin, minSum(blk, bs, (t + u) * groups + 16 * sb), acc[TILE + u]);
            }
        }
        for (int u = 0; u < TILE; u++) out[o + u * outStride] = acc[u] + acc[TILE + u];
    }

    /** ggml's isum of the superblock at {@code blk} against the int16 activations at {@code xq[c ..]} (|isum| < 2^27). */
    private int superblockDot(long blk, short[] xq, int c) {
        IntVector sum = IntVector.zero(I);
        for (int col = 0; col < KQuants.SUPER; col += CHUNK) {
            IntVector p = pairSums(quants(blk, col).mul(ShortVector.fromArray(CHUNK_SHORTS, xq, c + col)));
            sum = p.mul(KQuants.scale(data, blk + 4, col >> 5)).add(sum);
        }
        return sum.reduceLanes(VectorOperators.ADD);
    }

    /**
     * {@link #superblockDot} for {@code TILE} tokens whose activations start {@code stride} apart, into {@code sums}:
     * each chunk is unpacked once for all of them. Their lane sums live in {@code lanes} (in L1), not in named
     * vectors: one loop body over the tokens keeps this method small enough for C2 to inline every Vector API call.
     */
    private void superblockDots(long blk, short[] xq, int c, int stride, int[] lanes, int[] sums) {
        int width = I.length();
        java.util.Arrays.fill(lanes, 0, TILE * width, 0);
        for (int col = 0; col < KQuants.SUPER; col += CHUNK) {
            ShortVector q = quants(blk, col);
            int scale = KQuants.scale(data, blk + 4, col >> 5);
            for (int u = 0; u < TILE; u++) {
                IntVector p = pairSums(q.mul(ShortVector.fromArray(CHUNK_SHORTS, xq, c + u * stride + col)));
                p.mul(scale).add(IntVector.fromArray(I, lanes, u * width)).intoArray(lanes, u * width);
            }
        }
        for (int u = 0; u < TILE; u++) sums[u] = IntVector.fromArray(I, lanes, u * width).reduceLanes(VectorOperators.ADD);
    }

    /** The quants of columns {@code col .. col + CHUNK} (one 32-column group) as int16. */
    private ShortVector quants(long blk, int col) {
        int group = col >> 5, k = col & 31;
        ShortVector q = Simd.unsignedChunk(data, blk + nibbles + 32 * (group >> 1) + k)
                .lanewise(VectorOperators.LSHR, 4 * (group & 1)).and((short) 0x0f);
        if (fifthBits < 0) return q;
        return q.or(Simd.unsignedChunk(data, blk + fifthBits + k).lanewise(VectorOperators.LSHR, group)
                .and((short) 1).lanewise(VectorOperators.LSHL, 4));
    }

    /** {@code sum_j min_j * bsum_j} over the eight groups, the 16-column activation sums at {@code bs[g ..]} (exact). */
    private float minSum(long blk, float[] bs, int g) {
        float sum = 0f;
        for (int j = 0; j < 8; j++) sum += KQuants.min(data, blk + 4, j) * (bs[g + 2 * j] + bs[g + 2 * j + 1]);
        return sum;
    }

    /** Rows as the prompt kernel unpacks them: each chunk's int16 quants widened to floats, {@code (d scale) q - dmin min}. */
    @Override
    final void dequantizeRowChecked(int row, float[] dst, int dstOffset) {
        long base = row * rowBytes;
        for (int sb = 0; sb < blocks; sb++) {
            long blk = base + (long) sb * blockBytes, sc = blk + 4;
            float d = Simd.fp16(data, blk), dmin = Simd.fp16(data, blk + 2);
            int out = dstOffset + sb * KQuants.SUPER;
            for (int col = 0; col < KQuants.SUPER; col += CHUNK) {
                ShortVector q = quants(blk, col);
                int group = col >> 5;
                float scale = d * KQuants.scale(data, sc, group), min = dmin * KQuants.min(data, sc, group);
                for (int part = 0; part < 2; part++) {
                    ((FloatVector) q.convertShape(VectorOperators.S2F, F, part)).mul(scale).sub(min)
                            .intoArray(dst, out + col + part * Simd.L);
                }
            }
        }
    }
}
