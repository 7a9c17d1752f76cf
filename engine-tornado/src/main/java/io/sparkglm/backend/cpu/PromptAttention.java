package io.sparkglm.backend.cpu;

import io.sparkglm.model.ModelConfig;
import io.sparkglm.tensor.FloatGemm;
import java.util.Arrays;

/**
 * Causal attention for a run of prompt tokens of one sequence, as two matrix products per key group.
 *
 * <p>The decode path ({@link CpuBackend}'s per-head loop) takes one dot product and one axpy per cached position,
 * each ending in a lane sum: ~6 GFLOP/s per thread, which makes attention the cost of a long document's prefill
 * (at 32k tokens it outweighs the weight matrices). Here a work item is a block of tokens times the query heads
 * of one key group (96 query rows for GLM-4's 16 heads per group), and:
 * <pre>
 *   S^T = K Q^T      keys straight from the cache (rows = positions), queries transposed once: [positions][rows]
 *   P   = softmax    per query row over its own causal range, scaled, max-subtracted, sum in double, as decode
 *   O   = P V        values straight from the cache, 256 positions at a time
 * </pre>
 * both through {@link FloatGemm}, so each key and value row read serves every query row of the item.
 *
 * <p>Numerics: every score and output is one fma chain in index order (dims for scores, positions for outputs),
 * fixed by the item's own tokens: a token's result depends only on its sequence, never on its batch-mates.
 * It rounds differently from the decode path, like the prompt matmuls do (see {@link io.sparkglm.backend.Backend.Step}).
 */
final class PromptAttention {

    /** Query rows to aim for per item: 16 tiles of 6 rows share each key and value row read. */
    private static final int TARGET_ROWS = 96;
    /** Cap on one item's score buffers (floats): long contexts get fewer tokens per item, not more memory. */
    private static final long SCORE_BUDGET = 8L << 20;
    /** Positions per key/value copy: a [256][headDim] block stays in L2 while every query row passes. */
    private static final int KEY_BLOCK = 256;

    private static final ThreadLocal<float[][]> BUFFERS = ThreadLocal.withInitial(() -> new float[5][0]);

    private final ModelConfig config;
    private final int headsPerGroup;
    private final int dimsPad;      // head dims padded to whole vectors

    PromptAttention(ModelConfig config) {
        this.config = config;
        this.headsPerGroup = config.heads() / config.kvHeads();
        this.dimsPad = roundUp(config.headDim(), FloatGemm.lanes());
    }

    /** Tokens per item for a run whose last token sees {@code positions} keys. */
    int tokensPerItem(int positions) {
        int byRows = Math.max(1, TARGET_ROWS / headsPerGroup);
        long byMemory = SCORE_BUDGET / ((long) positions * roundUp(headsPerGroup, FloatGemm.lanes()));
        return (int) Math.max(1, Math.min(byRows, byMemory));
    }

    /**
     * Floats one thread's buffers ({@link #BUFFERS}) grow to over runs whose last token sees at most {@code context}
     * keys: they are kept for the thread's life, so the largest run ever seen counts. An item of {@code k} tokens
     * whose last token sees {@code p} keys takes {@code hd * rowsPad} (Q^T) + {@code p * rowsPad} (S^T) +
     * {@code rows * (roundUp(p, 16) + 16)} (P) + {@code 256 * dimsPad} (K/V block) + {@code rows * dimsPad} (O),
     * with {@code rows = k * headsPerGroup}, {@code rowsPad} rounded up to the float lanes and {@code k =
     * tokensPerItem(p)}: the S^T budget caps k, never p, so past {@code SCORE_BUDGET / rowsPad} keys (for
     * GLM-4-9B-1M: 512K at 16 float lanes, 1M at 8) a single token's scores still take {@code p * rowsPad} floats and
     * P as many again: the buffers grow with the context. Each slot is the largest it has been, taken over every item size (the maximum of a slot is at the
     * largest {@code p} that still gets {@code k} tokens, or at {@code context}).
     */
    long scratchFloats(int context) {
        int hd = config.headDim(), lanes = FloatGemm.lanes();
        long q = 0, s = 0, pr = 0, o = 0;
        int byRows = Math.max(1, TARGET_ROWS / headsPerGroup);
        long perPosition = roundUp(headsPerGroup, lanes);
        for (int k = 1; k <= byRows + 1; k++) {
            // the largest p for which tokensPerItem(p) >= k (k = byRows + 1 stands for "context itself")
            long p = k <= byRows ? Math.min(context, SCORE_BUDGET / (k * perPosition)) : context;
            if (p < 1) continue;
            int items = tokensPerItem((int) p);
            long rows = (long) items * headsPerGroup, rowsPad = roundUp((int) rows, lanes);
            q = Math.max(q, hd * rowsPad);
            s = Math.max(s, p * rowsPad);
            pr = Math.max(pr, rows * (roundUp((int) p, 16) + 16));
            o = Math.max(o, rows * dimsPad);
        }
        return q + s + pr + (long) KEY_BLOCK * dimsPad + o;
    }

