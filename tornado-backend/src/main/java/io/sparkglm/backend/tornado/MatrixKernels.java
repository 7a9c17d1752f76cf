package io.sparkglm.backend.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.ByteArray;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;
import uk.ac.manchester.tornado.api.types.arrays.ShortArray;

import static io.sparkglm.backend.tornado.Kernels.*;

/**
 * The weight side of the forward pass over a step of T tokens: the activation preparation ggml does for each
 * weight format (its vec_dot_type: fp16 or bf16 rounding, Q8_0 or Q8_K quantization) and the matrix products
 * on weights in their stored format (F32; F16 and BF16 as 16-bit words; Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K as
 * their GGUF blocks), one work-group of {@link Kernels#LOCAL} threads per (output row, tile of
 * {@link Kernels#TILE} tokens), each weight read once per tile. A token's result is the same whatever tile
 * it lands in, so a step of T tokens gives the logits of T one-token steps.
 *
 * <p>Quantized products follow ggml's vec_dot kernels: integer dots per block (or per unit of a K-quant
 * superblock) held in floats, where every sum of int8 products is exact (each unit is sized so its sum stays
 * below 2^24), then scaled by the weight's and the activation's block scales.
 */
public final class MatrixKernels {

    private MatrixKernels() {}

    private static float silu(float v) {
        return v / (1f + TornadoMath.exp(-v));
    }

    /**
     * ggml's quantize_row_q8_0 on activations, per token: per block of 32, {@code d = fp16(amax / 127)} and
     * {@code q = roundHalfEven(x * 127 / amax)}. Quants go to {@code xq[t * dim + k]} (as floats), scales to
     * {@code xd[t * dim/32 + b]}. One thread per (token, block): global size {@code T * dim / 32}.
     */
    public static void quantizeQ8(KernelContext context, IntArray count, FloatArray x, FloatArray xq, FloatArray xd, int dim) {
        int i = context.globalIdx;                                 // block i of the token-major block list
        if (i < count.get(COUNT) * (dim / Q8_BLOCK)) {
            int base = i * Q8_BLOCK;
            float amax = 0f;
            for (int k = 0; k < Q8_BLOCK; k++) {
                amax = TornadoMath.max(amax, TornadoMath.abs(x.get(base + k)));
            }
            float inverse = amax != 0f ? quotient(127f, amax) : 0f;
            xd.set(i, roundToFp16(quotient(amax, 127f)));
            for (int k = 0; k < Q8_BLOCK; k++) {
                xq.set(base + k, roundHalfEven(x.get(base + k) * inverse) + 0f);
            }
        }
    }

    /**
     * Q8_1 activations (for Q5_1 weights), as the CPU backend and ggml's x86 quantize_row_q8_1: the quants and scale
     * of {@link #quantizeQ8}, and {@code xs[t * dim/32 + b] = fp16(d * sum q)} with d = amax/127 before its fp16
     * rounding. One thread per (token, block): global size {@code T * dim / 32}. (Written out, not shared with
     * quantizeQ8 through a helper: the helper exceeds TornadoVM's inlining limit.)
     */
    public static void quantizeQ8_1(KernelContext context, IntArray count, FloatArray x, FloatArray xq, FloatArray xd,
                                    FloatArray xs, int dim) {
        int i = context.globalIdx;
        if (i < count.get(COUNT) * (dim / Q8_BLOCK)) {
            int base = i * Q8_BLOCK;
            float amax = 0f;
            for (int k = 0; k < Q8_BLOCK; k++) {
                amax = TornadoMath.max(amax, TornadoMath.abs(x.get(base + k)));
            }
            float inverse = amax != 0f ? quotient(127f, amax) : 0f;
            float d = quotient(amax, 127f);
            xd.set(i, roundToFp16(d));
            float sum = 0f;                                        // integers below 2^12: exact
            for (int k = 0; k < Q8_BLOCK; k++) {
                float q = roundHalfEven(x.get(base + k) * inverse) + 0f;
                xq.set(base + k, q);
                sum += q;
            }
            float s = d * sum;
            xs.set(i, s < 0f ? -roundToFp16(-s) : roundToFp16(s));
        }
    }

    /** {@code out[t] = fp16(x[t])} (ties to even) for F16 weights, as ggml. One thread per value: global {@code T * dim}. */
    public static void roundF16(KernelContext context, IntArray count, FloatArray x, FloatArray out, int dim) {
        int i = context.globalIdx;
        if (i < count.get(COUNT) * dim) out.set(i, roundToFp16Signed(x.get(i)));
    }

    /** {@code out[t] = bf16(x[t])} (ggml's rounding, ties to even) for BF16 weights. Global {@code T * dim}. */
    public static void roundBf16(KernelContext context, IntArray count, FloatArray x, FloatArray out, int dim) {
        int i = context.globalIdx;
        if (i < count.get(COUNT) * dim) out.set(i, roundToBf16(x.get(i)));
    }

