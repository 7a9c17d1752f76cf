package io.sparkglm.backend.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.ByteArray;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * The GLM-4 forward pass as TornadoVM kernels (KernelContext style), over a step of T tokens at once.
 *
 * <p>A step holds tokens of several sequences (prompt chunks and single decode tokens). Activations are
 * token-major blocks {@code [T, dim]}; every weight matrix is read once per tile of {@link #TILE} tokens;
 * RMSNorm, Q8_0 activation quantization, RoPE and the KV-cache write run per token; attention runs per
 * (token, head) over that token's own sequence slot up to its own position. A token's arithmetic does not
 * depend on which tokens share its step or its tile, so a step of T tokens gives the same logits as T steps
 * of one token.
 *
 * <p>Every kernel is plain Java that TornadoVM compiles to OpenCL C (or PTX); the same methods also run on
 * the host, which is how the tests' references stay honest about what a kernel computes. Constraints that
 * shape the code (../shared/PLATFORM.md):
 * <ul>
 *   <li>no fp16 on PoCL: Q8_0 blocks are read from a {@link ByteArray} in GGUF layout (34 bytes: fp16
 *       scale, 32 int8) and the fp16 scale is decoded with integer and float arithmetic;</li>
 *   <li>no {@code Float.intBitsToFloat} in the OpenCL backend: fp16 rounding is done with powers of two;</li>
 *   <li>scalar arguments are frozen when a task is created: the step's size and each token's id, position
 *       and cache slot come through an {@link IntArray} copied in every step ({@link #stepIndex});</li>
 *   <li>reductions use KernelContext local memory and barriers ({@code @Reduce} was wrong on PoCL).</li>
 * </ul>
 *
 * <p>Work-group shapes the host must use: row reductions run in groups of {@link #LOCAL} threads, one group
 * per (output row, token tile) for matrices (2-D grid {@code [rows * LOCAL, ceil(T / TILE)]}), per token
 * for RMSNorm and per (token, head) for attention. The host sizes grids to the step's T; kernels still check
 * every index against the count in the step array, so a larger grid is harmless.
 */
public final class Kernels {

    /** Threads per work-group for row reductions, RMSNorm and attention (a power of two). */
    public static final int LOCAL = 64;
    /** Tokens per matrix work-group: each weight is read once per tile of this many tokens. */
    public static final int TILE = 8;
    /** Largest head dimension the attention kernel's local accumulator holds. */
    public static final int MAX_HEAD_DIM = 256;
    /** GGUF Q8_0: 32 values per block, stored as an fp16 scale and 32 signed bytes. */
    public static final int Q8_BLOCK = 32;
    public static final int Q8_BLOCK_BYTES = 34;

    /**
     * The per-step array: {@code [T, then per token t: token id, position, first cache row of its slot]}.
     * Index 0 (the count) is shared with the logits' row list {@code [L, row_0 .. row_L-1]}.
     */
    public static final int COUNT = 0;
    public static final int STEP_TOKEN = 0;
    public static final int STEP_POSITION = 1;
    public static final int STEP_CACHE_BASE = 2;
    public static final int STEP_FIELDS = 3;

    /** Index of {@code field} of token {@code t} in the step array. */
    public static int stepIndex(int t, int field) {
        return 1 + t * STEP_FIELDS + field;
    }

    private Kernels() {}

    // ---------------------------------------------------------------- scalar helpers (inlined into kernels)

    /** The fp16 value stored little-endian at {@code bytes[offset..offset+1]} (finite values; no inf/NaN in weights). */
    public static float fp16At(ByteArray bytes, int offset) {
        int bits = (bytes.get(offset) & 0xFF) | ((bytes.get(offset + 1) & 0xFF) << 8);
        int exponent = (bits >> 10) & 0x1F;
        int mantissa = bits & 0x3FF;
        float magnitude;
        if (exponent == 0) {
            magnitude = mantissa * 5.9604645e-8f;                                // subnormal: m * 2^-24
        } else {
            magnitude = (1024 + mantissa) * ((float) (1 << exponent) * 2.9802322e-8f); // (1024+m) * 2^(e-25)
        }
        return (bits & 0x8000) != 0 ? -magnitude : magnitude;
    }

    /** Round half to even, as {@code Math.rint} (and x86's default rounding in ggml's quantizer). */
    public static float roundHalfEven(float v) {
        float f = TornadoMath.floor(v);
        float r = v - f;                       // exact: f and v share the exponent range
        if (r > 0.5f) return f + 1f;
        if (r < 0.5f) return f;
        float half = f * 0.5f;
        return half == TornadoMath.floor(half) ? f : f + 1f;
    }

    /** A non-negative float rounded to the nearest fp16 value (ties to even), kept as a float; no bit casts. */
    public static float roundToFp16(float v) {
        if (v < 6.1035156e-5f) {                                   // below 2^-14: fp16 subnormal grid 2^-24
            return roundHalfEven(v * 16777216f) * 5.9604645e-8f;
        }
        float p = 1f;                                              // p = 2^floor(log2 v), by exact halving/doubling
        while (p > v) p *= 0.5f;
        while (p * 2f <= v) p *= 2f;
        float ulp = p * 9.765625e-4f;                              // 10 fraction bits: ulp = p * 2^-10
        return roundHalfEven(v / ulp) * ulp;
    }

    private static float silu(float v) {
        return v / (1f + TornadoMath.exp(-v));
    }

    // ---------------------------------------------------------------- embedding

    /** {@code x[t] = table[token_t]} for an F32 table {@code [vocab, dim]}. Global size {@code T * dim}. */
    public static void embedF32(KernelContext context, IntArray step, FloatArray table, FloatArray x, int dim) {
        int i = context.globalIdx;
        int t = i / dim;
        if (t < step.get(COUNT)) {
            x.set(i, table.get(step.get(stepIndex(t, STEP_TOKEN)) * dim + i % dim));
        }
    }

    /** {@code x[t] = dequantize(table[token_t])} for a Q8_0 table {@code [vocab, dim]}. Global size {@code T * dim}. */
    public static void embedQ8(KernelContext context, IntArray step, ByteArray table, FloatArray x, int dim) {
        int i = context.globalIdx;
        int t = i / dim;
        if (t < step.get(COUNT)) {
            int d = i % dim;
            int block = (step.get(stepIndex(t, STEP_TOKEN)) * (dim / Q8_BLOCK) + d / Q8_BLOCK) * Q8_BLOCK_BYTES;
            x.set(i, (float) table.get(block + 2 + d % Q8_BLOCK) * fp16At(table, block));
        }
    }

    // ---------------------------------------------------------------- normalization and quantization

    /*
     * Local arrays must not be passed to helper methods: TornadoVM (5.2.1-jdk25-dev, OpenCL) then indexes them
     * like Java heap arrays (byte offset plus a 16-byte header) and reads/writes outside them. Hence the
     * reductions below are written out in every kernel.
     */

    /**
     * {@code out[t] = (x[t] * rsqrt(mean(x[t]^2) + eps)) * w} in fp32, as ggml (rms_norm, then mul), for each
     * token of the step. One work-group of {@link #LOCAL} threads per token: global {@code T * LOCAL}.
     */
    public static void rmsNorm(KernelContext context, IntArray count, FloatArray x, FloatArray w, FloatArray out, int dim, float eps) {
        float[] scratch = context.allocateFloatLocalArray(LOCAL);
        int t = context.groupIdx;
        int lid = context.localIdx;
        if (t < count.get(COUNT)) {
            float squares = 0f;
            for (int i = lid; i < dim; i += LOCAL) {
                float v = x.get(t * dim + i);
                squares += v * v;
            }
            scratch[lid] = squares;
            context.localBarrier();
            for (int stride = LOCAL / 2; stride > 0; stride >>= 1) {
                if (lid < stride) scratch[lid] += scratch[lid + stride];
                context.localBarrier();
            }
            float scale = 1f / TornadoMath.sqrt(scratch[0] / dim + eps);
            for (int i = lid; i < dim; i += LOCAL) {
                out.set(t * dim + i, (x.get(t * dim + i) * scale) * w.get(i));
            }
        }
    }

    /**
     * The final norm for the rows whose logits are wanted: {@code out[j] = rmsNorm(x[rows[1 + j]])} for
     * {@code j < rows[0]}, so the logits matrix runs over those rows only. Global {@code L * LOCAL}.
     */
    public static void rmsNormGather(KernelContext context, IntArray rows, FloatArray x, FloatArray w, FloatArray out, int dim, float eps) {
        float[] scratch = context.allocateFloatLocalArray(LOCAL);
        int j = context.groupIdx;
        int lid = context.localIdx;
        if (j < rows.get(COUNT)) {
            int from = rows.get(1 + j);
            float squares = 0f;
            for (int i = lid; i < dim; i += LOCAL) {
                float v = x.get(from * dim + i);
                squares += v * v;
            }
            scratch[lid] = squares;
            context.localBarrier();
            for (int stride = LOCAL / 2; stride > 0; stride >>= 1) {
                if (lid < stride) scratch[lid] += scratch[lid + stride];
                context.localBarrier();
            }
            float scale = 1f / TornadoMath.sqrt(scratch[0] / dim + eps);
            for (int i = lid; i < dim; i += LOCAL) {
                out.set(j * dim + i, (x.get(from * dim + i) * scale) * w.get(i));
            }
        }
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

    // ---------------------------------------------------------------- RoPE, KV cache, attention

    /**
     * Per token t: rotates the first {@code ropeDims} dims of every Q and K head in {@code qkv[t]} ([all Q heads
     * | all K groups | all V groups]) as adjacent pairs (2i, 2i+1), with {@code cos/sin} of
     * {@code position_t * theta_i} from the host-made table {@code rope[(position * ropeDims/2 + i) * 2 + {0: cos,
     * 1: sin}]}; then writes the token's K and V into the caches ({@code [rows, kvDim]} each) at row
     * {@code cacheBase_t + position_t}. One thread per (token, pair): global {@code T * (heads + kvHeads) * headDim / 2}.
     */
    public static void ropeAndCache(KernelContext context, IntArray step, FloatArray qkv, FloatArray rope,
                                    FloatArray keyCache, FloatArray valueCache,
                                    int heads, int kvHeads, int headDim, int ropeDims) {
        int pairsPerHead = headDim / 2;
        int pairsPerToken = (heads + kvHeads) * pairsPerHead;
        int t = context.globalIdx / pairsPerToken;
        int pair = context.globalIdx % pairsPerToken;
        int kvDim = kvHeads * headDim;
        int qDim = heads * headDim;
        if (t < step.get(COUNT)) {
            int position = step.get(stepIndex(t, STEP_POSITION));
            int row = step.get(stepIndex(t, STEP_CACHE_BASE)) + position;
            int tokenBase = t * (qDim + 2 * kvDim);
            int head = pair / pairsPerHead;
            int i = pair % pairsPerHead;
            int index = tokenBase + head * headDim + 2 * i;        // Q heads then K groups, contiguous in qkv
            float x0 = qkv.get(index);
            float x1 = qkv.get(index + 1);
            if (2 * i < ropeDims) {
                int angle = (position * (ropeDims / 2) + i) * 2;
                float cos = rope.get(angle);
                float sin = rope.get(angle + 1);
                float r0 = x0 * cos - x1 * sin;
                float r1 = x0 * sin + x1 * cos;
                x0 = r0;
                x1 = r1;
                qkv.set(index, x0);
                qkv.set(index + 1, x1);
            }
            if (head >= heads) {
                int cached = row * kvDim + (index - tokenBase - qDim);
                keyCache.set(cached, x0);
                keyCache.set(cached + 1, x1);
            }
            if (pair < kvDim / 2) {
                int cached = row * kvDim + 2 * pair;
                valueCache.set(cached, qkv.get(tokenBase + qDim + kvDim + 2 * pair));
                valueCache.set(cached + 1, qkv.get(tokenBase + qDim + kvDim + 2 * pair + 1));
            }
        }
    }

    /**
     * Causal attention of each token over its own sequence's cache positions {@code 0..position_t} (rows from
     * {@code cacheBase_t}; the step's K/V are written before this kernel runs), with online softmax: one
     * work-group of {@link #LOCAL} threads per (token, query head), positions in tiles of LOCAL (one score per
     * thread), then the context accumulated per dimension. Query head {@code h} reads KV group
     * {@code h / (heads / kvHeads)}. Writes {@code out[t * heads * headDim + h * headDim + d]}.
     * Global {@code T * heads * LOCAL}.
     */
    public static void attention(KernelContext context, IntArray step, FloatArray qkv, FloatArray keyCache,
                                 FloatArray valueCache, FloatArray out,
                                 int heads, int kvHeads, int headDim, float scale) {
        float[] scores = context.allocateFloatLocalArray(LOCAL);
        float[] weights = context.allocateFloatLocalArray(LOCAL);
        float[] acc = context.allocateFloatLocalArray(MAX_HEAD_DIM);
        int lid = context.localIdx;
        int t = context.groupIdx / heads;
        int head = context.groupIdx % heads;
        if (t < step.get(COUNT)) {
            int kvDim = kvHeads * headDim;
            int qBase = t * (heads * headDim + 2 * kvDim) + head * headDim;
            int kvBase = (head / (heads / kvHeads)) * headDim;
            int length = step.get(stepIndex(t, STEP_POSITION)) + 1;
            int firstRow = step.get(stepIndex(t, STEP_CACHE_BASE));

            for (int d = lid; d < headDim; d += LOCAL) acc[d] = 0f;
            float runningMax = -Float.MAX_VALUE;
            float runningSum = 0f;
            for (int tile = 0; tile < length; tile += LOCAL) {
                int p = tile + lid;
                float score = -Float.MAX_VALUE;
                if (p < length) {
                    float dot = 0f;
                    for (int d = 0; d < headDim; d++) {
                        dot += qkv.get(qBase + d) * keyCache.get((firstRow + p) * kvDim + kvBase + d);
                    }
                    score = dot * scale;
                }
                scores[lid] = score;
                context.localBarrier();

                int n = TornadoMath.min(LOCAL, length - tile);
                float tileMax = -Float.MAX_VALUE;
                for (int j = 0; j < n; j++) tileMax = TornadoMath.max(tileMax, scores[j]);
                float newMax = TornadoMath.max(runningMax, tileMax);
                float correction = TornadoMath.exp(runningMax - newMax);
                weights[lid] = lid < n ? TornadoMath.exp(score - newMax) : 0f;
                context.localBarrier();

                float tileSum = 0f;
                for (int j = 0; j < n; j++) tileSum += weights[j];
                runningSum = runningSum * correction + tileSum;
                for (int d = lid; d < headDim; d += LOCAL) {
                    float a = acc[d] * correction;
                    for (int j = 0; j < n; j++) {
                        a += weights[j] * valueCache.get((firstRow + tile + j) * kvDim + kvBase + d);
                    }
                    acc[d] = a;
                }
                runningMax = newMax;
                context.localBarrier();                            // scores/weights are rewritten next tile
            }
            int outBase = t * heads * headDim + head * headDim;
            for (int d = lid; d < headDim; d += LOCAL) {
                out.set(outBase + d, acc[d] / runningSum);
            }
        }
    }
}
