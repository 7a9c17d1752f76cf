package io.sparkglm.backend.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.ByteArray;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;
import uk.ac.manchester.tornado.api.types.arrays.ShortArray;

import static io.sparkglm.backend.tornado.Kernels.*;

/**
 * The sequence side of the forward pass: RoPE fused with the KV-cache write, and causal attention of each
 * token over its own sequence's slot of the cache, for the three KV cache types of the engine
 * ({@code KvCacheType}): f32 ({@link FloatArray}), f16 (fp16 bits in a {@link ShortArray}) and q8_0 (ggml Q8_0
 * blocks in a {@link ByteArray}: per 32 values an fp16 scale, little-endian, then 32 int8; a row of kvDim
 * values is kvDim/32 blocks). fp16 is encoded and decoded with integer and float arithmetic only (no half
 * types, no bit casts), so every kernel runs on devices without {@code cl_khr_fp16}; the stored bits equal the
 * CPU backend's ({@code Float.floatToFloat16}, its {@code quantizeQ8_0}).
 *
 * <p>Attention is flash-decoding for every token, prompt or generated: a token's keys {@code [0, length)} are
 * cut into at most {@link #SPLITS} spans of {@link #spanLength} keys (a function of the token's own length only),
 * each computed by its own work-group for all query heads of one KV group, which loads the span's keys and then
 * values into local memory a tile of {@link #KEY_TILE} at a time (each key read once for the group's heads) and
 * runs the online softmax per head; each leaves {@code (max, sum, headDim unnormalized outputs)}, and a second
 * kernel merges a token's spans in span order. A token's result thus never depends on its step-mates.
 */
public final class AttentionKernels {

    /** KV cache types, as kernel arguments (the order of {@code KvCacheType}). */
    public static final int KV_F32 = 0, KV_F16 = 1, KV_Q8_0 = 2;
    /** Most spans a token's keys are split into (= DevicePlan.ATTENTION_SPLITS). */
    public static final int SPLITS = 16;
    /** Keys per local-memory tile of the span kernel; spans are whole tiles. */
    public static final int KEY_TILE = 16;
    /** Largest (query heads per KV group) x headDim the span kernel's local query and output tiles hold. */
    public static final int MAX_GROUP_FLOATS = 2048;
    /** Largest number of query heads per KV group the span kernel holds. */
    public static final int MAX_GROUP_ROWS = 32;

    private AttentionKernels() {}

    // ---------------------------------------------------------------- spans and the partials buffer layout

    /** Keys per span of a token that sees {@code length} keys: ceil(length / SPLITS) rounded up to whole tiles. */
    public static int spanLength(int length) {
        int perSplit = (length + SPLITS - 1) / SPLITS;
        return (perSplit + KEY_TILE - 1) / KEY_TILE * KEY_TILE;
    }

    /** Spans (at most {@link #SPLITS}) of a token that sees {@code length} keys. */
    public static int spans(int length) {
        int span = spanLength(length);
        return (length + span - 1) / span;
    }

    /** Floats of the partials buffer for one token: per head and span, max, sum and headDim outputs. */
    public static int partialFloatsPerToken(int heads, int headDim) {
        return heads * SPLITS * (headDim + 2);
    }

    // ---------------------------------------------------------------- fp16 and Q8_0 encoders (no bit casts)

    /**
     * The fp16 bits of {@code v}, as {@code Float.floatToFloat16}: round to nearest even, subnormals, overflow to
     * infinity; except that -0 gives +0's bits (0, the same value). Computed with exact power-of-two scaling (no {@code Float.floatToIntBits}).
     */
    public static int fp16Bits(float v) {
        if (v != v) return 0x7E00;                                          // NaN
        // -0 is stored as +0 (the same value): every way of telling them apart without a bit cast (1/v < 0)
        // came out wrong in TornadoVM's OpenCL, setting the sign of positive values too
        int sign = v < 0f ? 0x8000 : 0;
        float a = TornadoMath.abs(v);
        if (a >= 65520f) return sign | 0x7C00;                              // rounds past 65504: infinity
        if (a < 6.1035156e-5f) {                                            // below 2^-14: subnormal grid 2^-24
            return sign | (int) roundHalfEven(a * 16777216f);               // 1024 = the smallest normal, exactly
        }
        int e = 0;
        float p = 1f, inverseUlp = 1024f;                                   // p = 2^e <= a < 2^(e+1); 2^10 / p
        while (p > a) {
            p *= 0.5f;
            inverseUlp *= 2f;
            e--;
        }
        while (p * 2f <= a) {
            p *= 2f;
            inverseUlp *= 0.5f;
            e++;
        }
        int m = (int) roundHalfEven(a * inverseUlp);                        // [1024, 2048]: 2048 carries into e
        return sign | (((e + 15) << 10) + m - 1024);
    }

