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
import static io.sparkglm.tensor.Simd.L;
import static io.sparkglm.tensor.Simd.pairSums;

/**
 * Q4_K and Q5_K weights, the K-quants with minimums: superblocks of 256 values as fp16 d, fp16 dmin, 12 bytes of eight
 * 6-bit scales and mins, for Q5_K 32 bytes of fifth bits, and 128 bytes of nibbles; value = d * scale_j * q -
 * dmin * min_j for the 32-column group j, q in 0..15 (Q4_K) or 0..31 (Q5_K). Column {@code 64 i + 32 u + k} has the
 * low (u = 0) or high nibble of byte {@code 32 i + k} and, in Q5_K, bit {@code 2 i + u} of fifth-bit byte {@code k}.
 *
 * <p>Against Q8_K activations, as ggml_vec_dot_q4_K_q8_K and _q5_K_q8_K: per superblock the exact integer
 * {@code isum = sum_j scale_j * (q . q8)}, held in vector lanes, and the exact {@code msum = sum_j min_j * gsum_j}
 * (gsum: the 32-column sums of the activations' quants); the lanes accumulate {@code fma(d_x * d, lane, acc)} and a
 * scalar {@code fma(-d_x * dmin, msum, minAcc)}, in superblock order, and the output is the lanes' {@link LaneSum}
 * plus {@code minAcc}. The integers come from int16 products ({@code q * q8} <= 3937), adjacent column pairs summed
 * into int32 lanes and each lane multiplied by its group's scale; any number of tokens computes the same integers,
 * so a token's output has the same bits alone or in a tile of {@link #TILE}. The two formats share this walk and
 * differ in their layout only (the offsets given to the constructor).
 *
 * <p>Where the time went (KernelBench, 4096 x 4096, one token, 3.2-3.5 GB/s before, 7.7-9.1 after): unpacking one
 * scale or min at a time (a quarter), a lane reduction per superblock (a fifth), the mins' sum from float 16-column
 * sums (a fifth), loading each nibble byte twice, and four operations per pair sum where three do.
 *
 * <p>Vectors stay inside one method: when C2 declines to inline a call (its inlining node budget is spent early by
 * Vector API code), a vector argument or result is boxed (the float kernels this replaces allocated up to 6 KB per
 * row that way; KernelBench's bytes/call column shows it), so the lanes cross calls through int and float arrays.
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
        int[] lanes = new int[TILE * L];
        float[] accLanes = new float[TILE * L], minAcc = new float[TILE];
        for (int r = rowFrom; r < rowTo; r++) {
            long row = r * rowBytes;
            int t = 0;
            for (; t + TILE <= n; t += TILE) {
                dotTile(row, x, t, out, outOffset + t * outStride + r, outStride, lanes, accLanes, minAcc);
            }
            for (; t < n; t++) out[outOffset + t * outStride + r] = dot1(row, x, t, accLanes);
        }
    }

    /**
     * One row times token {@code t}. The superblock's per-lane integers (each below 2^23: eight or sixteen chunks of
     * a pair of products times a 6-bit scale) are converted exactly and accumulated per lane, summed once per row by
     * {@link LaneSum}: a lane reduction per superblock cost a fifth of the kernel.
     */
    private float dot1(long row, Activations x, int t, float[] laneScratch) {
        short[] xq = x.quants;
        float[] xd = x.scales;
        int[] gs = x.groupSums;
        int q0 = t * x.stride, g0 = t * (cols() / 32), d0 = t * blocks;
        FloatVector acc = FloatVector.zero(F);
        float minAcc = 0f;
        for (int sb = 0; sb < blocks; sb++) {
            long blk = row + (long) sb * blockBytes;
            int c = q0 + sb * KQuants.SUPER;
            long scales = KQuants.scales(data, blk + 4);
            IntVector sum = IntVector.zero(I);
            for (int pair = 0; pair < 4; pair++) {
                int scaleLow = KQuants.at(scales, 2 * pair), scaleHigh = KQuants.at(scales, 2 * pair + 1);
                for (int k = 0; k < 32; k += CHUNK) {
                    ShortVector bytes = nibbleBytes(blk, pair, k);
                    ShortVector low = bytes.and((short) 0x0f), high = bytes.lanewise(VectorOperators.LSHR, 4);
                    if (fifthBits >= 0) {
                        ShortVector fifth = fifthBytes(blk, k);
                        low = low.or(fifthBit(fifth, 2 * pair));
                        high = high.or(fifthBit(fifth, 2 * pair + 1));
                    }
                    int col = c + 64 * pair + k;
                    sum = pairSums(low.mul(ShortVector.fromArray(CHUNK_SHORTS, xq, col))).mul(scaleLow).add(sum);
                    sum = pairSums(high.mul(ShortVector.fromArray(CHUNK_SHORTS, xq, col + 32))).mul(scaleHigh).add(sum);
                }
            }
            float dx = xd[d0 + sb];
            acc = ((FloatVector) sum.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, dx * Simd.fp16(data, blk)), acc);
            minAcc = Math.fma(-dx * Simd.fp16(data, blk + 2), minSum(KQuants.mins(data, blk + 4), gs, g0 + 8 * sb), minAcc);
        }
        acc.intoArray(laneScratch, 0); // summed from memory: LaneSum.sum(acc) is a call C2 may not inline here, boxing acc
        return LaneSum.sum(laneScratch, 0) + minAcc;
    }

    /** Tokens {@code t .. t + TILE} of one row, each summed exactly as {@link #dot1} sums it, its lanes in {@code accLanes}. */
    private void dotTile(long row, Activations x, int t, float[] out, int o, int outStride, int[] lanes, float[] accLanes,
                         float[] minAcc) {
        short[] xq = x.quants;
        float[] xd = x.scales;
        int[] gs = x.groupSums;
        int stride = x.stride, groups = cols() / 32, q0 = t * stride;
        java.util.Arrays.fill(accLanes, 0f);
        java.util.Arrays.fill(minAcc, 0f);
        for (int sb = 0; sb < blocks; sb++) {
            long blk = row + (long) sb * blockBytes;
            superblockLanes(blk, xq, q0 + sb * KQuants.SUPER, stride, lanes);
            float d = Simd.fp16(data, blk), dmin = Simd.fp16(data, blk + 2);
            long mins = KQuants.mins(data, blk + 4);
            for (int u = 0; u < TILE; u++) {
                float dx = xd[(t + u) * blocks + sb];
                ((FloatVector) IntVector.fromArray(I, lanes, u * L).convert(VectorOperators.I2F, 0))
                        .fma(FloatVector.broadcast(F, dx * d), FloatVector.fromArray(F, accLanes, u * L))
                        .intoArray(accLanes, u * L);
                minAcc[u] = Math.fma(-dx * dmin, minSum(mins, gs, (t + u) * groups + 8 * sb), minAcc[u]);
            }
        }
        for (int u = 0; u < TILE; u++) out[o + u * outStride] = LaneSum.sum(accLanes, u * L) + minAcc[u];
    }

    /**
     * The per-lane integers of {@link #dot1}'s superblock for {@code TILE} tokens whose activations start {@code
     * stride} apart, into {@code lanes}: each chunk is unpacked once for all of them. The lanes live in L1, not in
     * named vectors: one loop body over the tokens keeps this method small enough for C2 to inline every Vector API
     * call.
     */
    private void superblockLanes(long blk, short[] xq, int c, int stride, int[] lanes) {
        java.util.Arrays.fill(lanes, 0, TILE * L, 0);
        long scales = KQuants.scales(data, blk + 4);
        for (int pair = 0; pair < 4; pair++) {
            int scaleLow = KQuants.at(scales, 2 * pair), scaleHigh = KQuants.at(scales, 2 * pair + 1);
            for (int k = 0; k < 32; k += CHUNK) {
                ShortVector bytes = nibbleBytes(blk, pair, k);
                ShortVector low = bytes.and((short) 0x0f), high = bytes.lanewise(VectorOperators.LSHR, 4);
                if (fifthBits >= 0) {
                    ShortVector fifth = fifthBytes(blk, k);
                    low = low.or(fifthBit(fifth, 2 * pair));
                    high = high.or(fifthBit(fifth, 2 * pair + 1));
                }
                for (int u = 0; u < TILE; u++) {
                    int col = c + u * stride + 64 * pair + k;
                    pairSums(low.mul(ShortVector.fromArray(CHUNK_SHORTS, xq, col))).mul(scaleLow)
                            .add(pairSums(high.mul(ShortVector.fromArray(CHUNK_SHORTS, xq, col + 32))).mul(scaleHigh))
                            .add(IntVector.fromArray(I, lanes, u * L)).intoArray(lanes, u * L);
                }
            }
        }
    }

    /**
     * The nibble bytes {@code k .. k + CHUNK} of the 32 that hold groups {@code 2 pair} (low nibbles) and {@code 2 pair
     * + 1} (high), zero-extended to int16: the decode kernels load them once for both groups. (Their callers cut the
     * nibbles themselves: a helper taking a null fifth-bit vector for Q4_K led C2 to "Bad graph detected in
     * build_loop_late" once both formats had run, and the kernel fell back to C1, 200x slower.)
     */
    private ShortVector nibbleBytes(long blk, int pair, int k) {
        return Simd.unsignedChunk(data, blk + nibbles + 32 * pair + k);
    }

    /** Q5_K: fifth-bit bytes {@code k .. k + CHUNK} shifted up by 4, so that bit g sits at 4 + g. */
    private ShortVector fifthBytes(long blk, int k) {
        return Simd.unsignedChunk(data, blk + fifthBits + k).lanewise(VectorOperators.LSHL, 4);
    }

    /** Q5_K: group {@code group}'s fifth bit from {@link #fifthBytes}, as 16 or 0. */
    private static ShortVector fifthBit(ShortVector fifth, int group) {
        return fifth.lanewise(VectorOperators.LSHR, group).and((short) 0x10);
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

    /**
     * {@code sum_j min_j * groupSum_j} over the eight groups, the 32-column activation sums at {@code gs[g ..]}: an
     * integer (|sum| < 2^21), so exact in the float it is returned as.
     */
    private static float minSum(long mins, int[] gs, int g) {
        int even = 0, odd = 0;
        for (int j = 0; j < 8; j += 2) {
            even += KQuants.at(mins, j) * gs[g + j];
            odd += KQuants.at(mins, j + 1) * gs[g + j + 1];
        }
        return even + odd;
    }

    /** Rows as the prompt kernel unpacks them: each chunk's int16 quants widened to floats, {@code (d scale) q - dmin min}. */
    @Override
    final void dequantizeRowChecked(int row, float[] dst, int dstOffset) {
        long base = row * rowBytes;
        for (int sb = 0; sb < blocks; sb++) {
            long blk = base + (long) sb * blockBytes;
            float d = Simd.fp16(data, blk), dmin = Simd.fp16(data, blk + 2);
            long scales = KQuants.scales(data, blk + 4), mins = KQuants.mins(data, blk + 4);
            int out = dstOffset + sb * KQuants.SUPER;
            for (int col = 0; col < KQuants.SUPER; col += CHUNK) {
                ShortVector q = quants(blk, col);
                int group = col >> 5;
                float scale = d * KQuants.at(scales, group), min = dmin * KQuants.at(mins, group);
                for (int part = 0; part < 2; part++) {
                    ((FloatVector) q.convertShape(VectorOperators.S2F, F, part)).mul(scale).sub(min)
                            .intoArray(dst, out + col + part * Simd.L);
                }
            }
        }
    }
}
