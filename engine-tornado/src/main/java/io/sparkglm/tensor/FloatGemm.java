package io.sparkglm.tensor;

import jdk.incubator.vector.FloatVector;

import static io.sparkglm.tensor.Simd.F;

/**
 * A float GEMM micro-kernel: {@code c[i][j] += sum over k of a[i][k] * b[k][j]}, with {@code b} laid out so that
 * consecutive {@code j} are adjacent (one vector holds {@link Simd#L} of them). Tiles of two vectors of {@code j}
 * by six rows {@code i} keep twelve accumulators in registers: per {@code k}, two loads of {@code b} and six
 * broadcasts of {@code a} feed twelve FMAs; with AVX-512's 32 registers, tiles of four vectors by six rows
 * (24 accumulators) halve the broadcasts per FMA. Used by the prompt kernel
 * ({@link PanelGemm}: i = tokens, j = weight rows) and by prompt attention (i = query heads, j = key positions or
 * value dimensions).
 *
 * <p>Numerics: each {@code c[i][j]} is one chain {@code c = fma(a[i][k], b[k][j], c)} over {@code k} in order
 * (a lane of a vector FMA is exactly {@link Math#fma}), whatever the tile it falls in: results never depend on
 * {@code m}, {@code n} or the tiling.
 */
public final class FloatGemm {

    private FloatGemm() {}

    /** Rows per register tile. */
    private static final int TILE_ROWS = 6;
    /**
     * Four vectors of j per tile (24 accumulators) where the CPU has 32 vector registers (AVX-512): half the
     * broadcasts per FMA of the two-vector tile, measured 94-105 against 84-100 GFLOP/s. With 16 registers
     * (AVX2) it would spill, so narrower CPUs keep the two-vector tile.
     */
    private static final boolean WIDE_TILES = Simd.L >= 16;

    /** The j-width the widest tile covers: a panel of this many rows uses it fully. */
    public static int tileWidth() {
        return (WIDE_TILES ? 4 : 2) * Simd.L;
    }

    /** The vector width {@code n} must be a multiple of. */
    public static int lanes() {
        return Simd.L;
    }

    /**
     * {@code c[co + i*cs + j] = fma chain over k in [k0, k1) of a[ao + i*as + k] * b[bo + k*bs + j]}, starting from
     * the value in {@code c}, for {@code i < m} and {@code j < n}; {@code n} must be a multiple of {@link #lanes()}.
     */
    public static void accumulate(int m, int n, int k0, int k1, float[] a, int ao, int as, float[] b, int bo, int bs,
                                  float[] c, int co, int cs) {
        if (n % Simd.L != 0) throw new IllegalArgumentException("n = " + n + " is not a multiple of " + Simd.L);
        if (m <= 0 || n <= 0 || k1 <= k0) return;
        requireInside(ao + k0, (long) (m - 1) * as + (k1 - k0), a.length, "a");
        requireInside(bo + (long) k0 * bs, (long) (k1 - k0 - 1) * bs + n, b.length, "b");
        requireInside(co, (long) (m - 1) * cs + n, c.length, "c");
        int l = Simd.L, j = 0;
        if (WIDE_TILES) {
            for (; j + 4 * l <= n; j += 4 * l) {
                int i = 0;
                for (; i + TILE_ROWS <= m; i += TILE_ROWS) tile4x6(b, bo + j, bs, k0, k1, a, ao + i * as, as, c, co + i * cs + j, cs);
                for (; i < m; i++) {
                    tile2x1(b, bo + j, bs, k0, k1, a, ao + i * as, c, co + i * cs + j);
                    tile2x1(b, bo + j + 2 * l, bs, k0, k1, a, ao + i * as, c, co + i * cs + j + 2 * l);
                }
            }
        }
        for (; j + 2 * l <= n; j += 2 * l) {
            int i = 0;
            for (; i + TILE_ROWS <= m; i += TILE_ROWS) tile2x6(b, bo + j, bs, k0, k1, a, ao + i * as, as, c, co + i * cs + j, cs);
            for (; i < m; i++) tile2x1(b, bo + j, bs, k0, k1, a, ao + i * as, c, co + i * cs + j);
        }
        for (; j < n; j += l) {
            int i = 0;
            for (; i + TILE_ROWS <= m; i += TILE_ROWS) tile1x6(b, bo + j, bs, k0, k1, a, ao + i * as, as, c, co + i * cs + j, cs);
            for (; i < m; i++) tile1x1(b, bo + j, bs, k0, k1, a, ao + i * as, c, co + i * cs + j);
        }
    }