    /**
     * ggml's quantize_row_q8_K on activations, per token and block of 256: the value of largest magnitude
     * {@code max} (the first one on ties), {@code iscale = -127 / max}, {@code q = min(127, roundHalfEven(iscale * x))},
     * {@code d = 1 / iscale}, and the sum of every 16 quants. Quants go to {@code xq[t * dim + k]}, scales to
     * {@code xd[t * dim/256 + b]}, sums to {@code bsums[t * dim/16 + g]}. One work-group of {@link Kernels#K_GROUP}
     * threads per (token, block), a thread per 16 values: global {@code T * dim / 16}, local 16.
     */
    public static void quantizeQ8K(KernelContext context, IntArray count, FloatArray x, FloatArray xq, FloatArray xd,
                                   FloatArray bsums, int dim) {
        float[] groupAmax = context.allocateFloatLocalArray(K_GROUP);
        float[] groupMax = context.allocateFloatLocalArray(K_GROUP);
        int block = context.groupIdx;                              // block of the token-major block list
        int g = context.localIdx;
        if (block < count.get(COUNT) * (dim / K_BLOCK)) {
            int base = block * K_BLOCK + g * K_GROUP;
            float amax = 0f;
            float max = 0f;
            for (int k = 0; k < K_GROUP; k++) {
                float v = x.get(base + k);
                float a = TornadoMath.abs(v);
                if (a > amax) {
                    amax = a;
                    max = v;
                }
            }
            groupAmax[g] = amax;
            groupMax[g] = max;
            context.localBarrier();
            amax = 0f;
            max = 0f;
            for (int h = 0; h < K_GROUP; h++) {                    // groups in order: the first largest wins, as in ggml
                if (groupAmax[h] > amax) {
                    amax = groupAmax[h];
                    max = groupMax[h];
                }
            }
            float sum = 0f;
            if (amax == 0f) {
                for (int k = 0; k < K_GROUP; k++) xq.set(base + k, 0f);
                if (g == 0) xd.set(block, 0f);
            } else {
                float iscale = quotient(-127f, max);
                for (int k = 0; k < K_GROUP; k++) {
                    float q = TornadoMath.min(127f, roundHalfEven(iscale * x.get(base + k)) + 0f);
                    xq.set(base + k, q);
                    sum += q;
                }
                if (g == 0) xd.set(block, quotient(1f, iscale));
            }
            bsums.set(block * K_GROUP + g, sum);
        }
    }

    // ---------------------------------------------------------------- matrix products over a token tile

    /** What a matrix kernel does with {@code W[r] . x[t]}: store it, add the bias, or add it to {@code out} (residual). */
    public static final int PLAIN = 0, BIAS = 1, RESIDUAL = 2;

    /*
     * out[t * outStride + outOffset + r] = W[r] . x[t] for every token t < count and row r of W [rows, cols]; x
     * is [T, cols]; outStride is rows for a whole matrix, or the fused width when W is one part of it (separate
     * Q, K, V of different types; the bias is then indexed outOffset + r). One work-group of LOCAL threads per
     * (row, tile of TILE tokens): 2-D global size [rows * LOCAL, ceil(T / TILE)], local [LOCAL, 1]. Each thread
     * reads its share of the row once per tile and keeps one running sum per token, in the order of a one-token
     * dot; the group then adds the partial sums pairwise. A token's result is thus the same whatever tile it is
     * in. Local arrays cannot go to helpers (Kernels), so every kernel writes its reduction out.
     */

    /** {@code out[t, r] (=|+=) W[r] . x[t] (+ bias[r])} for F32 weights; {@code mode} is PLAIN, BIAS or RESIDUAL. */
    public static void matmulF32(KernelContext context, IntArray count, FloatArray x, FloatArray w, FloatArray bias,
                                 FloatArray out, int cols, int rows, int outStride, int outOffset, int mode) {
        float[] partial = context.allocateFloatLocalArray(LOCAL * TILE);
        int lid = context.localIdx;
        int row = context.groupIdx;
        int first = context.groupIdy * TILE;
        int n = TornadoMath.min(TILE, count.get(COUNT) - first);
        if (n > 0) {
            for (int t = 0; t < n; t++) partial[t * LOCAL + lid] = 0f;
            for (int c = lid; c < cols; c += LOCAL) {
                float weight = w.get(row * cols + c);
                for (int t = 0; t < n; t++) {
                    partial[t * LOCAL + lid] += weight * x.get((first + t) * cols + c);
                }
            }
            context.localBarrier();
            for (int stride = LOCAL / 2; stride > 0; stride >>= 1) {
                if (lid < stride) {
                    for (int t = 0; t < n; t++) partial[t * LOCAL + lid] += partial[t * LOCAL + lid + stride];
                }
                context.localBarrier();
            }
            if (lid == 0) {
                for (int t = 0; t < n; t++) {
                    int at = (first + t) * outStride + outOffset + row;
                    float dot = partial[t * LOCAL];
                    if (mode == BIAS) out.set(at, dot + bias.get(outOffset + row));
                    else if (mode == RESIDUAL) out.set(at, out.get(at) + dot);
                    else out.set(at, dot);
                }
            }
        }
    }

    /**
     * {@code out[t, i] = silu(W[i] . x[t]) * (W[ffn + i] . x[t])}: gate rows first, then up rows (F32).
     * Global {@code [ffn * LOCAL, ceil(T / TILE)]}.
     */
    public static void gateUpSiluF32(KernelContext context, IntArray count, FloatArray x, FloatArray w, FloatArray out,
                                     int cols, int ffn) {
        float[] gate = context.allocateFloatLocalArray(LOCAL * TILE);
        float[] up = context.allocateFloatLocalArray(LOCAL * TILE);
        int lid = context.localIdx;
        int i = context.groupIdx;
        int first = context.groupIdy * TILE;
        int n = TornadoMath.min(TILE, count.get(COUNT) - first);
        if (n > 0) {
            for (int t = 0; t < n; t++) {
                gate[t * LOCAL + lid] = 0f;
                up[t * LOCAL + lid] = 0f;
            }
            for (int c = lid; c < cols; c += LOCAL) {
                float wGate = w.get(i * cols + c);
                float wUp = w.get((ffn + i) * cols + c);
                for (int t = 0; t < n; t++) {
                    float v = x.get((first + t) * cols + c);
                    gate[t * LOCAL + lid] += wGate * v;
                    up[t * LOCAL + lid] += wUp * v;
                }
            }
            context.localBarrier();
            for (int stride = LOCAL / 2; stride > 0; stride >>= 1) {
                if (lid < stride) {
                    for (int t = 0; t < n; t++) {
                        gate[t * LOCAL + lid] += gate[t * LOCAL + lid + stride];
                        up[t * LOCAL + lid] += up[t * LOCAL + lid + stride];
                    }
                }
                context.localBarrier();
            }
            if (lid == 0) {
                for (int t = 0; t < n; t++) out.set((first + t) * ffn + i, silu(gate[t * LOCAL]) * up[t * LOCAL]);
            }
        }
    }

