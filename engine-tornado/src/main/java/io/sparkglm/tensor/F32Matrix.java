package io.sparkglm.tensor;

import io.sparkglm.model.GgmlType;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

import static io.sparkglm.tensor.Simd.F;
import static io.sparkglm.tensor.Simd.L;

/**
 * F32 weights (one class per format so each gets its own JIT profile and code). Activations are used as they are.
 *
 * <p>Batch invariance: every token gets the same float operations in the same order whichever kernel
 * runs it (one token alone or four sharing each weight load): two accumulators per token (even and odd
 * vectors of columns, a leftover vector into the even one), {@link LaneSum} of their sum, then the
 * scalar tail in column order. Tokens are taken in blocks of {@link #TOKEN_BLOCK} (outermost) so their
 * activations stay in cache while the rows stream past.
 */
final class F32Matrix extends WeightMatrix {

    static final int TOKEN_BLOCK = 32;

    private final MemorySegment data;
    private final long rowBytes;

    F32Matrix(MemorySegment data, int rows, int cols) {
        super(rows, cols);
        this.data = data;
        this.rowBytes = 4L * cols;
    }

    @Override public GgmlType type() { return GgmlType.F32; }

    @Override public ActivationFormat activationFormat() { return ActivationFormat.F32; }

    private FloatVector weights(long offset) {
        return Simd.floats(data, offset);
    }

    private float weight(long offset) {
        return data.get(Simd.F32, offset);
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
                int t = tb;
                for (; t + 4 <= tbEnd; t += 4) dot4(row, xs, x.stride, t, out, outOffset + t * outStride + r, outStride, lanes);
                for (; t < tbEnd; t++) out[outOffset + t * outStride + r] = dot1(row, xs, t * x.stride);
            }
        }
    }

    private float dot1(long row, float[] xs, int x0) {
        int cols = cols();
        FloatVector a0 = FloatVector.zero(F), b0 = a0;
        int c = 0;
        for (; c + 2 * L <= cols; c += 2 * L) {
            a0 = weights(row + 4L * c).fma(FloatVector.fromArray(F, xs, x0 + c), a0);
            b0 = weights(row + 4L * (c + L)).fma(FloatVector.fromArray(F, xs, x0 + c + L), b0);
        }
        if (c + L <= cols) {
            a0 = weights(row + 4L * c).fma(FloatVector.fromArray(F, xs, x0 + c), a0);
            c += L;
        }
        float sum = LaneSum.sum(a0.add(b0));
        for (; c < cols; c++) sum += weight(row + 4L * c) * xs[x0 + c];
        return sum;
    }

    private void dot4(long row, float[] xs, int stride, int t, float[] out, int o, int outStride, float[] lanes) {
        int cols = cols();
        int x0 = t * stride, x1 = x0 + stride, x2 = x1 + stride, x3 = x2 + stride;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        int c = 0;
        for (; c + 2 * L <= cols; c += 2 * L) {
            FloatVector w = weights(row + 4L * c), v = weights(row + 4L * (c + L));
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
            FloatVector w = weights(row + 4L * c);
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
            float w = weight(row + 4L * c);
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
        MemorySegment.copy(data, Simd.F32, row * rowBytes, dst, dstOffset, cols());
    }
}
