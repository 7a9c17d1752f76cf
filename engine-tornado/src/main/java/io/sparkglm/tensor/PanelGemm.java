package io.sparkglm.tensor;

import jdk.incubator.vector.FloatVector;

import static io.sparkglm.tensor.Simd.F;

/**
 * The prompt kernel: a weight matrix times many tokens as a blocked float GEMM, for any storage format.
 *
 * <p>Weights are unpacked {@link #PANEL} rows at a time (through {@code dequantizeRow}) into a column-major
 * float panel, so one vector holds one column of {@link Simd#L} rows. Tokens then pass the panel in tiles of
 * {@code PANEL} rows x {@link #TILE_TOKENS} tokens whose twelve accumulators stay in registers: per column,
 * two weight vectors and six broadcast activations feed twelve FMAs. That reaches ~90% of the float FMA peak,
 * where the decode kernel ({@link WeightMatrix#matmul}), which converts quantized weights in its inner loop
 * and applies a scale per 32-block, reaches ~30%. The panel is unpacked once per call, so it pays off from a few
 * tokens on; the decode kernel, which streams the weights once, stays the choice for one token per sequence.
 *
 * <p>Numerics. For every token {@code t} and row {@code r}: starting from {@code 0}, {@code acc = fma(W[r][c],
 * x_t[c], acc)} for {@code c = 0, 1, ..., cols-1}, where {@code W} is the dequantized weight and {@code x_t[c]}
 * the activation value the decode kernel multiplies with ({@code q * d} for quantized activations). One lane of
 * a vector FMA is exactly {@link Math#fma}, and partial sums pass through {@code out} unchanged between column
 * blocks, so every tile shape, token tail and row tail computes bit for bit the same: a token's result never
 * depends on the tokens or rows that share its call. The two kernels round differently (this one has no
 * per-block integer sums or lane sums), so a backend picks the kernel by a token's role, never by batch size.
 */
final class PanelGemm {

    private PanelGemm() {}

    /** Rows per panel: two vectors. */
    static final int PANEL = 2 * Simd.L;
    /** Tokens per register tile: 2 x 6 accumulators, 2 weight vectors and a broadcast fit 16 registers (AVX2) or more. */
    static final int TILE_TOKENS = 6;
    /** Columns per pass over the tokens: a 128 x 32 float panel slice (16 KB) stays in L1 while every token passes. */
    static final int COLUMN_BLOCK = 128;

    private static final ThreadLocal<int[]> LANE_OFFSETS = ThreadLocal.withInitial(() -> new int[Simd.L]);
    private static final ThreadLocal<float[][]> BUFFERS = ThreadLocal.withInitial(() -> new float[2][0]);

    /** {@code out[outOffset + t * outStride + r] = W[r] . x_t} for rows {@code [rowFrom, rowTo)}, arguments checked. */
    static void multiply(WeightMatrix m, Activations x, float[] out, int outOffset, int outStride, int rowFrom, int rowTo) {
        int cols = m.cols(), n = x.tokens(), stride = x.stride;
        float[] xs = x.dense();
        float[] rows = buffer(0, rowStride(cols) * PANEL), panel = buffer(1, cols * PANEL);
        int r0 = rowFrom;
        while (r0 < rowTo) {
            int width = rowTo - r0 >= PANEL ? PANEL : rowTo - r0 >= Simd.L ? Simd.L : 1;
            if (width == 1) {
                m.dequantizeRowChecked(r0, rows, 0);
                for (int t = 0; t < n; t++) out[outOffset + t * outStride + r0] = scalarDot(rows, xs, t * stride, cols);
            } else {
                unpack(m, r0, width, rows, panel, LANE_OFFSETS.get());
                for (int t = 0; t < n; t++) java.util.Arrays.fill(out, outOffset + t * outStride + r0, outOffset + t * outStride + r0 + width, 0f);
                for (int k0 = 0; k0 < cols; k0 += COLUMN_BLOCK) {
                    int k1 = Math.min(cols, k0 + COLUMN_BLOCK);
                    int t = 0;
                    if (width == PANEL) {
                        for (; t + TILE_TOKENS <= n; t += TILE_TOKENS) tile2x6(panel, k0, k1, xs, t * stride, stride, out, outOffset + t * outStride + r0, outStride);
                        for (; t < n; t++) tile2x1(panel, k0, k1, xs, t * stride, out, outOffset + t * outStride + r0);
                    } else {
                        for (; t + TILE_TOKENS <= n; t += TILE_TOKENS) tile1x6(panel, k0, k1, xs, t * stride, stride, out, outOffset + t * outStride + r0, outStride);
                        for (; t < n; t++) tile1x1(panel, k0, k1, xs, t * stride, out, outOffset + t * outStride + r0);
                    }
                }
            }
            r0 += width;
        }
    }

    private static float[] buffer(int slot, int size) {
        float[][] buffers = BUFFERS.get();
        if (buffers[slot].length < size) buffers[slot] = new float[size];
        return buffers[slot];
    }