    /**
     * {@code out[t, r] (=|+=) W[r] . x[t] (+ bias[r])} for F16 or BF16 weights ({@code format} HALF_F16 or
     * HALF_BF16), 16-bit words widened exactly, against activations already rounded to that format
     * ({@link #roundF16}, {@link #roundBf16}), in f32 as ggml.
     */
    public static void matmulHalf(KernelContext context, IntArray count, FloatArray x, ShortArray w, FloatArray bias,
                                  FloatArray out, int cols, int rows, int outStride, int outOffset, int mode, int format) {
        float[] partial = context.allocateFloatLocalArray(LOCAL * TILE);
        int lid = context.localIdx;
        int row = context.groupIdx;
        int first = context.groupIdy * TILE;
        int n = TornadoMath.min(TILE, count.get(COUNT) - first);
        if (n > 0) {
            for (int t = 0; t < n; t++) partial[t * LOCAL + lid] = 0f;
            for (int c = lid; c < cols; c += LOCAL) {
                int bits = w.get(row * cols + c) & 0xFFFF;
                float weight = format == HALF_BF16 ? bf16Value(bits) : fp16Value(bits);
                for (int t = 0; t < n; t++) {
                    partial[t * LOCAL + lid] += weight * x.get((first + t) * cols + c);
                }
            }
            context.localBarrier();
            for (int stride = LOCAL / 2; stride > 0; stride >>= 1) {
                if (lid < stride) {
                    for (int t = 0; t < n; t++) partial[t * LOCAL + lid] += partial[t * LOCAL + lid + stride];
                }
                context.localBarrier();
            }
            if (lid == 0) {
                for (int t = 0; t < n; t++) {
                    int at = (first + t) * outStride + outOffset + row;
                    float dot = partial[t * LOCAL];
                    if (mode == BIAS) out.set(at, dot + bias.get(outOffset + row));
                    else if (mode == RESIDUAL) out.set(at, out.get(at) + dot);
                    else out.set(at, dot);
                }
            }
        }
    }

    /** {@code out[t, i] = silu(W[i] . x[t]) * (W[ffn + i] . x[t])} for F16 or BF16 weights (rounded activations). */
    public static void gateUpSiluHalf(KernelContext context, IntArray count, FloatArray x, ShortArray w, FloatArray out,
                                      int cols, int ffn, int format) {
        float[] gate = context.allocateFloatLocalArray(LOCAL * TILE);
        float[] up = context.allocateFloatLocalArray(LOCAL * TILE);
        int lid = context.localIdx;
        int i = context.groupIdx;
        int first = context.groupIdy * TILE;
        int n = TornadoMath.min(TILE, count.get(COUNT) - first);
        if (n > 0) {
            for (int t = 0; t < n; t++) {
                gate[t * LOCAL + lid] = 0f;
                up[t * LOCAL + lid] = 0f;
            }
            for (int c = lid; c < cols; c += LOCAL) {
                int gateBits = w.get(i * cols + c) & 0xFFFF;
                int upBits = w.get((ffn + i) * cols + c) & 0xFFFF;
                float wGate = format == HALF_BF16 ? bf16Value(gateBits) : fp16Value(gateBits);
                float wUp = format == HALF_BF16 ? bf16Value(upBits) : fp16Value(upBits);
                for (int t = 0; t < n; t++) {
                    float v = x.get((first + t) * cols + c);
                    gate[t * LOCAL + lid] += wGate * v;
                    up[t * LOCAL + lid] += wUp * v;
                }
            }
            context.localBarrier();
            for (int stride = LOCAL / 2; stride > 0; stride >>= 1) {
                if (lid < stride) {
                    for (int t = 0; t < n; t++) {
                        gate[t * LOCAL + lid] += gate[t * LOCAL + lid + stride];
                        up[t * LOCAL + lid] += up[t * LOCAL + lid + stride];
                    }
                }
                context.localBarrier();
            }
            if (lid == 0) {
                for (int t = 0; t < n; t++) out.set((first + t) * ffn + i, silu(gate[t * LOCAL]) * up[t * LOCAL]);
            }
        }
    }

