package io.sparkglm.backend.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.ByteArray;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

import static io.sparkglm.backend.tornado.Kernels.*;

/**
 * The sequence side of the forward pass: RoPE fused with the KV-cache write, and causal attention of each
 * token over its own sequence's slot of the cache.
 */
public final class AttentionKernels {

    private AttentionKernels() {}


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
