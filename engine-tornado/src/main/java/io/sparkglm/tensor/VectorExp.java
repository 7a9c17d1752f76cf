package io.sparkglm.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

import static io.sparkglm.tensor.Simd.F;
import static io.sparkglm.tensor.Simd.L;

/**
 * {@code exp} of many floats at once, for softmax: attention takes one exponential per score, and at long contexts
 * {@link Math#exp} (5-20 ns each) cost several times the score's own arithmetic.
 *
 * <p>Cephes' expf: {@code x = n ln2 + r} with {@code n} the nearest integer to {@code x / ln2} and {@code |r| <= ln2/2}
 * (ln2 split in two for an exact {@code r}), {@code e^r} by a degree-6 polynomial, times {@code 2^n} built from the
 * exponent bits; within 2 ulp of the correctly rounded result. Only basic IEEE operations (fma, add, multiply,
 * conversions), the same in every lane, in the scalar tail, in the interpreter and in compiled code: the result of an
 * element depends on its value only, never on where it falls in a vector or on the JIT (the Vector API's own
 * {@code EXP} is a native library call when compiled and Java code when not, which may round differently).
 */
public final class VectorExp {

    private VectorExp() {}

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    /** Below this, e^x is under the smallest normal float: 0 (softmax loses nothing it could use). */
    private static final float MIN_X = -87.33654f;
    /** 1.5 * 2^23: adding and subtracting it rounds a float of magnitude under 2^22 to the nearest integer. */
    private static final float ROUNDER = 12582912f;
    private static final int ROUNDER_BITS = Float.floatToRawIntBits(ROUNDER);
    private static final float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f,
            P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;

    /**
     * {@code a[i] = exp(a[i])} for {@code i} in {@code [from, to)}; every {@code a[i]} must be at most 0 or NaN-free
     * negative infinity (softmax's scores minus their max), which give values in {@code [0, 1]}.
     */
    public static void expNonPositive(float[] a, int from, int to) {
        int i = from;
        FloatVector minX = FloatVector.broadcast(F, MIN_X), log2e = FloatVector.broadcast(F, LOG2E);
        FloatVector rounder = FloatVector.broadcast(F, ROUNDER), ln2Hi = FloatVector.broadcast(F, -LN2_HI);
        FloatVector ln2Lo = FloatVector.broadcast(F, -LN2_LO), p1 = FloatVector.broadcast(F, P1);
        FloatVector p2 = FloatVector.broadcast(F, P2), p3 = FloatVector.broadcast(F, P3);
        FloatVector p4 = FloatVector.broadcast(F, P4), p5 = FloatVector.broadcast(F, P5);
        for (int upper = from + F.loopBound(to - from); i < upper; i += L) {
            FloatVector x = FloatVector.fromArray(F, a, i);
            var under = x.compare(VectorOperators.LT, minX);
            x = x.max(minX);
            FloatVector t = x.fma(log2e, rounder);
            FloatVector n = t.sub(rounder);
            FloatVector r = n.fma(ln2Hi, x);
            r = n.fma(ln2Lo, r);
            FloatVector p = r.fma(P0, P1).fma(r, p2).fma(r, p3).fma(r, p4).fma(r, p5);
            FloatVector y = p.fma(r.mul(r), r).add(1f);
            IntVector bits = t.reinterpretAsInts().sub(ROUNDER_BITS).add(127).lanewise(VectorOperators.LSHL, 23);
            y.mul(bits.reinterpretAsFloats()).blend(0f, under).intoArray(a, i);
        }
        for (; i < to; i++) a[i] = expNonPositive(a[i]);
    }

    /** The same arithmetic for one value. */
    public static float expNonPositive(float v) {
        if (v < MIN_X) return 0f;
        float t = Math.fma(v, LOG2E, ROUNDER);
        float n = t - ROUNDER;
        float r = Math.fma(n, -LN2_HI, v);
        r = Math.fma(n, -LN2_LO, r);
        float p = Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(r, P0, P1), r, P2), r, P3), r, P4), r, P5);
        float y = Math.fma(p, r * r, r) + 1f;
        float scale = Float.intBitsToFloat((Float.floatToRawIntBits(t) - ROUNDER_BITS + 127) << 23);
        return y * scale;
    }
}