    /**
     * {@code out[t, r] (=|+=) W[r] . x[t] (+ bias[r])} for Q8_0 weights against Q8_0 activations {@code xq, xd}
     * (ggml's vec_dot_q8_0_q8_0): per block the exact integer dot (products of int8 values and their sums over
     * a block are exact in float), times both scales; each weight byte read once per tile.
     */
    public static void matmulQ8(KernelContext context, IntArray count, FloatArray xq, FloatArray xd, ByteArray w,
                                FloatArray bias, FloatArray out, int cols, int rows, int outStride, int outOffset, int mode) {
        float[] partial = context.allocateFloatLocalArray(LOCAL * TILE);
        float[] dots = context.allocateFloatLocalArray(LOCAL * TILE);
        int lid = context.localIdx;
        int row = context.groupIdx;
        int first = context.groupIdy * TILE;
        int n = TornadoMath.min(TILE, count.get(COUNT) - first);
        if (n > 0) {
            int blocks = cols / Q8_BLOCK;
            for (int t = 0; t < n; t++) partial[t * LOCAL + lid] = 0f;
            for (int b = lid; b < blocks; b += LOCAL) {
                int block = (row * blocks + b) * Q8_BLOCK_BYTES;
                for (int t = 0; t < n; t++) dots[t * LOCAL + lid] = 0f;
                for (int k = 0; k < Q8_BLOCK; k++) {
                    float weight = (float) w.get(block + 2 + k);
                    for (int t = 0; t < n; t++) {
                        dots[t * LOCAL + lid] += weight * xq.get((first + t) * cols + b * Q8_BLOCK + k);
                    }
                }
                float scale = fp16At(w, block);
                for (int t = 0; t < n; t++) {
                    partial[t * LOCAL + lid] += dots[t * LOCAL + lid] * (scale * xd.get((first + t) * blocks + b));
                }
            }
            context.localBarrier();
            for (int stride = LOCAL / 2; stride > 0; stride >>= 1) {
                if (lid < stride) {
                    for (int t = 0; t < n; t++) partial[t * LOCAL + lid] += partial[t * LOCAL + lid + stride];
                }
                context.localBarrier();
            }
            if (lid == 0) {
                for (int t = 0; t < n; t++) {
                    int at = (first + t) * outStride + outOffset + row;
                    float dot = partial[t * LOCAL];
                    if (mode == BIAS) out.set(at, dot + bias.get(outOffset + row));
                    else if (mode == RESIDUAL) out.set(at, out.get(at) + dot);
                    else out.set(at, dot);
                }
            }
        }
    }

    /** {@code out[t, i] = silu(W[i] . x[t]) * (W[ffn + i] . x[t])} (Q8_0 weights and activations). */
    public static void gateUpSiluQ8(KernelContext context, IntArray count, FloatArray xq, FloatArray xd, ByteArray w,
                                    FloatArray out, int cols, int ffn) {
        float[] gate = context.allocateFloatLocalArray(LOCAL * TILE);
        float[] up = context.allocateFloatLocalArray(LOCAL * TILE);
        float[] gateDots = context.allocateFloatLocalArray(LOCAL * TILE);
        float[] upDots = context.allocateFloatLocalArray(LOCAL * TILE);
        int lid = context.localIdx;
        int i = context.groupIdx;
        int first = context.groupIdy * TILE;
        int n = TornadoMath.min(TILE, count.get(COUNT) - first);
        if (n > 0) {
            int blocks = cols / Q8_BLOCK;
            for (int t = 0; t < n; t++) {
                gate[t * LOCAL + lid] = 0f;
                up[t * LOCAL + lid] = 0f;
            }
            for (int b = lid; b < blocks; b += LOCAL) {
                int gateBlock = (i * blocks + b) * Q8_BLOCK_BYTES;
                int upBlock = ((ffn + i) * blocks + b) * Q8_BLOCK_BYTES;
                for (int t = 0; t < n; t++) {
                    gateDots[t * LOCAL + lid] = 0f;
                    upDots[t * LOCAL + lid] = 0f;
                }
                for (int k = 0; k < Q8_BLOCK; k++) {
                    float wGate = (float) w.get(gateBlock + 2 + k);
                    float wUp = (float) w.get(upBlock + 2 + k);
                    for (int t = 0; t < n; t++) {
                        float q = xq.get((first + t) * cols + b * Q8_BLOCK + k);
                        gateDots[t * LOCAL + lid] += wGate * q;
                        upDots[t * LOCAL + lid] += wUp * q;
                    }
                }
                float gateScale = fp16At(w, gateBlock);
                float upScale = fp16At(w, upBlock);
                for (int t = 0; t < n; t++) {
                    float xScale = xd.get((first + t) * blocks + b);
                    gate[t * LOCAL + lid] += gateDots[t * LOCAL + lid] * (gateScale * xScale);
                    up[t * LOCAL + lid] += upDots[t * LOCAL + lid] * (upScale * xScale);
                }
            }
            context.localBarrier();
            for (int stride = LOCAL / 2; stride > 0; stride >>= 1) {
                if (lid < stride) {
                    for (int t = 0; t < n; t++) {
                        gate[t * LOCAL + lid] += gate[t * LOCAL + lid + stride];
                        up[t * LOCAL + lid] += up[t * LOCAL + lid + stride];
                    }
                }
                context.localBarrier();
            }
            if (lid == 0) {
                for (int t = 0; t < n; t++) out.set((first + t) * ffn + i, silu(gate[t * LOCAL]) * up[t * LOCAL]);
            }
        }
    }

