package io.sparkglm.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;

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
        if (v.length() != 16) return sumByLanes(v);
        v = v.add(v.rearrange(DOWN_8));
        v = v.add(v.rearrange(DOWN_4));
        v = v.add(v.rearrange(DOWN_2));
        v = v.add(v.rearrange(DOWN_1));
        return v.lane(0);
    }

    // Shuffles bringing lane i + half to lane i (AVX-512 vectors). Adding each to the vector performs the halving
    // order in registers; lanes at and above half collect garbage that is never read. Float addition is
    // commutative, so v[i] + v[i+half] is the same bits either way round. Spilling to an array instead cost
    // ~10% of a decode step (one sum per output row). Constants, so that C2 intrinsifies the rearranges.
    private static final VectorShuffle<Float> DOWN_8 = down(8);
    private static final VectorShuffle<Float> DOWN_4 = down(4);
    private static final VectorShuffle<Float> DOWN_2 = down(2);
    private static final VectorShuffle<Float> DOWN_1 = down(1);

    private static VectorShuffle<Float> down(int half) {
        return VectorShuffle.fromOp(FloatVector.SPECIES_512, i -> (i + half) % 16);
    }

    /**
     * The {@link Simd#L} lanes at {@code lanes[from ..]} summed in the same order, in place. For kernels whose many
     * accumulators leave C2 no inlining budget for {@link #sum(FloatVector)}: a vector passed to a call it does not
     * inline is boxed, where storing the lanes is a plain vector store.
     */
    static float sum(float[] lanes, int from) {
        for (int half = Simd.L / 2; half > 0; half /= 2) {
            for (int i = 0; i < half; i++) lanes[from + i] += lanes[from + i + half];
        }
        return lanes[from];
    }

    /** The reference order on an array: what {@link #sum} must equal bit for bit. */
    static float sumByLanes(FloatVector v) {
        float[] lanes = v.toArray();
        for (int half = lanes.length / 2; half > 0; half /= 2) {
            for (int i = 0; i < half; i++) lanes[i] += lanes[i + half];
        }
        return lanes[0];
    }
}
