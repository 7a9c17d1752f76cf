package io.sparkglm.tensor;

import jdk.incubator.vector.FloatVector;

import static io.sparkglm.tensor.Simd.F;

/**
 * The prompt kernel: a weight matrix times many tokens as a blocked float GEMM, for any storage format.
 *
 * <p>Weights are unpacked {@link #PANEL} rows at a time (through {@code panelRow}) into a column-major
 * float panel, so one vector holds one column of {@link Simd#L} rows. Tokens then pass the panel in tiles of
 * {@code PANEL} rows x six tokens ({@link FloatGemm}) whose accumulators stay in registers: per column, four
 * weight vectors and six broadcast activations feed 24 FMAs. That reaches ~80% of the float FMA peak,
 * where the decode kernel ({@link WeightMatrix#matmul}), which converts quantized weights in its inner loop
 * and applies a scale per 32-block, reaches ~30%. The panel is unpacked once per call, so it pays off from a few
 * tokens on; the decode kernel, which streams the weights once, stays the choice for one token per sequence.
 *
 * <p>Numerics. For every token {@code t} and row {@code r}: starting from {@code 0}, {@code acc = fma(W[r][c],
 * x_t[c], acc)} for {@code c = 0, 1, ..., cols-1}, where {@code W} is the dequantized weight and {@code x_t[c]}
 * the activation value the decode kernel multiplies with ({@code q * d} for quantized activations). One lane of
 * a vector FMA is exactly {@link Math#fma}, and partial sums pass through {@code out} unchanged between column
 * blocks, so every tile shape, token tail and row tail computes bit for bit the same: a token's result never
 * depends on the tokens or rows that share its call. (Q5_1 alone unpacks {@code d q} and then adds its blocks'
 * {@code m s} as a second fma chain, as ggml computes them: {@link WeightMatrix#panelRow}, {@link
 * WeightMatrix#panelCorrection}.) The two kernels round differently (this one has no per-block integer sums or lane
 * sums), so a backend picks the kernel by a token's role, never by batch size.
 */
final class PanelGemm {

    private PanelGemm() {}

    /** Rows per panel: as many as the widest register tile covers (64 with AVX-512, 16 with AVX2). */
    static final int PANEL = FloatGemm.tileWidth();
    /** Columns per pass over the tokens: the panel slice (256 x 64 floats, 64 KB) stays in L1/L2 while the tokens pass. */
    static final int COLUMN_BLOCK = 256;
    /**
     * Tokens per pass: their slice of activations (256 x 128 floats, 128 KB) and outputs stay in L2. Without it a
     * 4096-token chunk streamed 2 MB per column block from L3 and ran at half the speed of a 512-token one.
     */
    static final int TOKEN_BLOCK = 256;

    private static final ThreadLocal<int[]> LANE_OFFSETS = ThreadLocal.withInitial(() -> new int[Simd.L]);

    /** {@code out[outOffset + t * outStride + r] = W[r] . x_t} for rows {@code [rowFrom, rowTo)}, arguments checked. */
    static void multiply(WeightMatrix m, Activations x, float[] out, int outOffset, int outStride, int rowFrom, int rowTo) {
        int cols = m.cols(), n = x.tokens(), stride = x.stride;
        float[] xs = x.dense();
        float[] rows = Scratch.floats(0, rowStride(cols) * PANEL), panel = Scratch.floats(1, cols * PANEL);
        int r0 = rowFrom;
        while (r0 < rowTo) {
            int left = rowTo - r0;
            int width = left >= PANEL ? PANEL : left >= Simd.L ? left / Simd.L * Simd.L : 1;
            if (width == 1) {
                m.panelRow(r0, rows, 0);
                for (int t = 0; t < n; t++) out[outOffset + t * outStride + r0] = scalarDot(rows, xs, t * stride, cols);
            } else {
                unpack(m, r0, width, rows, panel, LANE_OFFSETS.get());
                for (int t = 0; t < n; t++) java.util.Arrays.fill(out, outOffset + t * outStride + r0, outOffset + t * outStride + r0 + width, 0f);
                for (int t0 = 0; t0 < n; t0 += TOKEN_BLOCK) {
                    int tokens = Math.min(TOKEN_BLOCK, n - t0);
                    for (int k0 = 0; k0 < cols; k0 += COLUMN_BLOCK) {
                        FloatGemm.accumulate(tokens, width, k0, Math.min(cols, k0 + COLUMN_BLOCK), xs, t0 * stride, stride,
                                panel, 0, width, out, outOffset + t0 * outStride + r0, outStride);
                    }
                }
            }
            r0 += width;
        }
        m.panelCorrection(x, out, outOffset, outStride, rowFrom, rowTo);
    }

    /**
     * Rows {@code r0 .. r0+width} as a column-major panel: {@code panel[c * width + j] = W[r0 + j][c]}. The rows
     * are dequantized whole (vectorized per format), then each panel column is gathered from them, one vector
     * of {@link Simd#L} rows at a time: 0.4 ns per value here, against 0.8 for scalar copies.
     */
    private static void unpack(WeightMatrix m, int r0, int width, float[] rows, float[] panel, int[] lanes) {
        int cols = m.cols(), rs = rowStride(cols), l = Simd.L;
        for (int j = 0; j < width; j++) m.panelRow(r0 + j, rows, j * rs);
        for (int j = 0; j < l; j++) lanes[j] = j * rs;
        for (int c = 0; c < cols; c++) {
            for (int v = 0; v < width; v += l) FloatVector.fromArray(F, rows, v * rs + c, lanes, 0).intoArray(panel, c * width + v);
        }
    }

    /** Row pitch of the dequantized rows: one cache line more than the row, so that rows 4 KB apart do not share cache sets. */
    private static int rowStride(int cols) {
        return cols + 16;
    }

    private static float scalarDot(float[] w, float[] xs, int xo, int cols) {
        float acc = 0f;
        for (int c = 0; c < cols; c++) acc = Math.fma(w[c], xs[xo + c], acc);
        return acc;
    }

}