    /**
     * {@code out[t, r] (=|+=) W[r] . x[t] (+ bias[r])} for Q4_0, Q5_0 or Q5_1 weights ({@code format}, see
     * {@link Kernels#NIBBLE_Q4_0}) against Q8_0 activations (Q8_1 for Q5_1: {@code xs} holds their block sums), as
     * ggml's vec_dot_q4_0_q8_0 / q5_0_q8_0 / q5_1_q8_1: per block the exact integer dot times {@code d * dx}, plus
     * {@code m * s} for Q5_1.
     */
    public static void matmulNibbles(KernelContext context, IntArray count, FloatArray xq, FloatArray xd, FloatArray xs,
                                     ByteArray w, FloatArray bias, FloatArray out, int cols, int rows, int outStride,
                                     int outOffset, int mode, int format) {
        float[] partial = context.allocateFloatLocalArray(LOCAL * TILE);
        float[] dots = context.allocateFloatLocalArray(LOCAL * TILE);
        int lid = context.localIdx;
        int row = context.groupIdx;
        int first = context.groupIdy * TILE;
        int n = TornadoMath.min(TILE, count.get(COUNT) - first);
        if (n > 0) {
            int blocks = cols / Q8_BLOCK;
            for (int t = 0; t < n; t++) partial[t * LOCAL + lid] = 0f;
            for (int b = lid; b < blocks; b += LOCAL) {
                int block = (row * blocks + b) * nibbleBlockBytes(format);
                for (int t = 0; t < n; t++) dots[t * LOCAL + lid] = 0f;
                for (int k = 0; k < Q8_BLOCK / 2; k++) {
                    float low = nibbleCode(w, block, format, k);
                    float high = nibbleCode(w, block, format, k + 16);
                    for (int t = 0; t < n; t++) {
                        int at = (first + t) * cols + b * Q8_BLOCK + k;
                        dots[t * LOCAL + lid] += low * xq.get(at) + high * xq.get(at + 16);
                    }
                }
                float scale = fp16At(w, block);
                float min = format == NIBBLE_Q5_1 ? fp16At(w, block + 2) : 0f;
                for (int t = 0; t < n; t++) {
                    int xb = (first + t) * blocks + b;
                    float term = dots[t * LOCAL + lid] * (scale * xd.get(xb));
                    partial[t * LOCAL + lid] += format == NIBBLE_Q5_1 ? term + min * xs.get(xb) : term;
                }
            }
            context.localBarrier();
            for (int stride = LOCAL / 2; stride > 0; stride >>= 1) {
                if (lid < stride) {
                    for (int t = 0; t < n; t++) partial[t * LOCAL + lid] += partial[t * LOCAL + lid + stride];
                }
                context.localBarrier();
            }
            if (lid == 0) {
                for (int t = 0; t < n; t++) {
                    int at = (first + t) * outStride + outOffset + row;
                    float dot = partial[t * LOCAL];
                    if (mode == BIAS) out.set(at, dot + bias.get(outOffset + row));
                    else if (mode == RESIDUAL) out.set(at, out.get(at) + dot);
                    else out.set(at, dot);
                }
            }
        }
    }

    /** {@code out[t, i] = silu(W[i] . x[t]) * (W[ffn + i] . x[t])} for nibble weights, as {@link #matmulNibbles}. */
    public static void gateUpSiluNibbles(KernelContext context, IntArray count, FloatArray xq, FloatArray xd, FloatArray xs,
                                         ByteArray w, FloatArray out, int cols, int ffn, int format) {
        float[] gate = context.allocateFloatLocalArray(LOCAL * TILE);
        float[] up = context.allocateFloatLocalArray(LOCAL * TILE);
        float[] gateDots = context.allocateFloatLocalArray(LOCAL * TILE);
        float[] upDots = context.allocateFloatLocalArray(LOCAL * TILE);
        int lid = context.localIdx;
        int i = context.groupIdx;
        int first = context.groupIdy * TILE;
        int n = TornadoMath.min(TILE, count.get(COUNT) - first);
        if (n > 0) {
            int blocks = cols / Q8_BLOCK;
            for (int t = 0; t < n; t++) {
                gate[t * LOCAL + lid] = 0f;
                up[t * LOCAL + lid] = 0f;
            }
            for (int b = lid; b < blocks; b += LOCAL) {
                int gateBlock = (i * blocks + b) * nibbleBlockBytes(format);
                int upBlock = ((ffn + i) * blocks + b) * nibbleBlockBytes(format);
                for (int t = 0; t < n; t++) {
                    gateDots[t * LOCAL + lid] = 0f;
                    upDots[t * LOCAL + lid] = 0f;
                }
                for (int k = 0; k < Q8_BLOCK / 2; k++) {
                    float gateLow = nibbleCode(w, gateBlock, format, k);
                    float gateHigh = nibbleCode(w, gateBlock, format, k + 16);
                    float upLow = nibbleCode(w, upBlock, format, k);
                    float upHigh = nibbleCode(w, upBlock, format, k + 16);
                    for (int t = 0; t < n; t++) {
                        int at = (first + t) * cols + b * Q8_BLOCK + k;
                        float qLow = xq.get(at);
                        float qHigh = xq.get(at + 16);
                        gateDots[t * LOCAL + lid] += gateLow * qLow + gateHigh * qHigh;
                        upDots[t * LOCAL + lid] += upLow * qLow + upHigh * qHigh;
                    }
                }
                float gateScale = fp16At(w, gateBlock);
                float upScale = fp16At(w, upBlock);
                float gateMin = format == NIBBLE_Q5_1 ? fp16At(w, gateBlock + 2) : 0f;
                float upMin = format == NIBBLE_Q5_1 ? fp16At(w, upBlock + 2) : 0f;
                for (int t = 0; t < n; t++) {
                    int xb = (first + t) * blocks + b;
                    float xScale = xd.get(xb);
                    float gateTerm = gateDots[t * LOCAL + lid] * (gateScale * xScale);
                    float upTerm = upDots[t * LOCAL + lid] * (upScale * xScale);
                    gate[t * LOCAL + lid] += format == NIBBLE_Q5_1 ? gateTerm + gateMin * xs.get(xb) : gateTerm;
                    up[t * LOCAL + lid] += format == NIBBLE_Q5_1 ? upTerm + upMin * xs.get(xb) : upTerm;
                }
            }
            context.localBarrier();
            for (int stride = LOCAL / 2; stride > 0; stride >>= 1) {
                if (lid < stride) {
                    for (int t = 0; t < n; t++) {
                        gate[t * LOCAL + lid] += gate[t * LOCAL + lid + stride];
                        up[t * LOCAL + lid] += up[t * LOCAL + lid + stride];
                    }
                }
                context.localBarrier();
            }
            if (lid == 0) {
                for (int t = 0; t < n; t++) out.set((first + t) * ffn + i, silu(gate[t * LOCAL]) * up[t * LOCAL]);
            }
        }
    }

