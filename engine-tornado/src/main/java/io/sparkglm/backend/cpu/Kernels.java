package io.sparkglm.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import io.sparkglm.tensor.LaneSum;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The element-wise and attention kernels of the forward pass (the matrix products live in the tensor
 * package). Numerics follow llama.cpp's CPU ops where it matters for matching its logits: RMSNorm sums
 * squares in double, softmax sums exponentials in double.
 */
final class Kernels {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private Kernels() {}

    /** out = x * rsqrt(mean(x^2) + eps) * w, for one row of n floats. */
    static void rmsNorm(float[] x, int xOff, float[] w, float eps, float[] out, int outOff, int n) {
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float v = x[xOff + i];
            sum += v * v;
        }
        float mean = (float) (sum / n);
        float scale = 1.0f / (float) Math.sqrt(mean + eps);
        for (int i = 0; i < n; i++) {
            out[outOff + i] = (x[xOff + i] * scale) * w[i];
        }
    }

    /** Rotates adjacent pairs (2i, 2i+1) of the first ropeDims dims of one head by the given angles. */
    static void rope(float[] x, int off, float[] cos, float[] sin, int angleOff, int ropeDims) {
        for (int i = 0; i < ropeDims / 2; i++) {
            float c = cos[angleOff + i], s = sin[angleOff + i];
            float x0 = x[off + 2 * i], x1 = x[off + 2 * i + 1];
            x[off + 2 * i] = x0 * c - x1 * s;
            x[off + 2 * i + 1] = x0 * s + x1 * c;
        }
    }

    static float silu(float x) {
        return (float) (x / (1.0 + Math.exp(-x)));
    }

    static float dotF32(MemorySegment seg, long byteOff, float[] q, int qOff, int len) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        int upper = F.loopBound(len);
        for (; i < upper; i += F.length()) {
            FloatVector k = FloatVector.fromMemorySegment(F, seg, byteOff + 4L * i, ByteOrder.LITTLE_ENDIAN);
            acc = k.fma(FloatVector.fromArray(F, q, qOff + i), acc);
        }
        float sum = LaneSum.sum(acc);
        for (; i < len; i++) sum += seg.get(ValueLayout.JAVA_FLOAT_UNALIGNED, byteOff + 4L * i) * q[qOff + i];
        return sum;
    }

    static float dotF16(MemorySegment seg, long index, float[] q, int qOff, int len) {
        float sum = 0;
        for (int i = 0; i < len; i++) {
            sum += Float.float16ToFloat(seg.getAtIndex(ValueLayout.JAVA_SHORT, index + i)) * q[qOff + i];
        }
        return sum;
    }

    static void axpyF32(float a, MemorySegment seg, long byteOff, float[] acc, int accOff, int len) {
        FloatVector va = FloatVector.broadcast(F, a);
        int i = 0;
        int upper = F.loopBound(len);
        for (; i < upper; i += F.length()) {
            FloatVector v = FloatVector.fromMemorySegment(F, seg, byteOff + 4L * i, ByteOrder.LITTLE_ENDIAN);
            v.fma(va, FloatVector.fromArray(F, acc, accOff + i)).intoArray(acc, accOff + i);
        }
        for (; i < len; i++) acc[accOff + i] += a * seg.get(ValueLayout.JAVA_FLOAT_UNALIGNED, byteOff + 4L * i);
    }

    static void axpyF16(float a, MemorySegment seg, long index, float[] acc, int accOff, int len) {
        for (int i = 0; i < len; i++) {
            acc[accOff + i] += a * Float.float16ToFloat(seg.getAtIndex(ValueLayout.JAVA_SHORT, index + i));
        }
    }
}