    private static void requireInside(long from, long size, int length, String what) {
        if (from < 0 || from + size > length) {
            throw new IndexOutOfBoundsException(what + "[" + from + " .. " + (from + size) + ") outside an array of " + length);
        }
    }

    // Below, b is the "panel" (po + k*ps + j) and a the rows (xo + i*stride + k). The tiles are written out by hand: C2 keeps a fixed set of vector locals in registers, while
    // arrays of vectors or loops over accumulators would be boxed.

    private static void tile4x6(float[] panel, int po, int ps, int k0, int k1, float[] xs, int xo, int stride, float[] out, int o, int os) {
        int l = Simd.L;
        FloatVector a0 = FloatVector.fromArray(F, out, o), b0 = FloatVector.fromArray(F, out, o + l);
        FloatVector c0 = FloatVector.fromArray(F, out, o + 2 * l), d0 = FloatVector.fromArray(F, out, o + 3 * l);
        FloatVector a1 = FloatVector.fromArray(F, out, o + os), b1 = FloatVector.fromArray(F, out, o + os + l);
        FloatVector c1 = FloatVector.fromArray(F, out, o + os + 2 * l), d1 = FloatVector.fromArray(F, out, o + os + 3 * l);
        FloatVector a2 = FloatVector.fromArray(F, out, o + 2 * os), b2 = FloatVector.fromArray(F, out, o + 2 * os + l);
        FloatVector c2 = FloatVector.fromArray(F, out, o + 2 * os + 2 * l), d2 = FloatVector.fromArray(F, out, o + 2 * os + 3 * l);
        FloatVector a3 = FloatVector.fromArray(F, out, o + 3 * os), b3 = FloatVector.fromArray(F, out, o + 3 * os + l);
        FloatVector c3 = FloatVector.fromArray(F, out, o + 3 * os + 2 * l), d3 = FloatVector.fromArray(F, out, o + 3 * os + 3 * l);
        FloatVector a4 = FloatVector.fromArray(F, out, o + 4 * os), b4 = FloatVector.fromArray(F, out, o + 4 * os + l);
        FloatVector c4 = FloatVector.fromArray(F, out, o + 4 * os + 2 * l), d4 = FloatVector.fromArray(F, out, o + 4 * os + 3 * l);
        FloatVector a5 = FloatVector.fromArray(F, out, o + 5 * os), b5 = FloatVector.fromArray(F, out, o + 5 * os + l);
        FloatVector c5 = FloatVector.fromArray(F, out, o + 5 * os + 2 * l), d5 = FloatVector.fromArray(F, out, o + 5 * os + 3 * l);
        for (int k = k0; k < k1; k++) {
            int p = po + k * ps;
            FloatVector w0 = FloatVector.fromArray(F, panel, p), w1 = FloatVector.fromArray(F, panel, p + l);
            FloatVector w2 = FloatVector.fromArray(F, panel, p + 2 * l), w3 = FloatVector.fromArray(F, panel, p + 3 * l);
            FloatVector v = FloatVector.broadcast(F, xs[xo + k]);
            a0 = w0.fma(v, a0);
            b0 = w1.fma(v, b0);
            c0 = w2.fma(v, c0);
            d0 = w3.fma(v, d0);
            v = FloatVector.broadcast(F, xs[xo + stride + k]);
            a1 = w0.fma(v, a1);
            b1 = w1.fma(v, b1);
            c1 = w2.fma(v, c1);
            d1 = w3.fma(v, d1);
            v = FloatVector.broadcast(F, xs[xo + 2 * stride + k]);
            a2 = w0.fma(v, a2);
            b2 = w1.fma(v, b2);
            c2 = w2.fma(v, c2);
            d2 = w3.fma(v, d2);
            v = FloatVector.broadcast(F, xs[xo + 3 * stride + k]);
            a3 = w0.fma(v, a3);
            b3 = w1.fma(v, b3);
            c3 = w2.fma(v, c3);
            d3 = w3.fma(v, d3);
            v = FloatVector.broadcast(F, xs[xo + 4 * stride + k]);
            a4 = w0.fma(v, a4);
            b4 = w1.fma(v, b4);
            c4 = w2.fma(v, c4);
            d4 = w3.fma(v, d4);
            v = FloatVector.broadcast(F, xs[xo + 5 * stride + k]);
            a5 = w0.fma(v, a5);
            b5 = w1.fma(v, b5);
            c5 = w2.fma(v, c5);
            d5 = w3.fma(v, d5);
        }
        a0.intoArray(out, o);
        b0.intoArray(out, o + l);
        c0.intoArray(out, o + 2 * l);
        d0.intoArray(out, o + 3 * l);
        a1.intoArray(out, o + os);
        b1.intoArray(out, o + os + l);
        c1.intoArray(out, o + os + 2 * l);
        d1.intoArray(out, o + os + 3 * l);
        a2.intoArray(out, o + 2 * os);
        b2.intoArray(out, o + 2 * os + l);
        c2.intoArray(out, o + 2 * os + 2 * l);
        d2.intoArray(out, o + 2 * os + 3 * l);
        a3.intoArray(out, o + 3 * os);
        b3.intoArray(out, o + 3 * os + l);
        c3.intoArray(out, o + 3 * os + 2 * l);
        d3.intoArray(out, o + 3 * os + 3 * l);
        a4.intoArray(out, o + 4 * os);
        b4.intoArray(out, o + 4 * os + l);
        c4.intoArray(out, o + 4 * os + 2 * l);
        d4.intoArray(out, o + 4 * os + 3 * l);
        a5.intoArray(out, o + 5 * os);
        b5.intoArray(out, o + 5 * os + l);
        c5.intoArray(out, o + 5 * os + 2 * l);
        d5.intoArray(out, o + 5 * os + 3 * l);
    }