    /**
     * Attention of tokens {@code [t0, t0 + count)} (positions {@code p0 ...}, all of {@code cache}) for key group
     * {@code group}: reads their queries from {@code qkv}, writes {@code context}. Keys and values of every
     * position up to the last token's must already be in the cache.
     */
    void attend(int layer, CpuSequenceCache cache, int group, int t0, int count, int p0, float[] qkv, float[] context) {
        int hd = config.headDim(), qkvDim = config.qkvDim(), qDim = config.qDim();
        int rows = count * headsPerGroup, rowsPad = roundUp(rows, FloatGemm.lanes());
        int positions = p0 + count;                 // keys seen by the last token
        int positionsPad = roundUp(positions, 16) + 16;  // padded row pitch of P: rows not 4 KB apart
        float[][] buf = BUFFERS.get();
        float[] queries = grow(buf, 0, hd * rowsPad);               // Q^T: [dim][row]
        float[] scores = grow(buf, 1, (long) positions * rowsPad);  // S^T: [position][row]
        float[] probs = grow(buf, 2, (long) rows * positionsPad);   // P:   [row][position]
        float[] block = grow(buf, 3, KEY_BLOCK * dimsPad);          // keys or values: [position][dim]
        float[] out = grow(buf, 4, rows * dimsPad);                 // O:   [row][dim]

        Arrays.fill(queries, 0, hd * rowsPad, 0f);
        for (int t = 0; t < count; t++) {
            for (int h = 0; h < headsPerGroup; h++) {
                int row = t * headsPerGroup + h, q = (t0 + t) * qkvDim + (group * headsPerGroup + h) * hd;
                for (int d = 0; d < hd; d++) queries[d * rowsPad + row] = qkv[q + d];
            }
        }

        // S^T = K Q^T, a block of key rows at a time
        Arrays.fill(scores, 0, positions * rowsPad, 0f);
        for (int s0 = 0; s0 < positions; s0 += KEY_BLOCK) {
            int n = Math.min(KEY_BLOCK, positions - s0);
            cache.copyKeys(layer, s0, n, group * hd, hd, block, 0, dimsPad);
            FloatGemm.accumulate(n, rowsPad, 0, hd, block, 0, dimsPad, queries, 0, rowsPad, scores, s0 * rowsPad, rowsPad);
        }

        // P = softmax over each row's causal range (as the decode path: float scores, double sum)
        float scale = (float) (1.0 / Math.sqrt(hd));
        for (int row = 0; row < rows; row++) {
            int seen = p0 + row / headsPerGroup + 1, base = row * positionsPad;
            float max = Float.NEGATIVE_INFINITY;
            for (int s = 0; s < seen; s++) {
                float v = scores[s * rowsPad + row] * scale;
                probs[base + s] = v;
                max = Math.max(max, v);
            }
            double sum = 0;
            for (int s = 0; s < seen; s++) {
                float e = (float) Math.exp(probs[base + s] - max);
                probs[base + s] = e;
                sum += e;
            }
            float inv = (float) (1.0 / sum);
            for (int s = 0; s < seen; s++) probs[base + s] *= inv;
            Arrays.fill(probs, base + seen, base + positionsPad, 0f);
        }

        // O = P V
        Arrays.fill(out, 0, rows * dimsPad, 0f);
        for (int s0 = 0; s0 < positions; s0 += KEY_BLOCK) {
            int n = Math.min(KEY_BLOCK, positions - s0);
            cache.copyValues(layer, s0, n, group * hd, hd, block, 0, dimsPad);
            FloatGemm.accumulate(rows, dimsPad, 0, n, probs, s0, positionsPad, block, 0, dimsPad, out, 0, dimsPad);
        }
        for (int t = 0; t < count; t++) {
            for (int h = 0; h < headsPerGroup; h++) {
                int row = t * headsPerGroup + h;
                System.arraycopy(out, row * dimsPad, context, (t0 + t) * qDim + (group * headsPerGroup + h) * hd, hd);
            }
        }
    }

    private static float[] grow(float[][] buf, int slot, long size) {
        if (size > Integer.MAX_VALUE - 16) throw new IllegalStateException("attention block too large: " + size + " floats");
        if (buf[slot].length < size) buf[slot] = new float[(int) size];
        return buf[slot];
    }

    private static int roundUp(int v, int multiple) {
        return (v + multiple - 1) / multiple * multiple;
    }
}