    /*
     * K-quants against Q8_K activations (quants xq, superblock scales xd, sums of 16 quants bsums), as ggml's
     * vec_dot_q4_K_q8_K / q5_K / q6_K. A thread takes one unit of a superblock at a time:
     *  - Q4_K/Q5_K: 64 values (sub-blocks 2j and 2j+1, the low and high nibbles of 32 bytes): the integer sum
     *    scale_2j * (q . q8) + scale_2j+1 * (q . q8) (at most 2 * 63 * 31 * 127 * 32 < 2^24, exact in float), times
     *    d * dx, minus dmin * dx * (min_2j * bsums + min_2j+1 * bsums) (the mins' integer part, exact too);
     *  - Q6_K: 32 values (two groups of 16 with their int8 scales): sum of scale_g * (q - 32) * q8 (at most
     *    2 * 128 * 32 * 127 * 16 < 2^24), times d * dx.
     */

    /**
     * {@code out[t, r] (=|+=) W[r] . x[t] (+ bias[r])} for Q4_K ({@code fiveBits} 0: 144-byte superblocks of fp16
     * d, fp16 dmin, 12 bytes of 6-bit scales and mins, 128 bytes of nibbles) or Q5_K ({@code fiveBits} 1: 176 bytes,
     * 32 bytes of fifth bits before the nibbles); value = d * scale_j * q - dmin * min_j.
     */
    public static void matmulQ45K(KernelContext context, IntArray count, FloatArray xq, FloatArray xd, FloatArray bsums,
                                  ByteArray w, FloatArray bias, FloatArray out, int cols, int rows, int outStride,
                                  int outOffset, int mode, int fiveBits) {
        float[] partial = context.allocateFloatLocalArray(LOCAL * TILE);
        float[] dots = context.allocateFloatLocalArray(LOCAL * TILE);
        int lid = context.localIdx;
        int row = context.groupIdx;
        int first = context.groupIdy * TILE;
        int n = TornadoMath.min(TILE, count.get(COUNT) - first);
        if (n > 0) {
            int superblocks = cols / K_BLOCK;
            int groups = cols / K_GROUP;
            int blockBytes = fiveBits == 1 ? Q5K_BLOCK_BYTES : Q4K_BLOCK_BYTES;
            int qsOffset = fiveBits == 1 ? 48 : 16;
            for (int t = 0; t < n; t++) partial[t * LOCAL + lid] = 0f;
            for (int u = lid; u < superblocks * 4; u += LOCAL) {
                int sb = u / 4;
                int j = u % 4;
                int blk = (row * superblocks + sb) * blockBytes;
                float scaleLow = (float) kScale(w, blk + 4, 2 * j);
                float scaleHigh = (float) kScale(w, blk + 4, 2 * j + 1);
                for (int t = 0; t < n; t++) dots[t * LOCAL + lid] = 0f;
                for (int l = 0; l < 32; l++) {
                    int packed = w.get(blk + qsOffset + 32 * j + l) & 0xFF;
                    int low = packed & 0x0F;
                    int high = packed >> 4;
                    if (fiveBits == 1) {
                        int fifth = w.get(blk + 16 + l) & 0xFF;
                        low |= ((fifth >> (2 * j)) & 1) << 4;
                        high |= ((fifth >> (2 * j + 1)) & 1) << 4;
                    }
                    float wLow = scaleLow * (float) low;
                    float wHigh = scaleHigh * (float) high;
                    for (int t = 0; t < n; t++) {
                        int at = (first + t) * cols + sb * K_BLOCK + 64 * j + l;
                        dots[t * LOCAL + lid] += wLow * xq.get(at) + wHigh * xq.get(at + 32);
                    }
                }
                float d = fp16At(w, blk);
                float dmin = fp16At(w, blk + 2);
                float minLow = (float) kMin(w, blk + 4, 2 * j);
                float minHigh = (float) kMin(w, blk + 4, 2 * j + 1);
                for (int t = 0; t < n; t++) {
                    int g = (first + t) * groups + sb * K_GROUP + 4 * j;
                    float mins = minLow * (bsums.get(g) + bsums.get(g + 1)) + minHigh * (bsums.get(g + 2) + bsums.get(g + 3));
                    float dx = xd.get((first + t) * superblocks + sb);
                    partial[t * LOCAL + lid] += dots[t * LOCAL + lid] * (dx * d) + (-dx * dmin) * mins;
                }
            }
            context.localBarrier();
            for (int stride = LOCAL / 2; stride > 0; stride >>= 1) {
                if (lid < stride) {
                    for (int t = 0; t < n; t++) partial[t * LOCAL + lid] += partial[t * LOCAL + lid + stride];
                }
                context.localBarrier();
            }
            if (lid == 0) {
                for (int t = 0; t < n; t++) {
                    int at = (first + t) * outStride + outOffset + row;
                    float dot = partial[t * LOCAL];
                    if (mode == BIAS) out.set(at, dot + bias.get(outOffset + row));
                    else if (mode == RESIDUAL) out.set(at, out.get(at) + dot);
                    else out.set(at, dot);
                }
            }
        }
    }

