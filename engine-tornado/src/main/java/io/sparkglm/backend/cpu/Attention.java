package io.sparkglm.backend.cpu;

import io.sparkglm.model.ModelConfig;
import io.sparkglm.tensor.FloatGemm;
import io.sparkglm.tensor.VectorExp;
import java.util.Arrays;

/**
 * Causal attention over a sequence's cache, tiled over keys with an online softmax (FlashAttention's recurrence),
 * for prompt tokens and generated tokens alike. A work item is some tokens of one sequence times the query heads of
 * one key group (GLM-4: 16 heads share each key and value head), so every key and value row read from the cache
 * serves all of them; per block of {@link #KEY_BLOCK} keys:
 * <pre>
 *   S = Q K^T                         [rows][block]  (keys copied from the cache, transposed once)
 *   m' = max(m, max S*scale);  P = exp(S*scale - m');  l = l e^(m-m') + sum P;  O = O e^(m-m') + P V
 * </pre>
 * and at the end O / l. Memory per item is a few blocks, whatever the context: no scores buffer of tokens x context.
 * The exponentials are {@link VectorExp}'s, a vector at a time: one per score, they cost more than the score itself
 * with {@link Math#exp} at GLM-4's head size.
 *
 * <p>A generated token's keys are split into spans of {@link #DECODE_SPAN} that separate items compute (flash-decoding:
 * one sequence's attention over a long context uses every core), each leaving (m, l, O), merged in span order.
 *
 * <p>Numerics: block and span boundaries are fixed positions (multiples of the block size from position 0), and each
 * score and output element is one fma chain in index order ({@link FloatGemm}), so a token's result depends only on
 * its own query and its sequence's keys: never on its batch-mates, the items' grouping or the number of threads.
 */
final class Attention {

    /** Keys per tile: a [256][headDim] block of keys or values stays in L2 while every query row passes. */
    static final int KEY_BLOCK = 256;
    /** Keys per partial softmax of a generated token: 16 blocks, enough work per item to pay for the merge. */
    static final int DECODE_SPAN = 16 * KEY_BLOCK;
    /** Query rows to aim for per prompt item: 16 tiles of 6 rows share each key and value row read. */
    private static final int TARGET_ROWS = 96;

    private final int headsPerGroup;
    private final int hd;
    private final int dimsPad;      // head dims padded to whole vectors
    private final int qkvDim;
    private final int qDim;
    private final float scale;
    private final int maxRows;
    private final ThreadLocal<Tiles> tiles;

    Attention(ModelConfig config) {
        this.headsPerGroup = config.heads() / config.kvHeads();
        this.hd = config.headDim();
        this.dimsPad = roundUp(hd, FloatGemm.lanes());
        this.qkvDim = config.qkvDim();
        this.qDim = config.qDim();
        this.scale = (float) (1.0 / Math.sqrt(hd));
        this.maxRows = tokensPerItem() * headsPerGroup;
        this.tiles = ThreadLocal.withInitial(Tiles::new);
    }

    /** Prompt tokens per work item. */
    int tokensPerItem() {
        return Math.max(1, TARGET_ROWS / headsPerGroup);
    }

    /** Spans a generated token at {@code position} splits its keys into. */
    static int decodeSpans(int position) {
        return position / DECODE_SPAN + 1;
    }

    /** Floats (doubles counted as two) of one thread's tiles: fixed by the model, whatever the context. */
    long scratchFloats() {
        return (long) maxRows * hd + (long) hd * KEY_BLOCK + (long) KEY_BLOCK * dimsPad + (long) maxRows * KEY_BLOCK
                + (long) maxRows * dimsPad + 3L * maxRows;
    }

    /** One thread's tiles: their sizes depend on the model, never on the context. */
    private final class Tiles {
        final float[] queries = new float[maxRows * hd];               // Q:   [row][dim]
        final float[] keysT = new float[hd * KEY_BLOCK];                // K^T: [dim][key]
        final float[] block = new float[KEY_BLOCK * dimsPad];           // keys as copied, then values: [key][dim]
        final float[] probs = new float[maxRows * KEY_BLOCK];           // S, then P: [row][key]
        final float[] out = new float[maxRows * dimsPad];               // O:   [row][dim]
        final float[] max = new float[maxRows];
        final double[] sum = new double[maxRows];
    }

    /**
     * Attention of prompt tokens {@code [t0, t0 + count)} (positions {@code p0 ...}, all of {@code cache}) for key group
     * {@code group}, over all the keys each may see: reads their queries from {@code qkv}, writes {@code context}.
     */
    void prompt(int layer, CpuSequenceCache cache, int group, int t0, int count, int p0, float[] qkv, float[] context) {
        Tiles w = run(layer, cache, group, t0, count, p0, 0, p0 + count, qkv);
        for (int row = 0; row < count * headsPerGroup; row++) {
            float inv = (float) (1.0 / w.sum[row]);
            int to = (t0 + row / headsPerGroup) * qDim + (group * headsPerGroup + row % headsPerGroup) * hd;
            for (int d = 0; d < hd; d++) context[to + d] = w.out[row * dimsPad + d] * inv;
        }
    }

    /** Partial results of generated tokens' spans: per span, per row, the max score, the sum and the unscaled output. */
    record Partials(float[] max, double[] sum, float[] out) {}

    Partials partials(int spans) {
        return new Partials(new float[spans * headsPerGroup], new double[spans * headsPerGroup], new float[spans * headsPerGroup * hd]);
    }

