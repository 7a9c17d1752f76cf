package io.sparkglm.tensor;

import jdk.incubator.vector.FloatVector;

/**
 * Sums a vector's lanes in one fixed order: halves added pairwise (lane i + lane i+n/2, then again on
 * the lower half), the order of x86's horizontal-add idiom that ggml uses.
 *
 * <p>{@code reduceLanes(ADD)} leaves the order of float additions to the implementation: interpreted
 * and JIT-compiled code add differently, so the same input could give different bits early and late in
 * a run, and a sequence's logits would depend on the batch it shares. Every kernel sums through here.
 */
public final class LaneSum {

    private LaneSum() {}

    public static float sum(FloatVector v) {
        float[] lanes = v.toArray();
        for (int half = lanes.length / 2; half > 0; half /= 2) {
            for (int i = 0; i < half; i++) lanes[i] += lanes[i + half];
        }
        return lanes[0];
    }

    /**
     * {@code out[o + i * outStride] = sum of lanes[from + i * L .. from + (i+1) * L)} for {@code i < count},
     * each in the same order as {@link #sum(FloatVector)} (the accumulators of a tile, stored side by side).
     */
    static void sums(float[] lanes, int from, int count, float[] out, int o, int outStride) {
        int n = Simd.L;
        for (int i = 0; i < count; i++) {
            int base = from + i * n;
            for (int half = n / 2; half > 0; half /= 2) {
                for (int j = 0; j < half; j++) lanes[base + j] += lanes[base + j + half];
            }
            out[o + i * outStride] = lanes[base];
        }
    }
}