    /** {@code out[t, i] = silu(W[i] . x[t]) * (W[ffn + i] . x[t])} for Q4_K or Q5_K weights (Q8_K activations). */
    public static void gateUpSiluQ45K(KernelContext context, IntArray count, FloatArray xq, FloatArray xd, FloatArray bsums,
                                      ByteArray w, FloatArray out, int cols, int ffn, int fiveBits) {
        float[] gate = context.allocateFloatLocalArray(LOCAL * TILE);
        float[] up = context.allocateFloatLocalArray(LOCAL * TILE);
        float[] gateDots = context.allocateFloatLocalArray(LOCAL * TILE);
        float[] upDots = context.allocateFloatLocalArray(LOCAL * TILE);
        int lid = context.localIdx;
        int i = context.groupIdx;
        int first = context.groupIdy * TILE;
        int n = TornadoMath.min(TILE, count.get(COUNT) - first);
        if (n > 0) {
            int superblocks = cols / K_BLOCK;
            int groups = cols / K_GROUP;
            int blockBytes = fiveBits == 1 ? Q5K_BLOCK_BYTES : Q4K_BLOCK_BYTES;
            int qsOffset = fiveBits == 1 ? 48 : 16;
            for (int t = 0; t < n; t++) {
                gate[t * LOCAL + lid] = 0f;
                up[t * LOCAL + lid] = 0f;
            }
            for (int u = lid; u < superblocks * 4; u += LOCAL) {
                int sb = u / 4;
                int j = u % 4;
                int gateBlk = (i * superblocks + sb) * blockBytes;
                int upBlk = ((ffn + i) * superblocks + sb) * blockBytes;
                float gateScaleLow = (float) kScale(w, gateBlk + 4, 2 * j);
                float gateScaleHigh = (float) kScale(w, gateBlk + 4, 2 * j + 1);
                float upScaleLow = (float) kScale(w, upBlk + 4, 2 * j);
                float upScaleHigh = (float) kScale(w, upBlk + 4, 2 * j + 1);
                for (int t = 0; t < n; t++) {
                    gateDots[t * LOCAL + lid] = 0f;
                    upDots[t * LOCAL + lid] = 0f;
                }
                for (int l = 0; l < 32; l++) {
                    int gatePacked = w.get(gateBlk + qsOffset + 32 * j + l) & 0xFF;
                    int upPacked = w.get(upBlk + qsOffset + 32 * j + l) & 0xFF;
                    int gateLow = gatePacked & 0x0F;
                    int gateHigh = gatePacked >> 4;
                    int upLow = upPacked & 0x0F;
                    int upHigh = upPacked >> 4;
                    if (fiveBits == 1) {
                        int gateFifth = w.get(gateBlk + 16 + l) & 0xFF;
                        int upFifth = w.get(upBlk + 16 + l) & 0xFF;
                        gateLow |= ((gateFifth >> (2 * j)) & 1) << 4;
                        gateHigh |= ((gateFifth >> (2 * j + 1)) & 1) << 4;
                        upLow |= ((upFifth >> (2 * j)) & 1) << 4;
                        upHigh |= ((upFifth >> (2 * j + 1)) & 1) << 4;
                    }
                    float wGateLow = gateScaleLow * (float) gateLow;
                    float wGateHigh = gateScaleHigh * (float) gateHigh;
                    float wUpLow = upScaleLow * (float) upLow;
                    float wUpHigh = upScaleHigh * (float) upHigh;
                    for (int t = 0; t < n; t++) {
                        int at = (first + t) * cols + sb * K_BLOCK + 64 * j + l;
                        float qLow = xq.get(at);
                        float qHigh = xq.get(at + 32);
                        gateDots[t * LOCAL + lid] += wGateLow * qLow + wGateHigh * qHigh;
                        upDots[t * LOCAL + lid] += wUpLow * qLow + wUpHigh * qHigh;
                    }
                }
                float gateD = fp16At(w, gateBlk);
                float gateDmin = fp16At(w, gateBlk + 2);
                float upD = fp16At(w, upBlk);
                float upDmin = fp16At(w, upBlk + 2);
                float gateMinLow = (float) kMin(w, gateBlk + 4, 2 * j);
                float gateMinHigh = (float) kMin(w, gateBlk + 4, 2 * j + 1);
                float upMinLow = (float) kMin(w, upBlk + 4, 2 * j);
                float upMinHigh = (float) kMin(w, upBlk + 4, 2 * j + 1);
                for (int t = 0; t < n; t++) {
                    int g = (first + t) * groups + sb * K_GROUP + 4 * j;
                    float sumLow = bsums.get(g) + bsums.get(g + 1);
                    float sumHigh = bsums.get(g + 2) + bsums.get(g + 3);
                    float dx = xd.get((first + t) * superblocks + sb);
                    gate[t * LOCAL + lid] += gateDots[t * LOCAL + lid] * (dx * gateD)
                            + (-dx * gateDmin) * (gateMinLow * sumLow + gateMinHigh * sumHigh);
                    up[t * LOCAL + lid] += upDots[t * LOCAL + lid] * (dx * upD)
                            + (-dx * upDmin) * (upMinLow * sumLow + upMinHigh * sumHigh);
                }
            }
            context.localBarrier();
            for (int stride = LOCAL / 2; stride > 0; stride >>= 1) {
                if (lid < stride) {
                    for (int t = 0; t < n; t++) {
                        gate[t * LOCAL + lid] += gate[t * LOCAL + lid + stride];
                        up[t * LOCAL + lid] += up[t * LOCAL + lid + stride];
                    }
                }
                context.localBarrier();
            }
            if (lid == 0) {
                for (int t = 0; t < n; t++) out.set((first + t) * ffn + i, silu(gate[t * LOCAL]) * up[t * LOCAL]);
            }
        }
    }

