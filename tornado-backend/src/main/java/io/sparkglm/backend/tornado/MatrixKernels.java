package io.sparkglm.backend.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.ByteArray;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

import static io.sparkglm.backend.tornado.Kernels.*;

/**
 * The weight side of the forward pass over a step of T tokens: ggml's Q8_0 activation quantization and the
 * matrix products, one work-group of {@link Kernels#LOCAL} threads per (output row, tile of
 * {@link Kernels#TILE} tokens), each weight read once per tile. A token's result is the same whatever tile
 * it lands in, so a step of T tokens gives the logits of T one-token steps.
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
            float inverse = amax != 0f ? 127f / amax : 0f;
            xd.set(i, roundToFp16(amax / 127f));
            for (int k = 0; k < Q8_BLOCK; k++) {
                xq.set(base + k, roundHalfEven(x.get(base + k) * inverse) + 0f);
            }
        }
    }

    // ---------------------------------------------------------------- matrix products over a token tile

    /** What a matrix kernel does with {@code W[r] . x[t]}: store it, add the bias, or add it to {@code out} (residual). */
    public static final int PLAIN = 0, BIAS = 1, RESIDUAL = 2;

    /*
     * out[t, r] = W[r] . x[t] for every token t < count and row r of W [rows, cols]; x is [T, cols], out
     * [T, rows]. One work-group of LOCAL threads per (row, tile of TILE tokens): 2-D global size
     * [rows * LOCAL, ceil(T / TILE)], local [LOCAL, 1]. Each thread reads its share of the row once per tile
     * and keeps one running sum per token, in the order of a one-token dot; the group then adds the partial
     * sums pairwise. A token's result is thus the same whatever tile it is in.
     */

    /** {@code out[t, r] (=|+=) W[r] . x[t] (+ bias[r])} for F32 weights; {@code mode} is PLAIN, BIAS or RESIDUAL. */
    public static void matmulF32(KernelContext context, IntArray count, FloatArray x, FloatArray w, FloatArray bias,
                                 FloatArray out, int cols, int rows, int mode) {
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
                    int at = (first + t) * rows + row;
                    float dot = partial[t * LOCAL];
                    if (mode == BIAS) out.set(at, dot + bias.get(row));
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
     * {@code out[t, r] (=|+=) W[r] . x[t] (+ bias[r])} for Q8_0 weights against Q8_0 activations {@code xq, xd}
     * (ggml's vec_dot_q8_0_q8_0): per block the exact integer dot (products of int8 values and their sums over
     * a block are exact in float), times both scales; each weight byte read once per tile.
     */
    public static void matmulQ8(KernelContext context, IntArray count, FloatArray xq, FloatArray xd, ByteArray w,
                                FloatArray bias, FloatArray out, int cols, int rows, int mode) {
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
                    int at = (first + t) * rows + row;
                    float dot = partial[t * LOCAL];
                    if (mode == BIAS) out.set(at, dot + bias.get(row));
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
}
