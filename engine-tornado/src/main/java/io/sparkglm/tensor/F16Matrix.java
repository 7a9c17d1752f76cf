package io.sparkglm.tensor;

import io.sparkglm.model.GgmlType;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

import static io.sparkglm.tensor.Simd.F;
import static io.sparkglm.tensor.Simd.L;

/**
 * F16 weights (one class per format so each gets its own JIT profile and code). As in ggml, the activations are first
 * rounded to fp16 ({@link ActivationFormat#F16}); the dot product itself runs in f32 on exactly widened
 * weights.
 * Rows without infinities or NaN (all real ones) are widened by a shift, a mask and a multiply by 2^112,
 * which is exact for normal and subnormal halves; rows with them take the general widening.
 *
 * <p>Batch invariance: every token gets the same float operations in the same order whichever kernel
 * runs it (one token alone or four sharing each weight load): two accumulators per token (even and odd
 * vectors of columns, a leftover vector into the even one), {@link LaneSum} of their sum, then the
 * scalar tail in column order. Tokens are taken in blocks of {@link #TOKEN_BLOCK} (outermost) so their
 * activations stay in cache while the rows stream past.
 */
final class F16Matrix extends WeightMatrix {

    static final int TOKEN_BLOCK = 32;

    private final MemorySegment data;
    private final long rowBytes;

    F16Matrix(MemorySegment data, int rows, int cols) {
        super(rows, cols);
        this.data = data;
        this.rowBytes = 2L * cols;
        this.rowKind = new byte[rows];
    }

    @Override public GgmlType type() { return GgmlType.F16; }

    @Override public ActivationFormat activationFormat() { return ActivationFormat.F16; }

    /**
     * Per row: 0 not yet looked at, 1 only finite values (the 4-instruction widening is exact), 2 has an
     * infinity or NaN (the general widening). Filled lazily by whichever thread first reads the row; a
     * race only repeats the check.
     */
    private final byte[] rowKind;

    private FloatVector weights(long offset, boolean finite) {
        return finite ? Simd.finiteHalfsToFloats(data, offset) : Simd.halfsToFloats(data, offset);
    }

    private float weight(long offset) {
        return Float.float16ToFloat(data.get(Simd.FP16, offset));
    }

    private boolean finiteRow(int r, long row) {
        byte kind = rowKind[r];
        if (kind == 0) {
            kind = Simd.hasNonFiniteHalf(data, row, cols()) ? (byte) 2 : (byte) 1;
            rowKind[r] = kind;
        }
        return kind == 1;
    }

    @Override
    void matmulChecked(Activations x, float[] out, int outOffset, int outStride, int rowFrom, int rowTo) {
        int n = x.tokens();
        float[] lanes = n >= 4 ? new float[4 * Simd.L] : null;
        float[] xs = x.values;
        for (int tb = 0; tb < n; tb += TOKEN_BLOCK) {
            int tbEnd = Math.min(n, tb + TOKEN_BLOCK);
            for (int r = rowFrom; r < rowTo; r++) {
                long row = r * rowBytes;
                boolean finite = finiteRow(r, row);
                int t = tb;
                for (; t + 4 <= tbEnd; t += 4) dot4(row, finite, xs, x.stride, t, out, outOffset + t * outStride + r, outStride, lanes);
                for (; t < tbEnd; t++) out[outOffset + t * outStride + r] = dot1(row, finite, xs, t * x.stride);
            }
        }
    }

    private float dot1(long row, boolean finite, float[] xs, int x0) {
        int cols = cols();
        FloatVector a0 = FloatVector.zero(F), b0 = a0;
        int c = 0;
        for (; c + 2 * L <= cols; c += 2 * L) {
            a0 = weights(row + 2L * c, finite).fma(FloatVector.fromArray(F, xs, x0 + c), a0);
            b0 = weights(row + 2L * (c + L), finite).fma(FloatVector.fromArray(F, xs, x0 + c + L), b0);
        }
        if (c + L <= cols) {
            a0 = weights(row + 2L * c, finite).fma(FloatVector.fromArray(F, xs, x0 + c), a0);
            c += L;
        }
        float sum = LaneSum.sum(a0.add(b0));
        for (; c < cols; c++) sum += weight(row + 2L * c) * xs[x0 + c];
        return sum;
    }

    private void dot4(long row, boolean finite, float[] xs, int stride, int t, float[] out, int o, int outStride, float[] lanes) {
        int cols = cols();
        int x0 = t * stride, x1 = x0 + stride, x2 = x1 + stride, x3 = x2 + stride;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        int c = 0;
        for (; c + 2 * L <= cols; c += 2 * L) {
            FloatVector w = weights(row + 2L * c, finite), v = weights(row + 2L * (c + L), finite);
            a0 = w.fma(FloatVector.fromArray(F, xs, x0 + c), a0);
            a1 = w.fma(FloatVector.fromArray(F, xs, x1 + c), a1);
            a2 = w.fma(FloatVector.fromArray(F, xs, x2 + c), a2);
            a3 = w.fma(FloatVector.fromArray(F, xs, x3 + c), a3);
            b0 = v.fma(FloatVector.fromArray(F, xs, x0 + c + L), b0);
            b1 = v.fma(FloatVector.fromArray(F, xs, x1 + c + L), b1);
            b2 = v.fma(FloatVector.fromArray(F, xs, x2 + c + L), b2);
            b3 = v.fma(FloatVector.fromArray(F, xs, x3 + c + L), b3);
        }
        if (c + L <= cols) {
            FloatVector w = weights(row + 2L * c, finite);
            a0 = w.fma(FloatVector.fromArray(F, xs, x0 + c), a0);
            a1 = w.fma(FloatVector.fromArray(F, xs, x1 + c), a1);
            a2 = w.fma(FloatVector.fromArray(F, xs, x2 + c), a2);
            a3 = w.fma(FloatVector.fromArray(F, xs, x3 + c), a3);
            c += L;
        }
        a0.add(b0).intoArray(lanes, 0);
        a1.add(b1).intoArray(lanes, L);
        a2.add(b2).intoArray(lanes, 2 * L);
        a3.add(b3).intoArray(lanes, 3 * L);
        float s0 = LaneSum.sum(lanes, 0), s1 = LaneSum.sum(lanes, L), s2 = LaneSum.sum(lanes, 2 * L), s3 = LaneSum.sum(lanes, 3 * L);
        for (; c < cols; c++) {
            float w = weight(row + 2L * c);
            s0 += w * xs[x0 + c];
            s1 += w * xs[x1 + c];
            s2 += w * xs[x2 + c];
            s3 += w * xs[x3 + c];
        }
        out[o] = s0;
        out[o + outStride] = s1;
        out[o + 2 * outStride] = s2;
        out[o + 3 * outStride] = s3;
    }

    @Override
    void dequantizeRowChecked(int row, float[] dst, int dstOffset) {
        long base = row * rowBytes;
        boolean finite = finiteRow(row, base);
        int c = 0;
        for (; c + L <= cols(); c += L) weights(base + 2L * c, finite).intoArray(dst, dstOffset + c);
        for (; c < cols(); c++) dst[dstOffset + c] = weight(base + 2L * c);
    }
}
