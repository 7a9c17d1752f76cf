package io.sparkglm.backend.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.ByteArray;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * The GLM-4 forward pass as TornadoVM kernels (KernelContext style), one token per step.
 *
 * <p>Every kernel is plain Java that TornadoVM compiles to OpenCL C (or PTX); the same methods also run on
 * the host, which is how the tests' references stay honest about what a kernel computes. Constraints that
 * shape the code (../shared/PLATFORM.md):
 * <ul>
 *   <li>no fp16 on PoCL: Q8_0 blocks are read from a {@link ByteArray} in GGUF layout (34 bytes: fp16
 *       scale, 32 int8) and the fp16 scale is decoded with integer and float arithmetic;</li>
 *   <li>no {@code Float.intBitsToFloat} in the OpenCL backend: fp16 rounding is done with powers of two;</li>
 *   <li>scalar arguments are frozen when a task is created: per-step values (token, position) come through
 *       an {@link IntArray} {@code step = [token, position, cacheBase]} that is copied in every step;</li>
 *   <li>reductions use KernelContext local memory and barriers ({@code @Reduce} was wrong on PoCL).</li>
 * </ul>
 *
 * <p>Work-group shapes the host must use: reductions and matrix rows run in groups of
 * {@link #LOCAL} threads, one group per output row (matvec) or per head (attention).
 */
public final class Kernels {

    /** Threads per work-group for row reductions, RMSNorm and attention (a power of two). */
    public static final int LOCAL = 64;
    /** Largest head dimension the attention kernel's local accumulator holds. */
    public static final int MAX_HEAD_DIM = 256;
    /** GGUF Q8_0: 32 values per block, stored as an fp16 scale and 32 signed bytes. */
    public static final int Q8_BLOCK = 32;
    public static final int Q8_BLOCK_BYTES = 34;

    /** Index of the token id in the per-step array. */
    public static final int STEP_TOKEN = 0;
    /** Index of the position (tokens already in the KV cache) in the per-step array. */
    public static final int STEP_POSITION = 1;
    /** Index of the sequence's first row in the KV cache arrays (its slot) in the per-step array. */
    public static final int STEP_CACHE_BASE = 2;

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

    /** Sum of {@code value} over the work-group; every thread gets the total. {@code scratch} has LOCAL floats. */
    private static float groupSum(KernelContext context, float[] scratch, float value) {
        int lid = context.localIdx;
        scratch[lid] = value;
        context.localBarrier();
        for (int stride = context.localGroupSizeX / 2; stride > 0; stride >>= 1) {
            if (lid < stride) scratch[lid] += scratch[lid + stride];
            context.localBarrier();
        }
        float total = scratch[0];
        context.localBarrier();                                    // scratch may be reused right after
        return total;
    }

    /** This thread's share of {@code W[row] . x} for an F32 row-major matrix. */
    private static float partialDotF32(KernelContext context, FloatArray x, FloatArray w, int row, int cols) {
        int base = row * cols;
        float sum = 0f;
        for (int c = context.localIdx; c < cols; c += context.localGroupSizeX) {
            sum += w.get(base + c) * x.get(c);
        }
        return sum;
    }

    /**
     * This thread's share of {@code W[row] . x} for Q8_0 weights against Q8_0 activations (ggml's
     * vec_dot_q8_0_q8_0): per block the exact integer dot, times both scales. Products of int8 values and
     * their sums over a block are exact in float.
     */
    private static float partialDotQ8(KernelContext context, FloatArray xq, FloatArray xd, ByteArray w, int row, int cols) {
        int blocks = cols / Q8_BLOCK;
        int rowBase = row * blocks * Q8_BLOCK_BYTES;
        float sum = 0f;
        for (int b = context.localIdx; b < blocks; b += context.localGroupSizeX) {
            int block = rowBase + b * Q8_BLOCK_BYTES;
            int xBase = b * Q8_BLOCK;
            float dot = 0f;
            for (int k = 0; k < Q8_BLOCK; k++) {
                dot += (float) w.get(block + 2 + k) * xq.get(xBase + k);
            }
            sum += dot * (fp16At(w, block) * xd.get(b));
        }
        return sum;
    }

    private static float silu(float v) {
        return v / (1f + TornadoMath.exp(-v));
    }

    // ---------------------------------------------------------------- embedding

    /** {@code x = table[token]} for an F32 table {@code [vocab, dim]}. Global size {@code dim}. */
    public static void embedF32(KernelContext context, IntArray step, FloatArray table, FloatArray x, int dim) {
        int i = context.globalIdx;
        if (i < dim) {
            x.set(i, table.get(step.get(STEP_TOKEN) * dim + i));
        }
    }

    /** {@code x = dequantize(table[token])} for a Q8_0 table {@code [vocab, dim]}. Global size {@code dim}. */
    public static void embedQ8(KernelContext context, IntArray step, ByteArray table, FloatArray x, int dim) {
        int i = context.globalIdx;
        if (i < dim) {
            int block = (step.get(STEP_TOKEN) * (dim / Q8_BLOCK) + i / Q8_BLOCK) * Q8_BLOCK_BYTES;
            x.set(i, (float) table.get(block + 2 + i % Q8_BLOCK) * fp16At(table, block));
        }
    }

    // ---------------------------------------------------------------- normalization and quantization

    /**
     * {@code out = (x * rsqrt(mean(x^2) + eps)) * w} in fp32, as ggml (rms_norm, then mul). One work-group of
     * {@link #LOCAL} threads.
     */
    public static void rmsNorm(KernelContext context, FloatArray x, FloatArray w, FloatArray out, int dim, float eps) {
        float[] scratch = context.allocateFloatLocalArray(LOCAL);
        float squares = 0f;
        for (int i = context.localIdx; i < dim; i += context.localGroupSizeX) {
            float v = x.get(i);
            squares += v * v;
        }
        float total = groupSum(context, scratch, squares);
        float scale = 1f / TornadoMath.sqrt(total / dim + eps);
        for (int i = context.localIdx; i < dim; i += context.localGroupSizeX) {
            out.set(i, (x.get(i) * scale) * w.get(i));
        }
    }

    /**
     * ggml's quantize_row_q8_0 on activations: per block of 32, {@code d = fp16(amax / 127)} and
     * {@code q = roundHalfEven(x * 127 / amax)}. Quants go to {@code xq} (as floats), scales to {@code xd}.
     * One thread per block: global size {@code dim / 32}.
     */
    public static void quantizeQ8(KernelContext context, FloatArray x, FloatArray xq, FloatArray xd, int dim) {
        int b = context.globalIdx;
        if (b < dim / Q8_BLOCK) {
            int base = b * Q8_BLOCK;
            float amax = 0f;
            for (int k = 0; k < Q8_BLOCK; k++) {
                amax = TornadoMath.max(amax, TornadoMath.abs(x.get(base + k)));
            }
            float inverse = amax != 0f ? 127f / amax : 0f;
            xd.set(b, roundToFp16(amax / 127f));
            for (int k = 0; k < Q8_BLOCK; k++) {
                xq.set(base + k, roundHalfEven(x.get(base + k) * inverse) + 0f);
            }
        }
    }

    // ---------------------------------------------------------------- matrix-vector products (one group per row)

    /** {@code out[r] = W[r] . x} (F32). Global size {@code rows * LOCAL}, local {@code LOCAL}. */
    public static void matvecF32(KernelContext context, FloatArray x, FloatArray w, FloatArray out, int cols) {
        float[] scratch = context.allocateFloatLocalArray(LOCAL);
        int row = context.groupIdx;
        float dot = groupSum(context, scratch, partialDotF32(context, x, w, row, cols));
        if (context.localIdx == 0) out.set(row, dot);
    }

    /** {@code out[r] = W[r] . x + bias[r]} (F32; the fused QKV projection). */
    public static void matvecBiasF32(KernelContext context, FloatArray x, FloatArray w, FloatArray bias, FloatArray out, int cols) {
        float[] scratch = context.allocateFloatLocalArray(LOCAL);
        int row = context.groupIdx;
        float dot = groupSum(context, scratch, partialDotF32(context, x, w, row, cols));
        if (context.localIdx == 0) out.set(row, dot + bias.get(row));
    }

    /** {@code h[r] += W[r] . x} (F32; output and down projections with their residual). */
    public static void matvecResidualF32(KernelContext context, FloatArray x, FloatArray w, FloatArray h, int cols) {
        float[] scratch = context.allocateFloatLocalArray(LOCAL);
        int row = context.groupIdx;
        float dot = groupSum(context, scratch, partialDotF32(context, x, w, row, cols));
        if (context.localIdx == 0) h.set(row, h.get(row) + dot);
    }

    /** {@code out[i] = silu(W[i] . x) * (W[ffn + i] . x)}: gate rows first, then up rows (F32). Global {@code ffn * LOCAL}. */
    public static void gateUpSiluF32(KernelContext context, FloatArray x, FloatArray w, FloatArray out, int cols, int ffn) {
        float[] scratch = context.allocateFloatLocalArray(LOCAL);
        int i = context.groupIdx;
        float gate = groupSum(context, scratch, partialDotF32(context, x, w, i, cols));
        float up = groupSum(context, scratch, partialDotF32(context, x, w, ffn + i, cols));
        if (context.localIdx == 0) out.set(i, silu(gate) * up);
    }

    /** {@code out[r] = W[r] . x} (Q8_0 weights, Q8_0 activations {@code xq, xd}). */
    public static void matvecQ8(KernelContext context, FloatArray xq, FloatArray xd, ByteArray w, FloatArray out, int cols) {
        float[] scratch = context.allocateFloatLocalArray(LOCAL);
        int row = context.groupIdx;
        float dot = groupSum(context, scratch, partialDotQ8(context, xq, xd, w, row, cols));
        if (context.localIdx == 0) out.set(row, dot);
    }

    /** {@code out[r] = W[r] . x + bias[r]} (Q8_0). */
    public static void matvecBiasQ8(KernelContext context, FloatArray xq, FloatArray xd, ByteArray w, FloatArray bias, FloatArray out, int cols) {
        float[] scratch = context.allocateFloatLocalArray(LOCAL);
        int row = context.groupIdx;
        float dot = groupSum(context, scratch, partialDotQ8(context, xq, xd, w, row, cols));
        if (context.localIdx == 0) out.set(row, dot + bias.get(row));
    }

    /** {@code h[r] += W[r] . x} (Q8_0). */
    public static void matvecResidualQ8(KernelContext context, FloatArray xq, FloatArray xd, ByteArray w, FloatArray h, int cols) {
        float[] scratch = context.allocateFloatLocalArray(LOCAL);
        int row = context.groupIdx;
        float dot = groupSum(context, scratch, partialDotQ8(context, xq, xd, w, row, cols));
        if (context.localIdx == 0) h.set(row, h.get(row) + dot);
    }

    /** {@code out[i] = silu(W[i] . x) * (W[ffn + i] . x)} (Q8_0). */
    public static void gateUpSiluQ8(KernelContext context, FloatArray xq, FloatArray xd, ByteArray w, FloatArray out, int cols, int ffn) {
        float[] scratch = context.allocateFloatLocalArray(LOCAL);
        int i = context.groupIdx;
        float gate = groupSum(context, scratch, partialDotQ8(context, xq, xd, w, i, cols));
        float up = groupSum(context, scratch, partialDotQ8(context, xq, xd, w, ffn + i, cols));
        if (context.localIdx == 0) out.set(i, silu(gate) * up);
    }

    // ---------------------------------------------------------------- RoPE, KV cache, attention

    /**
     * Rotates the first {@code ropeDims} dims of every Q and K head in {@code qkv} ([all Q heads | all K groups |
     * all V groups]) as adjacent pairs (2i, 2i+1), with {@code cos/sin} of {@code position * theta_i} from the
     * host-made table {@code rope[(position * ropeDims/2 + i) * 2 + {0: cos, 1: sin}]}; then writes this
     * position's K and V into the caches ({@code [rows, kvDim]} each) at row {@code cacheBase + position}.
     * Global size {@code (heads + kvHeads) * headDim / 2} (one thread per pair).
     */
    public static void ropeAndCache(KernelContext context, IntArray step, FloatArray qkv, FloatArray rope,
                                    FloatArray keyCache, FloatArray valueCache,
                                    int heads, int kvHeads, int headDim, int ropeDims) {
        int pair = context.globalIdx;
        int pairsPerHead = headDim / 2;
        int kvDim = kvHeads * headDim;
        int qDim = heads * headDim;
        if (pair < (heads + kvHeads) * pairsPerHead) {
            int position = step.get(STEP_POSITION);
            int row = step.get(STEP_CACHE_BASE) + position;
            int head = pair / pairsPerHead;
            int i = pair % pairsPerHead;
            int index = head * headDim + 2 * i;                    // Q heads then K groups, contiguous in qkv
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
                int cached = row * kvDim + (index - qDim);
                keyCache.set(cached, x0);
                keyCache.set(cached + 1, x1);
            }
            if (pair < kvDim / 2) {
                int cached = row * kvDim + 2 * pair;
                valueCache.set(cached, qkv.get(qDim + kvDim + 2 * pair));
                valueCache.set(cached + 1, qkv.get(qDim + kvDim + 2 * pair + 1));
            }
        }
    }

    /**
     * Causal attention of the current position over cache positions {@code 0..position} (rows from
     * {@code cacheBase}), with online softmax:
     * one work-group of {@link #LOCAL} threads per query head, positions in tiles of LOCAL (one score per
     * thread), then the context accumulated per dimension. Query head {@code h} reads KV group
     * {@code h / (heads / kvHeads)}. Writes {@code out[h * headDim + d]}. Global {@code heads * LOCAL}.
     */
    public static void attention(KernelContext context, IntArray step, FloatArray qkv, FloatArray keyCache,
                                 FloatArray valueCache, FloatArray out,
                                 int heads, int kvHeads, int headDim, float scale) {
        float[] scores = context.allocateFloatLocalArray(LOCAL);
        float[] weights = context.allocateFloatLocalArray(LOCAL);
        float[] acc = context.allocateFloatLocalArray(MAX_HEAD_DIM);
        int lid = context.localIdx;
        int threads = context.localGroupSizeX;
        int head = context.groupIdx;
        int kvDim = kvHeads * headDim;
        int qBase = head * headDim;
        int kvBase = (head / (heads / kvHeads)) * headDim;
        int length = step.get(STEP_POSITION) + 1;
        int firstRow = step.get(STEP_CACHE_BASE);

        for (int d = lid; d < headDim; d += threads) acc[d] = 0f;
        float runningMax = -Float.MAX_VALUE;
        float runningSum = 0f;
        for (int tile = 0; tile < length; tile += threads) {
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

            int n = TornadoMath.min(threads, length - tile);
            float tileMax = -Float.MAX_VALUE;
            for (int j = 0; j < n; j++) tileMax = TornadoMath.max(tileMax, scores[j]);
            float newMax = TornadoMath.max(runningMax, tileMax);
            float correction = TornadoMath.exp(runningMax - newMax);
            weights[lid] = lid < n ? TornadoMath.exp(score - newMax) : 0f;
            context.localBarrier();

            float tileSum = 0f;
            for (int j = 0; j < n; j++) tileSum += weights[j];
            runningSum = runningSum * correction + tileSum;
            for (int d = lid; d < headDim; d += threads) {
                float a = acc[d] * correction;
                for (int j = 0; j < n; j++) {
                    a += weights[j] * valueCache.get((firstRow + tile + j) * kvDim + kvBase + d);
                }
                acc[d] = a;
            }
            runningMax = newMax;
            context.localBarrier();                                // scores/weights are rewritten next tile
        }
        for (int d = lid; d < headDim; d += threads) {
            out.set(qBase + d, acc[d] / runningSum);
        }
    }
}