    /**
     * {@code out[t, r] (=|+=) W[r] . x[t] (+ bias[r])} for Q6_K weights (210-byte superblocks: 128 bytes of low
     * nibbles, 64 of 2-bit highs, 16 int8 scales, fp16 d; value = d * scale_g * (q - 32)). Unit u of a superblock:
     * half u / 4, k = u % 4: values 128 * half + 32 * k + l for l in 0..31.
     */
    public static void matmulQ6K(KernelContext context, IntArray count, FloatArray xq, FloatArray xd, ByteArray w,
                                 FloatArray bias, FloatArray out, int cols, int rows, int outStride, int outOffset, int mode) {
        float[] partial = context.allocateFloatLocalArray(LOCAL * TILE);
        float[] dots = context.allocateFloatLocalArray(LOCAL * TILE);
        int lid = context.localIdx;
        int row = context.groupIdx;
        int first = context.groupIdy * TILE;
        int n = TornadoMath.min(TILE, count.get(COUNT) - first);
        if (n > 0) {
            int superblocks = cols / K_BLOCK;
            for (int t = 0; t < n; t++) partial[t * LOCAL + lid] = 0f;
            for (int u = lid; u < superblocks * 8; u += LOCAL) {
                int sb = u / 8;
                int half = (u % 8) / 4;
                int k = u % 4;
                int blk = (row * superblocks + sb) * Q6K_BLOCK_BYTES;
                for (int t = 0; t < n; t++) dots[t * LOCAL + lid] = 0f;
                for (int l = 0; l < 32; l++) {
                    float weight = q6Weight(w, blk, half, k, l);
                    for (int t = 0; t < n; t++) {
                        dots[t * LOCAL + lid] += weight * xq.get((first + t) * cols + sb * K_BLOCK + 128 * half + 32 * k + l);
                    }
                }
                float d = fp16At(w, blk + 208);
                for (int t = 0; t < n; t++) {
                    partial[t * LOCAL + lid] += dots[t * LOCAL + lid] * (xd.get((first + t) * superblocks + sb) * d);
                }
            }
            context.localBarrier();
            for (int stride = LOCAL / 2; stride > 0; stride >>= 1) {
                if (lid < stride) {
                    for (int t = 0; t < n; t++) partial[t * LOCAL + lid] += partial[t * LOCAL + lid + stride];
                }
                context.localBarrier();
            }
            if (lid == 0) {
                for (int t = 0; t < n; t++) {
                    int at = (first + t) * outStride + outOffset + row;
                    float dot = partial[t * LOCAL];
                    if (mode == BIAS) out.set(at, dot + bias.get(outOffset + row));
                    else if (mode == RESIDUAL) out.set(at, out.get(at) + dot);
                    else out.set(at, dot);
                }
            }
        }
    }

    /** {@code out[t, i] = silu(W[i] . x[t]) * (W[ffn + i] . x[t])} for Q6_K weights (Q8_K activations). */
    public static void gateUpSiluQ6K(KernelContext context, IntArray count, FloatArray xq, FloatArray xd, ByteArray w,
                                     FloatArray out, int cols, int ffn) {
        float[] gate = context.allocateFloatLocalArray(LOCAL * TILE);
        float[] up = context.allocateFloatLocalArray(LOCAL * TILE);
        float[] gateDots = context.allocateFloatLocalArray(LOCAL * TILE);
        float[] upDots = context.allocateFloatLocalArray(LOCAL * TILE);
        int lid = context.localIdx;
        int i = context.groupIdx;
        int first = context.groupIdy * TILE;
        int n = TornadoMath.min(TILE, count.get(COUNT) - first);
        if (n > 0) {
            int superblocks = cols / K_BLOCK;
            for (int t = 0; t < n; t++) {
                gate[t * LOCAL + lid] = 0f;
                up[t * LOCAL + lid] = 0f;
            }
            for (int u = lid; u < superblocks * 8; u += LOCAL) {
                int sb = u / 8;
                int half = (u % 8) / 4;
                int k = u % 4;
                int gateBlk = (i * superblocks + sb) * Q6K_BLOCK_BYTES;
                int upBlk = ((ffn + i) * superblocks + sb) * Q6K_BLOCK_BYTES;
                for (int t = 0; t < n; t++) {
                    gateDots[t * LOCAL + lid] = 0f;
                    upDots[t * LOCAL + lid] = 0f;
                }
                for (int l = 0; l < 32; l++) {
                    float wGate = q6Weight(w, gateBlk, half, k, l);
                    float wUp = q6Weight(w, upBlk, half, k, l);
                    for (int t = 0; t < n; t++) {
                        float q = xq.get((first + t) * cols + sb * K_BLOCK + 128 * half + 32 * k + l);
                        gateDots[t * LOCAL + lid] += wGate * q;
                        upDots[t * LOCAL + lid] += wUp * q;
                    }
                }
                float gateD = fp16At(w, gateBlk + 208);
                float upD = fp16At(w, upBlk + 208);
                for (int t = 0; t < n; t++) {
                    float dx = xd.get((first + t) * superblocks + sb);
                    gate[t * LOCAL + lid] += gateDots[t * LOCAL + lid] * (dx * gateD);
                    up[t * LOCAL + lid] += upDots[t * LOCAL + lid] * (dx * upD);
                }
            }
            context.localBarrier();
            for (int stride = LOCAL / 2; stride > 0; stride >>= 1) {
                if (lid < stride) {
                    for (int t = 0; t < n; t++) {
                        gate[t * LOCAL + lid] += gate[t * LOCAL + lid + stride];
                        up[t * LOCAL + lid] += up[t * LOCAL + lid + stride];
                    }
                }
                context.localBarrier();
            }
            if (lid == 0) {
                for (int t = 0; t < n; t++) out.set((first + t) * ffn + i, silu(gate[t * LOCAL]) * up[t * LOCAL]);
            }
        }
    }
}