    private static void tile2x6(float[] panel, int po, int ps, int k0, int k1, float[] xs, int xo, int stride, float[] out, int o, int os) {
        int l = Simd.L;
        FloatVector a0 = FloatVector.fromArray(F, out, o), b0 = FloatVector.fromArray(F, out, o + l);
        FloatVector a1 = FloatVector.fromArray(F, out, o + os), b1 = FloatVector.fromArray(F, out, o + os + l);
        FloatVector a2 = FloatVector.fromArray(F, out, o + 2 * os), b2 = FloatVector.fromArray(F, out, o + 2 * os + l);
        FloatVector a3 = FloatVector.fromArray(F, out, o + 3 * os), b3 = FloatVector.fromArray(F, out, o + 3 * os + l);
        FloatVector a4 = FloatVector.fromArray(F, out, o + 4 * os), b4 = FloatVector.fromArray(F, out, o + 4 * os + l);
        FloatVector a5 = FloatVector.fromArray(F, out, o + 5 * os), b5 = FloatVector.fromArray(F, out, o + 5 * os + l);
        for (int k = k0; k < k1; k++) {
            FloatVector w0 = FloatVector.fromArray(F, panel, po + k * ps), w1 = FloatVector.fromArray(F, panel, po + k * ps + l);
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

    private static void tile2x1(float[] panel, int po, int ps, int k0, int k1, float[] xs, int xo, float[] out, int o) {
        int l = Simd.L;
        FloatVector a = FloatVector.fromArray(F, out, o), b = FloatVector.fromArray(F, out, o + l);
        for (int k = k0; k < k1; k++) {
            FloatVector v = FloatVector.broadcast(F, xs[xo + k]);
            a = FloatVector.fromArray(F, panel, po + k * ps).fma(v, a);
            b = FloatVector.fromArray(F, panel, po + k * ps + l).fma(v, b);
        }
        a.intoArray(out, o);
        b.intoArray(out, o + l);
    }

    private static void tile1x6(float[] panel, int po, int ps, int k0, int k1, float[] xs, int xo, int stride, float[] out, int o, int os) {
        int l = Simd.L;
        FloatVector a0 = FloatVector.fromArray(F, out, o), a1 = FloatVector.fromArray(F, out, o + os);
        FloatVector a2 = FloatVector.fromArray(F, out, o + 2 * os), a3 = FloatVector.fromArray(F, out, o + 3 * os);
        FloatVector a4 = FloatVector.fromArray(F, out, o + 4 * os), a5 = FloatVector.fromArray(F, out, o + 5 * os);
        for (int k = k0; k < k1; k++) {
            FloatVector w = FloatVector.fromArray(F, panel, po + k * ps);
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

    private static void tile1x1(float[] panel, int po, int ps, int k0, int k1, float[] xs, int xo, float[] out, int o) {
        int l = Simd.L;
        FloatVector a = FloatVector.fromArray(F, out, o);
        for (int k = k0; k < k1; k++) a = FloatVector.fromArray(F, panel, po + k * ps).fma(FloatVector.broadcast(F, xs[xo + k]), a);
        a.intoArray(out, o);
    }
}