    /**
     * Rows {@code r0 .. r0+width} as a column-major panel: {@code panel[c * width + j] = W[r0 + j][c]}. The rows
     * are dequantized whole (vectorized per format), then each panel column is gathered from them, one vector
     * of {@link Simd#L} rows at a time: 0.4 ns per value here, against 0.8 for scalar copies.
     */
    private static void unpack(WeightMatrix m, int r0, int width, float[] rows, float[] panel, int[] lanes) {
        int cols = m.cols(), rs = rowStride(cols), l = Simd.L;
        for (int j = 0; j < width; j++) m.dequantizeRowChecked(r0 + j, rows, j * rs);
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

    // The tiles below are written out by hand: C2 keeps a fixed set of vector locals in registers, while
    // arrays of vectors or loops over accumulators would be boxed.

    private static void tile2x6(float[] panel, int k0, int k1, float[] xs, int xo, int stride, float[] out, int o, int os) {
        int l = Simd.L;
        FloatVector a0 = FloatVector.fromArray(F, out, o), b0 = FloatVector.fromArray(F, out, o + l);
        FloatVector a1 = FloatVector.fromArray(F, out, o + os), b1 = FloatVector.fromArray(F, out, o + os + l);
        FloatVector a2 = FloatVector.fromArray(F, out, o + 2 * os), b2 = FloatVector.fromArray(F, out, o + 2 * os + l);
        FloatVector a3 = FloatVector.fromArray(F, out, o + 3 * os), b3 = FloatVector.fromArray(F, out, o + 3 * os + l);
        FloatVector a4 = FloatVector.fromArray(F, out, o + 4 * os), b4 = FloatVector.fromArray(F, out, o + 4 * os + l);
        FloatVector a5 = FloatVector.fromArray(F, out, o + 5 * os), b5 = FloatVector.fromArray(F, out, o + 5 * os + l);
        for (int k = k0; k < k1; k++) {
            FloatVector w0 = FloatVector.fromArray(F, panel, k * PANEL), w1 = FloatVector.fromArray(F, panel, k * PANEL + l);
            FloatVector v = FloatVector.broadcast(F, xs[xo + k]);
            a0 = w0.fma(v, a0);
            b0 = w1.fma(v, b0);
            v = FloatVector.broadcast(F, xs[xo + stride + k]);
            a1 = w0.fma(v, a1);
            b1 = w1.fma(v, b1);
            v = FloatVector.broadcast(F, xs[xo + 2 * stride + k]);
            a2 = w0.fma(v, a2);
            b2 = w1.fma(v, b2);
            v = FloatVector.broadcast(F, xs[xo + 3 * stride + k]);
            a3 = w0.fma(v, a3);
            b3 = w1.fma(v, b3);
            v = FloatVector.broadcast(F, xs[xo + 4 * stride + k]);
            a4 = w0.fma(v, a4);
            b4 = w1.fma(v, b4);
            v = FloatVector.broadcast(F, xs[xo + 5 * stride + k]);
            a5 = w0.fma(v, a5);
            b5 = w1.fma(v, b5);
        }
        a0.intoArray(out, o);
        b0.intoArray(out, o + l);
        a1.intoArray(out, o + os);
        b1.intoArray(out, o + os + l);
        a2.intoArray(out, o + 2 * os);
        b2.intoArray(out, o + 2 * os + l);
        a3.intoArray(out, o + 3 * os);
        b3.intoArray(out, o + 3 * os + l);
        a4.intoArray(out, o + 4 * os);
        b4.intoArray(out, o + 4 * os + l);
        a5.intoArray(out, o + 5 * os);
        b5.intoArray(out, o + 5 * os + l);
    }

    private static void tile2x1(float[] panel, int k0, int k1, float[] xs, int xo, float[] out, int o) {
        int l = Simd.L;
        FloatVector a = FloatVector.fromArray(F, out, o), b = FloatVector.fromArray(F, out, o + l);
        for (int k = k0; k < k1; k++) {
            FloatVector v = FloatVector.broadcast(F, xs[xo + k]);
            a = FloatVector.fromArray(F, panel, k * PANEL).fma(v, a);
            b = FloatVector.fromArray(F, panel, k * PANEL + l).fma(v, b);
        }
        a.intoArray(out, o);
        b.intoArray(out, o + l);
    }

    private static void tile1x6(float[] panel, int k0, int k1, float[] xs, int xo, int stride, float[] out, int o, int os) {
        int l = Simd.L;
        FloatVector a0 = FloatVector.fromArray(F, out, o), a1 = FloatVector.fromArray(F, out, o + os);
        FloatVector a2 = FloatVector.fromArray(F, out, o + 2 * os), a3 = FloatVector.fromArray(F, out, o + 3 * os);
        FloatVector a4 = FloatVector.fromArray(F, out, o + 4 * os), a5 = FloatVector.fromArray(F, out, o + 5 * os);
        for (int k = k0; k < k1; k++) {
            FloatVector w = FloatVector.fromArray(F, panel, k * l);
            a0 = w.fma(FloatVector.broadcast(F, xs[xo + k]), a0);
            a1 = w.fma(FloatVector.broadcast(F, xs[xo + stride + k]), a1);
            a2 = w.fma(FloatVector.broadcast(F, xs[xo + 2 * stride + k]), a2);
            a3 = w.fma(FloatVector.broadcast(F, xs[xo + 3 * stride + k]), a3);
            a4 = w.fma(FloatVector.broadcast(F, xs[xo + 4 * stride + k]), a4);
            a5 = w.fma(FloatVector.broadcast(F, xs[xo + 5 * stride + k]), a5);
        }
        a0.intoArray(out, o);
        a1.intoArray(out, o + os);
        a2.intoArray(out, o + 2 * os);
        a3.intoArray(out, o + 3 * os);
        a4.intoArray(out, o + 4 * os);
        a5.intoArray(out, o + 5 * os);
    }

    private static void tile1x1(float[] panel, int k0, int k1, float[] xs, int xo, float[] out, int o) {
        int l = Simd.L;
        FloatVector a = FloatVector.fromArray(F, out, o);
        for (int k = k0; k < k1; k++) a = FloatVector.fromArray(F, panel, k * l).fma(FloatVector.broadcast(F, xs[xo + k]), a);
        a.intoArray(out, o);
    }
}
