package io.sparkglm.tensor;

/**
 * How a weight format wants its input prepared before the dot product (ggml's {@code vec_dot_type}).
 * Matching ggml here is what makes our logits agree with llama.cpp's CPU backend:
 * <ul>
 *   <li>{@link #F32}: used as is, for F32 weights;</li>
 *   <li>{@link #F16}: every value rounded to fp16 (round to nearest even), for F16 weights;</li>
 *   <li>{@link #BF16}: every value rounded to bf16 (ggml's rounding: nearest even, NaN kept quiet), for BF16;</li>
 *   <li>{@link #Q8_0}: blocks of 32, {@code d = amax/127} stored as fp16, {@code q = rint(x * 127/amax)},
 *       for Q8_0, Q4_0 and Q5_0 weights;</li>
 *   <li>{@link #Q8_1}: Q8_0's blocks, scales and quants, plus per block {@code s = d * sum(q)} stored as fp16
 *       (d before its fp16 rounding, as the x86 {@code quantize_row_q8_1}), for Q5_1 weights;</li>
 *   <li>{@link #Q8_K}: blocks of 256, float {@code d}, quants and sums of 16 quants ({@code bsums}),
 *       for Q4_K, Q5_K and Q6_K weights.</li>
 * </ul>
 */
public enum ActivationFormat {
    F32(1), F16(1), BF16(1), Q8_0(32), Q8_1(32), Q8_K(256);

    private final int blockSize;

    ActivationFormat(int blockSize) { this.blockSize = blockSize; }

    /** The row length must be a multiple of this. */
    public int blockSize() { return blockSize; }
}
