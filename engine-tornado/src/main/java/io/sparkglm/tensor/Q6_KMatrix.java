package io.sparkglm.tensor;

import io.sparkglm.model.GgmlType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
 * Q6_K weights (superblocks of 256 in 210 bytes: 128 bytes of low nibbles, 64 bytes of 2-bit highs,
 * 16 int8 scales (one per 16 values), fp16 d; value = d * scale * (q - 32)) against Q8_K activations, as
 * ggml_vec_dot_q6_K_q8_K: per superblock the exact integer {@code isum = sum_g scale_g * ((q - 32) . q8)}, held in
 * vector lanes that are accumulated in float with {@code d_x * d} in superblock order and summed once per row.
 *
 * <p>The integer is built in int16 products: {@code (q - 32) * q8} fits (|.| <= 4064), adjacent column pairs are
 * summed into int32 lanes ({@link Simd#pairSums}), and each lane is multiplied by its group's scale. Any number of
 * tokens computes the same integers, so a token's output has the same bits alone or in a tile. The earlier kernel
 * widened every quant to float and ran at 1.4 GB/s (4096 x 4096, one token, KernelBench); int16 products ~3.5-4,
 * per-lane accumulation over superblocks ~7-8, each chunk of high bits loaded once for its four quarters
 * ~10 (ADR 0003).
 */
final class Q6_KMatrix extends WeightMatrix {

    static final int BLOCK_BYTES = 210;
    /** Tokens that share one unpacking of a superblock in a multi-token product. */
    private static final int TILE = 4;

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
        int[] lanes = new int[TILE * L];
        float[] accLanes = new float[TILE * L];
        for (int r = rowFrom; r < rowTo; r++) {
            long row = r * rowBytes;
            int t = 0;
            for (; t + TILE <= n; t += TILE) dotTile(row, x, t, out, outOffset + t * outStride + r, outStride, lanes, accLanes);
            for (; t < n; t++) out[outOffset + t * outStride + r] = dot1(row, x, t, accLanes);
        }
    }

    /**
     * One row times token {@code t}: per superblock, lane i holds the exact integer {@code sum over chunks of scale *
     * (pair i's products)} (|.| < 2^24: at most sixteen chunks of 8128 times 128), converted exactly and accumulated
     * per lane with {@code d_x * d}; {@link LaneSum} adds the lanes once per row. A lane reduction per superblock cost
     * the kernel a fifth of its time.
     */
    private float dot1(long row, Activations x, int t, float[] laneScratch) {
        short[] xq = x.quants;
        float[] xd = x.scales;
        int q0 = t * x.stride, d0 = t * blocks;
        FloatVector acc = FloatVector.zero(F);
        for (int sb = 0; sb < blocks; sb++) {
            long blk = row + (long) sb * BLOCK_BYTES;
            int c = q0 + sb * KQuants.SUPER;
            IntVector scales = scaleLanes(blk);
            IntVector sum = IntVector.zero(I);
            for (int h = 0; h < 2; h++) {
                for (int k = 0; k < 32; k += CHUNK) {
                    ShortVector high = highBits(blk, h, k);
                    for (int j = 0; j < 4; j++) {
                        int col = 128 * h + 32 * j + k;
                        sum = products(six(blk, high, h, j, k), xq, c + col).mul(scale(blk, scales, col)).add(sum);
                    }
                }
            }
            float factor = xd[d0 + sb] * Simd.fp16(data, blk + 208);
            acc = ((FloatVector) sum.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, factor), acc);
        }
        acc.intoArray(laneScratch, 0); // summed from memory: LaneSum.sum(acc) is a call C2 may not inline here, boxing acc
        return LaneSum.sum(laneScratch, 0);
    }

    /** Tokens {@code t .. t + TILE} of one row, each summed exactly as {@link #dot1} sums it, its lanes in {@code accLanes}. */
    private void dotTile(long row, Activations x, int t, float[] out, int o, int outStride, int[] lanes, float[] accLanes) {
        short[] xq = x.quants;
        float[] xd = x.scales;
        int stride = x.stride, q0 = t * stride;
        java.util.Arrays.fill(accLanes, 0f);
        for (int sb = 0; sb < blocks; sb++) {
            long blk = row + (long) sb * BLOCK_BYTES;
            superblockLanes(blk, xq, q0 + sb * KQuants.SUPER, stride, lanes);
            float d = Simd.fp16(data, blk + 208);
            for (int u = 0; u < TILE; u++) {
                ((FloatVector) IntVector.fromArray(I, lanes, u * L).convert(VectorOperators.I2F, 0))
                        .fma(FloatVector.broadcast(F, xd[(t + u) * blocks + sb] * d), FloatVector.fromArray(F, accLanes, u * L))
                        .intoArray(accLanes, u * L);
            }
        }
        for (int u = 0; u < TILE; u++) out[o + u * outStride] = LaneSum.sum(accLanes, u * L);
    }

    /**
     * {@link #dot1}'s per-lane integers of one superblock for {@code TILE} tokens whose activations start {@code
     * stride} apart, into {@code lanes}: the chunk's quants and scales are unpacked once for all of them. The lanes
     * live in L1 ({@code TILE} int vectors) rather than in named vectors: a loop body over the tokens keeps the method
     * inside C2's inlining node budget, four written-out copies did not (and were boxed).
     */
    private void superblockLanes(long blk, short[] xq, int c, int stride, int[] lanes) {
        IntVector scales = scaleLanes(blk);
        java.util.Arrays.fill(lanes, 0, TILE * L, 0);
        for (int h = 0; h < 2; h++) {
            for (int k = 0; k < 32; k += CHUNK) {
                ShortVector high = highBits(blk, h, k);
                for (int j = 0; j < 4; j++) {
                    int col = 128 * h + 32 * j + k;
                    ShortVector q = six(blk, high, h, j, k);
                    IntVector scale = scale(blk, scales, col);
                    for (int u = 0; u < TILE; u++) {
                        products(q, xq, c + u * stride + col).mul(scale).add(IntVector.fromArray(I, lanes, u * L)).intoArray(lanes, u * L);
                    }
                }
            }
        }
    }

    /*
     * Unpacking. Column {@code 128 h + 32 j + k} (half h, quarter j) has the low (j < 2) or high nibble of {@code
     * ql[64 h + 32 (j & 1) + k]} and bits {@code 2j, 2j+1} of {@code qh[32 h + k]}: the walks load a chunk of qh once
     * for its four quarters (a fifth faster than once per chunk), and cut one quarter per step with shifts by a
     * variable: the four quarters written out with constant shifts pushed the kernel past C2's inlining node budget,
     * and the vectors passed to a call it then did not inline were boxed (9 KB of garbage per row, 3x slower).
     */

    /** Bytes {@code k .. k + CHUNK} of the 32 high-bit bytes of half {@code h}, as int16 shifted up by 4. */
    private ShortVector highBits(long blk, int h, int k) {
        return Simd.unsignedChunk(data, blk + 128 + 32 * h + k).lanewise(VectorOperators.LSHL, 4);
    }

    /** Quarter {@code j}'s quants minus 32 at {@code k}: its nibbles, and bits 2j, 2j+1 of {@link #highBits} as bits 4, 5. */
    private ShortVector six(long blk, ShortVector high, int h, int j, int k) {
        ShortVector nibbles = Simd.unsignedChunk(data, blk + 64 * h + 32 * (j & 1) + k).lanewise(VectorOperators.LSHR, 4 * (j >> 1)).and((short) 0x0f);
        return nibbles.or(high.lanewise(VectorOperators.LSHR, 2 * j).and((short) 0x30)).sub((short) 32);
    }

    /** Pair lanes {@code q[2i] x[2i] + q[2i+1] x[2i+1]} against the int16 activations at {@code xq[e ..]} (|q x| <= 4064). */
    private static IntVector products(ShortVector q, short[] xq, int e) {
        return pairSums(q.mul(ShortVector.fromArray(CHUNK_SHORTS, xq, e)));
    }

    /** The 16 int8 scales as int lanes, when one int vector holds them (AVX-512); null otherwise. */
    private IntVector scaleLanes(long blk) {
        return WIDE ? (IntVector) Simd.bytes(data, blk + 192).convertShape(VectorOperators.B2I, I, 0) : null;
    }

    /** The scale of each pair lane of the chunk at {@code col}: group {@code (col + 2i) / 16}. */
    private IntVector scale(long blk, IntVector scales, int col) {
        return WIDE ? IntVector.fromArray(I, GROUP_OF_LANE, col).selectFrom(scales)
                : IntVector.broadcast(I, data.get(ValueLayout.JAVA_BYTE, blk + 192 + (col >> 4)));
    }

    /** Whether an int vector holds all 16 scales of a superblock (AVX-512): then a chunk spans two scale groups. */
    private static final boolean WIDE = I.length() == 16;
    /** For the chunk at column {@code col}: lane i's scale group, {@code (col + 2i) / 16}, at {@code [col + i]}. */
    private static final int[] GROUP_OF_LANE = groupOfLane();

    private static int[] groupOfLane() {
        int[] g = new int[KQuants.SUPER + I.length()];
        for (int col = 0; col < KQuants.SUPER; col += CHUNK) {
            for (int i = 0; i < I.length(); i++) g[col + i] = (col + 2 * i) / 16;
        }
        return g;
    }

    /** Rows as the prompt kernel unpacks them: each chunk's int16 quants widened to floats, times {@code d scale}. */
    @Override
    void dequantizeRowChecked(int row, float[] dst, int dstOffset) {
        long base = row * rowBytes;
        for (int sb = 0; sb < blocks; sb++) {
            long blk = base + (long) sb * BLOCK_BYTES;
            float d = Simd.fp16(data, blk + 208);
            int out = dstOffset + sb * KQuants.SUPER;
            for (int h = 0; h < 2; h++) {
                for (int k = 0; k < 32; k += CHUNK) {
                    ShortVector high = highBits(blk, h, k);
                    for (int j = 0; j < 4; j++) {
                        int col = 128 * h + 32 * j + k;
                        ShortVector q = six(blk, high, h, j, k);
                        for (int part = 0; part < 2; part++) {
                            int first = col + part * Simd.L;
                            float scale = d * data.get(ValueLayout.JAVA_BYTE, blk + 192 + (first >> 4));
                            ((FloatVector) q.convertShape(VectorOperators.S2F, F, part)).mul(scale).intoArray(dst, out + first);
                        }
                    }
                }
            }
        }
    }
}