    /**
     * Quantizes {@code qkv[from .. from+32)} into one Q8_0 block at {@code cache[at]}: {@code d = fp16(amax/127)},
     * {@code q = rint(x * 127/amax)} (0 when amax is 0), as the CPU backend's quantizeQ8_0 (ggml on x86).
     */
    public static void storeQ8Block(FloatArray qkv, int from, ByteArray cache, int at) {
        float amax = 0f;
        for (int k = 0; k < Q8_BLOCK; k++) amax = TornadoMath.max(amax, TornadoMath.abs(qkv.get(from + k)));
        float inverse = amax != 0f ? quotient(127f, amax) : 0f;      // IEEE quotients, as the activation quantizers
        int bits = fp16Bits(quotient(amax, 127f));
        cache.set(at, (byte) (bits & 0xFF));
        cache.set(at + 1, (byte) ((bits >> 8) & 0xFF));
        for (int k = 0; k < Q8_BLOCK; k++) {
            cache.set(at + 2 + k, (byte) ((int) roundHalfEven(qkv.get(from + k) * inverse)));
        }
    }

    /** Element {@code i} of a cache row-major {@code [rows, kvDim]} array of type {@code kvType}, as a float. */
    public static float cached(FloatArray f32, ShortArray f16, ByteArray q8, int kvType, int i) {
        if (kvType == KV_F32) return f32.get(i);
        if (kvType == KV_F16) return fp16Value(f16.get(i));
        int block = i / Q8_BLOCK;                                           // rows are whole blocks (kvDim % 32 == 0)
        int at = block * Q8_BLOCK_BYTES;
        float d = fp16At(q8, at);
        return (float) q8.get(at + 2 + i - block * Q8_BLOCK) * d;
    }

    // ---------------------------------------------------------------- RoPE + KV cache write