    /** Span {@code span} of generated token {@code t} (at {@code position}) for key group {@code group}, into slot {@code slot}. */
    void decodeSpan(int layer, CpuSequenceCache cache, int group, int t, int position, int span, float[] qkv, Partials p, int slot) {
        int k0 = span * DECODE_SPAN, k1 = Math.min(position + 1, k0 + DECODE_SPAN);
        Tiles w = run(layer, cache, group, t, 1, position, k0, k1, qkv);
        for (int row = 0; row < headsPerGroup; row++) {
            int at = slot * headsPerGroup + row;
            p.max[at] = w.max[row];
            p.sum[at] = w.sum[row];
            System.arraycopy(w.out, row * dimsPad, p.out, at * hd, hd);
        }
    }

    /** Merges spans {@code [first, first + spans)} of token {@code t}, in span order, into {@code context}. */
    void merge(Partials p, int first, int spans, int t, int group, float[] context) {
        for (int row = 0; row < headsPerGroup; row++) {
            float max = Float.NEGATIVE_INFINITY;
            for (int s = 0; s < spans; s++) max = Math.max(max, p.max[(first + s) * headsPerGroup + row]);
            double sum = 0;
            int to = t * qDim + (group * headsPerGroup + row) * hd;
            Arrays.fill(context, to, to + hd, 0f);
            for (int s = 0; s < spans; s++) {
                int at = (first + s) * headsPerGroup + row;
                float weight = VectorExp.expNonPositive(p.max[at] - max);
                sum += p.sum[at] * weight;
                for (int d = 0; d < hd; d++) context[to + d] = Math.fma(p.out[at * hd + d], weight, context[to + d]);
            }
            float inv = (float) (1.0 / sum);
            for (int d = 0; d < hd; d++) context[to + d] *= inv;
        }
    }

    /**
     * The online softmax of tokens {@code [t0, t0 + count)} (positions {@code p0 ...}) of key group {@code group} over
     * keys {@code [k0, k1)} ({@code k0} a multiple of {@link #KEY_BLOCK}): leaves per row the max scaled score, the sum
     * of exponentials and the unnormalized output in this thread's tiles. Each token sees keys up to its position.
     */
    private Tiles run(int layer, CpuSequenceCache cache, int group, int t0, int count, int p0, int k0, int k1, float[] qkv) {
        Tiles w = tiles.get();
        int rows = count * headsPerGroup;
        for (int row = 0; row < rows; row++) {
            int q = (t0 + row / headsPerGroup) * qkvDim + (group * headsPerGroup + row % headsPerGroup) * hd;
            System.arraycopy(qkv, q, w.queries, row * hd, hd);
        }
        Arrays.fill(w.max, 0, rows, Float.NEGATIVE_INFINITY);
        Arrays.fill(w.sum, 0, rows, 0);
        Arrays.fill(w.out, 0, rows * dimsPad, 0f);

        for (int s0 = k0; s0 < k1; s0 += KEY_BLOCK) {
            int n = Math.min(KEY_BLOCK, k1 - s0), nPad = roundUp(n, FloatGemm.lanes());
            cache.copyKeys(layer, s0, n, group * hd, hd, w.block, 0, dimsPad);
            for (int j = 0; j < n; j++) {
                for (int d = 0; d < hd; d++) w.keysT[d * KEY_BLOCK + j] = w.block[j * dimsPad + d];
            }
            for (int d = 0; d < hd; d++) Arrays.fill(w.keysT, d * KEY_BLOCK + n, d * KEY_BLOCK + nPad, 0f);

            Arrays.fill(w.probs, 0, rows * KEY_BLOCK, 0f);
            FloatGemm.accumulate(rows, nPad, 0, hd, w.queries, 0, hd, w.keysT, 0, KEY_BLOCK, w.probs, 0, KEY_BLOCK);
            for (int row = 0; row < rows; row++) softmaxStep(w, row, Math.min(n, p0 + row / headsPerGroup + 1 - s0), nPad);

            cache.copyValues(layer, s0, n, group * hd, hd, w.block, 0, dimsPad);
            FloatGemm.accumulate(rows, dimsPad, 0, n, w.probs, 0, KEY_BLOCK, w.block, 0, dimsPad, w.out, 0, dimsPad);
        }
        return w;
    }

    /**
     * One block of the online softmax for one row whose first {@code valid} scores count (the rest are masked): the
     * scores become probabilities under the new running max, and the row's sum and output are rescaled to it.
     */
    private void softmaxStep(Tiles w, int row, int valid, int nPad) {
        int base = row * KEY_BLOCK;
        if (valid <= 0) {                                   // every key of the block lies after this token
            Arrays.fill(w.probs, base, base + nPad, 0f);
            return;
        }
        float blockMax = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < valid; j++) {
            float v = w.probs[base + j] * scale;
            w.probs[base + j] = v;
            blockMax = Math.max(blockMax, v);
        }
        float old = w.max[row], max = Math.max(old, blockMax);
        for (int j = 0; j < valid; j++) w.probs[base + j] -= max;
        VectorExp.expNonPositive(w.probs, base, base + valid);
        double sum = 0;
        for (int j = 0; j < valid; j++) sum += w.probs[base + j];
        Arrays.fill(w.probs, base + valid, base + nPad, 0f);
        if (old != max && old != Float.NEGATIVE_INFINITY) {
            float correction = VectorExp.expNonPositive(old - max);
            w.sum[row] *= correction;
            for (int d = 0, o = row * dimsPad; d < hd; d++) w.out[o + d] *= correction;
        }
        w.sum[row] += sum;
        w.max[row] = max;
    }

    private static int roundUp(int v, int multiple) {
        return (v + multiple - 1) / multiple * multiple;
    }
}