    /**
     * Per token t: rotates the first {@code ropeDims} dims of every Q and K head in {@code qkv[t]} ([all Q heads
     * | all K groups | all V groups]) as adjacent pairs (2i, 2i+1), with {@code cos/sin} of
     * {@code position_t * theta_i} from the host-made table of the launch's tokens {@code rope[(t * ropeDims/2 + i) * 2 + {0: cos,
     * 1: sin}]}; then writes the token's K and V into the caches ({@code [rows, kvDim]} each) at row
     * {@code cacheBase_t + position_t}, as floats ({@link #KV_F32}, into {@code keyF32/valueF32}) or fp16 bits
     * ({@link #KV_F16}, into {@code keyF16/valueF16}); the arrays of the other type are not touched.
     * One thread per (token, pair): global {@code T * (heads + kvHeads) * headDim / 2}.
     */
    public static void ropeAndCache(KernelContext context, IntArray step, FloatArray qkv, FloatArray rope,
                                    FloatArray keyF32, ShortArray keyF16, FloatArray valueF32, ShortArray valueF16,
                                    int heads, int kvHeads, int headDim, int ropeDims, int kvType) {
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
                int angle = (t * (ropeDims / 2) + i) * 2;               // this launch's token t
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
                if (kvType == KV_F32) {
                    keyF32.set(cached, x0);
                    keyF32.set(cached + 1, x1);
                } else {
                    keyF16.set(cached, (short) fp16Bits(x0));
                    keyF16.set(cached + 1, (short) fp16Bits(x1));
                }
            }
            if (pair < kvDim / 2) {
                int cached = row * kvDim + 2 * pair;
                float v0 = qkv.get(tokenBase + qDim + kvDim + 2 * pair);
                float v1 = qkv.get(tokenBase + qDim + kvDim + 2 * pair + 1);
                if (kvType == KV_F32) {
                    valueF32.set(cached, v0);
                    valueF32.set(cached + 1, v1);
                } else {
                    valueF16.set(cached, (short) fp16Bits(v0));
                    valueF16.set(cached + 1, (short) fp16Bits(v1));
                }
            }
        }
    }

    /**
     * {@link #ropeAndCache} for a Q8_0 cache: one thread per (token, 32-value block of the qkv row), which rotates
     * the block's pairs (Q and K parts) and, for a K or V block, quantizes it into the cache row
     * {@code cacheBase_t + position_t} (kvDim/32 blocks of 34 bytes per row). Needs heads*headDim and kvDim to be
     * multiples of 32. Global {@code T * (heads + 2 * kvHeads) * headDim / 32}.
     */
    public static void ropeAndCacheQ8(KernelContext context, IntArray step, FloatArray qkv, FloatArray rope,
                                      ByteArray keyCache, ByteArray valueCache,
                                      int heads, int kvHeads, int headDim, int ropeDims) {
        int kvDim = kvHeads * headDim;
        int qDim = heads * headDim;
        int blocksPerToken = (qDim + 2 * kvDim) / Q8_BLOCK;
        int t = context.globalIdx / blocksPerToken;
        int start = (context.globalIdx % blocksPerToken) * Q8_BLOCK;      // offset inside the token's qkv row
        if (t < step.get(COUNT)) {
            int position = step.get(stepIndex(t, STEP_POSITION));
            int row = step.get(stepIndex(t, STEP_CACHE_BASE)) + position;
            int tokenBase = t * (qDim + 2 * kvDim);
            if (start < qDim + kvDim) {
                for (int k = 0; k < Q8_BLOCK; k += 2) {
                    int inHead = (start + k) % headDim;                    // headDim is even: pairs stay in one head
                    if (inHead < ropeDims) {
                        int index = tokenBase + start + k;
                        float x0 = qkv.get(index);
                        float x1 = qkv.get(index + 1);
                        int angle = (t * (ropeDims / 2) + inHead / 2) * 2;
                        float cos = rope.get(angle);
                        float sin = rope.get(angle + 1);
                        qkv.set(index, x0 * cos - x1 * sin);
                        qkv.set(index + 1, x0 * sin + x1 * cos);
                    }
                }
            }
            int rowBytes = kvDim / Q8_BLOCK * Q8_BLOCK_BYTES;
            if (start >= qDim && start < qDim + kvDim) {
                storeQ8Block(qkv, tokenBase + start, keyCache, row * rowBytes + (start - qDim) / Q8_BLOCK * Q8_BLOCK_BYTES);
            } else if (start >= qDim + kvDim) {
                storeQ8Block(qkv, tokenBase + start, valueCache, row * rowBytes + (start - qDim - kvDim) / Q8_BLOCK * Q8_BLOCK_BYTES);
            }
        }
    }

    // ---------------------------------------------------------------- attention: spans, then the merge

    /**
     * One span of one token's causal attention for all query heads of one KV group (flash-decoding). Work-group
     * {@code (t, g, s)} = {@code groupIdx = (t * kvHeads + g) * SPLITS + s} of {@link Kernels#LOCAL} threads; a
     * token at {@code position} sees keys {@code [0, position]} of its slot (rows from {@code cacheBase_t}; the
     * step's K/V are written before this kernel runs), cut into {@link #spans} spans of {@link #spanLength};
     * groups past the token's last span do nothing. The group loads its heads' queries once, then per tile of
     * {@link #KEY_TILE} keys: keys into local memory (decoded from the cache type), the scores of every (head,
     * key), the online-softmax step per head (thread r owns head r's running max and sum), the values into the
     * same local tile, and {@code acc = acc * correction + P V}. Leaves in {@code partials[((t * heads + h) *
     * SPLITS + s) * (headDim + 2) + {0: max, 1: sum, 2 + d: unnormalized output}]}. Global
     * {@code T * kvHeads * SPLITS * LOCAL}. Needs heads/kvHeads <= {@link #MAX_GROUP_ROWS},
     * (heads/kvHeads) * headDim <= {@link #MAX_GROUP_FLOATS}, headDim <= {@link Kernels#MAX_HEAD_DIM}.
     */
    public static void attentionSpans(KernelContext context, IntArray step, FloatArray qkv,
                                      FloatArray keyF32, ShortArray keyF16, ByteArray keyQ8,
                                      FloatArray valueF32, ShortArray valueF16, ByteArray valueQ8, FloatArray partials,
                                      int heads, int kvHeads, int headDim, float scale, int kvType) {
        float[] queries = context.allocateFloatLocalArray(MAX_GROUP_FLOATS);
        float[] acc = context.allocateFloatLocalArray(MAX_GROUP_FLOATS);
        float[] tile = context.allocateFloatLocalArray(KEY_TILE * MAX_HEAD_DIM);
        float[] probs = context.allocateFloatLocalArray(MAX_GROUP_ROWS * KEY_TILE);
        float[] correction = context.allocateFloatLocalArray(MAX_GROUP_ROWS);
        int lid = context.localIdx;
        int t = context.groupIdx / (kvHeads * SPLITS);
        int group = (context.groupIdx / SPLITS) % kvHeads;
        int span = context.groupIdx % SPLITS;
        if (t < step.get(COUNT)) {
            int length = step.get(stepIndex(t, STEP_POSITION)) + 1;
            int perSplit = (length + SPLITS - 1) / SPLITS;                  // spanLength(length), inline
            int spanKeys = (perSplit + KEY_TILE - 1) / KEY_TILE * KEY_TILE;
            int first = span * spanKeys;
            if (first < length) {
                int end = TornadoMath.min(length, first + spanKeys);
                int rows = heads / kvHeads;
                int groupFloats = rows * headDim;
                int kvDim = kvHeads * headDim;
                int firstRow = step.get(stepIndex(t, STEP_CACHE_BASE));
                int qBase = t * (heads * headDim + 2 * kvDim) + group * rows * headDim;   // the group's heads are adjacent
                int kvBase = group * headDim;
                for (int i = lid; i < groupFloats; i += LOCAL) {
                    queries[i] = qkv.get(qBase + i);
                    acc[i] = 0f;
                }
                float runningMax = -Float.MAX_VALUE;                        // thread r < rows: head r's softmax state
                float runningSum = 0f;
                context.localBarrier();
                for (int k0 = first; k0 < end; k0 += KEY_TILE) {
                    int n = TornadoMath.min(KEY_TILE, end - k0);
                    for (int i = lid; i < n * headDim; i += LOCAL) {
                        int j = i / headDim;
                        int at = (firstRow + k0 + j) * kvDim + kvBase + i - j * headDim;
                        float v;
                        if (kvType == KV_F32) {
                            v = keyF32.get(at);
                        } else if (kvType == KV_F16) {
                            v = fp16Value(keyF16.get(at));
                        } else {
                            int block = at / Q8_BLOCK;
                            int b = block * Q8_BLOCK_BYTES;
                            v = (float) keyQ8.get(b + 2 + at - block * Q8_BLOCK)
                                    * fp16At(keyQ8, b);
                        }
                        tile[i] = v;
                    }
                    context.localBarrier();
                    for (int i = lid; i < rows * KEY_TILE; i += LOCAL) {
                        int r = i / KEY_TILE;
                        int j = i - r * KEY_TILE;
                        float score = -Float.MAX_VALUE;
                        if (j < n) {
                            float dot = 0f;
                            for (int d = 0; d < headDim; d++) dot += queries[r * headDim + d] * tile[j * headDim + d];
                            score = dot * scale;
                        }
                        probs[i] = score;
                    }
                    context.localBarrier();
                    if (lid < rows) {
                        float tileMax = -Float.MAX_VALUE;
                        for (int j = 0; j < n; j++) tileMax = TornadoMath.max(tileMax, probs[lid * KEY_TILE + j]);
                        float newMax = TornadoMath.max(runningMax, tileMax);
                        float c = TornadoMath.exp(runningMax - newMax);
                        float tileSum = 0f;
                        for (int j = 0; j < n; j++) {
                            float p = TornadoMath.exp(probs[lid * KEY_TILE + j] - newMax);
                            probs[lid * KEY_TILE + j] = p;
                            tileSum += p;
                        }
                        runningSum = runningSum * c + tileSum;
                        runningMax = newMax;
                        correction[lid] = c;
                    }
                    for (int i = lid; i < n * headDim; i += LOCAL) {        // the keys are read: values into the tile
                        int j = i / headDim;
                        int at = (firstRow + k0 + j) * kvDim + kvBase + i - j * headDim;
                        float v;
                        if (kvType == KV_F32) {
                            v = valueF32.get(at);
                        } else if (kvType == KV_F16) {
                            v = fp16Value(valueF16.get(at));
                        } else {
                            int block = at / Q8_BLOCK;
                            int b = block * Q8_BLOCK_BYTES;
                            v = (float) valueQ8.get(b + 2 + at - block * Q8_BLOCK)
                                    * fp16At(valueQ8, b);
                        }
                        // every thread passed the barrier after the scores, so no one still reads the keys
                        tile[i] = v;
                    }
                    context.localBarrier();
                    for (int i = lid; i < groupFloats; i += LOCAL) {
                        int r = i / headDim;
                        int d = i - r * headDim;
                        float a = acc[i] * correction[r];
                        for (int j = 0; j < n; j++) a += probs[r * KEY_TILE + j] * tile[j * headDim + d];
                        acc[i] = a;
                    }
                    context.localBarrier();                                 // tile, probs rewritten next tile
                }
                int stride = headDim + 2;
                int out = ((t * heads + group * rows) * SPLITS + span) * stride;   // head group*rows + r at + r*SPLITS*stride
                if (lid < rows) {
                    partials.set(out + lid * SPLITS * stride, runningMax);
                    partials.set(out + lid * SPLITS * stride + 1, runningSum);
                }
                for (int i = lid; i < groupFloats; i += LOCAL) {
                    int r = i / headDim;
                    partials.set(out + r * SPLITS * stride + 2 + i - r * headDim, acc[i]);
                }
            }
        }
    }

    /**
     * Merges a token's spans, in span order: {@code M = max_s m_s}, {@code out[t, h] = sum_s e^(m_s - M) o_s /
     * sum_s e^(m_s - M) l_s}. One work-group of {@link Kernels#LOCAL} threads per (token, head), each thread
     * over dims {@code lid, lid + LOCAL, ...}: global {@code T * heads * LOCAL}. Writes
     * {@code out[t * heads * headDim + h * headDim + d]}.
     */
    public static void attentionMerge(KernelContext context, IntArray step, FloatArray partials, FloatArray out,
                                      int heads, int headDim) {
        int lid = context.localIdx;
        int t = context.groupIdx / heads;
        int head = context.groupIdx % heads;
        if (t < step.get(COUNT)) {
            int length = step.get(stepIndex(t, STEP_POSITION)) + 1;
            int perSplit = (length + SPLITS - 1) / SPLITS;
            int spanKeys = (perSplit + KEY_TILE - 1) / KEY_TILE * KEY_TILE;
            int spans = (length + spanKeys - 1) / spanKeys;
            int stride = headDim + 2;
            int base = (t * heads + head) * SPLITS * stride;
            float max = -Float.MAX_VALUE;
            for (int s = 0; s < spans; s++) max = TornadoMath.max(max, partials.get(base + s * stride));
            float sum = 0f;
            for (int s = 0; s < spans; s++) {
                sum += partials.get(base + s * stride + 1) * TornadoMath.exp(partials.get(base + s * stride) - max);
            }
            for (int d = lid; d < headDim; d += LOCAL) {
                float o = 0f;
                for (int s = 0; s < spans; s++) {
                    o += partials.get(base + s * stride + 2 + d) * TornadoMath.exp(partials.get(base + s * stride) - max);
                }
                out.set(t * heads * headDim + head * headDim + d, o / sum);
            }
        }
    }
}
