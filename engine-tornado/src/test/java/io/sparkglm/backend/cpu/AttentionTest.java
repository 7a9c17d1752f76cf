package io.sparkglm.backend.cpu;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.backend.KvCacheType;
import io.sparkglm.model.ModelConfig;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Tiled attention with an online softmax ({@link Attention}) against a naive float64 attention, on random keys,
 * values and queries (never zeros), for prompt tokens and for generated tokens whose keys span several partial
 * softmaxes; and its working memory does not grow with the context.
 */
class AttentionTest {

    /** Attention-only config: GLM-4's 32 query heads over 2 key heads of 128 dims, or a small odd one. */
    private static ModelConfig config(int heads, int kvHeads, int headDim) {
        return new ModelConfig("chatglm", 1, heads * headDim, 64, heads, kvHeads, headDim, headDim / 2, 1e4, 1 << 20, 64,
                1e-5f, true);
    }

    private record Filled(CpuSequenceCache cache, float[] keys, float[] values) {}

    /** A cache of {@code positions} random keys and values, and what it holds of them as floats (the reference's). */
    private static Filled fill(ModelConfig c, int positions, KvCacheType type, Random random) {
        int kvDim = c.kvDim();
        CpuSequenceCache cache = new CpuSequenceCache(1, positions, kvDim, type, CpuSequenceCache.PAGE_TOKENS);
        cache.reserve(positions);
        float[] k = new float[positions * kvDim], v = new float[positions * kvDim];
        for (int i = 0; i < k.length; i++) {
            k[i] = (float) random.nextGaussian();
            v[i] = (float) random.nextGaussian();
        }
        for (int p = 0; p < positions; p++) cache.store(0, p, k, p * kvDim, v, p * kvDim);
        cache.advance(positions);
        cache.copyKeys(0, 0, positions, 0, kvDim, k, 0, kvDim);       // rounded as the cache stores them
        cache.copyValues(0, 0, positions, 0, kvDim, v, 0, kvDim);
        return new Filled(cache, k, v);
    }

    /** softmax(q k / sqrt(d)) v in double for one query head of a token at {@code position}. */
    private static double[] reference(ModelConfig c, Filled f, float[] qkv, int t, int head, int position) {
        int hd = c.headDim(), group = head / (c.heads() / c.kvHeads()), kvDim = c.kvDim();
        int q = t * c.qkvDim() + head * hd;
        double[] scores = new double[position + 1];
        double max = Double.NEGATIVE_INFINITY;
        for (int s = 0; s <= position; s++) {
            double dot = 0;
            for (int d = 0; d < hd; d++) dot += (double) qkv[q + d] * f.keys[s * kvDim + group * hd + d];
            scores[s] = dot / Math.sqrt(hd);
            max = Math.max(max, scores[s]);
        }
        double sum = 0;
        for (int s = 0; s <= position; s++) sum += scores[s] = Math.exp(scores[s] - max);
        double[] out = new double[hd];
        for (int s = 0; s <= position; s++) {
            for (int d = 0; d < hd; d++) out[d] += scores[s] / sum * f.values[s * kvDim + group * hd + d];
        }
        return out;
    }

    private static float[] randomQueries(ModelConfig c, int tokens, Random random) {
        float[] qkv = new float[tokens * c.qkvDim()];
        for (int i = 0; i < qkv.length; i++) qkv[i] = (float) (random.nextGaussian() * 0.6);
        return qkv;
    }

    private static void assertClose(double[] expected, float[] actual, int offset, String what) {
        for (int d = 0; d < expected.length; d++) {
            assertEquals(expected[d], actual[offset + d], 2e-5 * (1 + Math.abs(expected[d])), what + " dim " + d);
        }
    }

    @ParameterizedTest(name = "{0} heads / {1} kv x {2}, prompt of {4} at {3}, {5} cache")
    @CsvSource({"32, 2, 128, 4500, 7, f32", "32, 2, 128, 250, 40, f16", "4, 2, 32, 0, 300, q8_0", "6, 3, 20, 1000, 13, f16",
            "32, 2, 128, 5000, 6, q8_0"})
    void promptTokensMatchFloat64(int heads, int kvHeads, int headDim, int p0, int count, String kv) {
        ModelConfig c = config(heads, kvHeads, headDim);
        Random random = new Random(p0 * 31L + count);
        Filled f = fill(c, p0 + count, KvCacheType.of(kv), random);
        float[] qkv = randomQueries(c, count, random);
        float[] context = new float[count * c.qDim()];
        Attention attention = new Attention(c);
        int perItem = attention.tokensPerItem();
        for (int g = 0; g < kvHeads; g++) {
            for (int t = 0; t < count; t += perItem) attention.prompt(0, f.cache, g, t, Math.min(perItem, count - t), p0 + t, qkv, context);
        }
        for (int t = 0; t < count; t++) {
            for (int h = 0; h < heads; h++) {
                assertClose(reference(c, f, qkv, t, h, p0 + t), context, t * c.qDim() + h * headDim, "token " + t + " head " + h);
            }
        }
        f.cache.close();
    }

    @ParameterizedTest(name = "{0} heads / {1} kv x {2}, generated token at {3}, {4} cache")
    @CsvSource({"32, 2, 128, 9000, f32", "32, 2, 128, 4095, f16", "32, 2, 128, 4096, q8_0", "4, 2, 32, 0, f32",
            "6, 3, 20, 12345, f32", "32, 2, 128, 8500, q8_0"})
    void generatedTokensMatchFloat64AcrossSpans(int heads, int kvHeads, int headDim, int position, String kv) {
        ModelConfig c = config(heads, kvHeads, headDim);
        Random random = new Random(position);
        Filled f = fill(c, position + 1, KvCacheType.of(kv), random);
        float[] qkv = randomQueries(c, 1, random);
        float[] context = new float[c.qDim()];
        Attention attention = new Attention(c);
        int spans = Attention.decodeSpans(position);
        assertEquals(position / Attention.DECODE_SPAN + 1, spans);
        Attention.Partials partials = attention.partials(spans * kvHeads);
        for (int g = 0; g < kvHeads; g++) {
            for (int s = 0; s < spans; s++) attention.decodeSpan(0, f.cache, g, 0, position, s, qkv, partials, g * spans + s);
            attention.merge(partials, g * spans, spans, 0, g, context);
        }
        for (int h = 0; h < heads; h++) assertClose(reference(c, f, qkv, 0, h, position), context, h * headDim, "head " + h);
        f.cache.close();
    }

    /** Working memory is per thread and fixed by the model: attention over 1K or 16K keys allocates (next to) nothing. */
    @ParameterizedTest(name = "context {0}")
    @CsvSource({"1024", "16384"})
    void workingMemoryDoesNotGrowWithTheContext(int positions) {
        ModelConfig c = config(32, 2, 128);
        Random random = new Random(9);
        Filled f = fill(c, positions, KvCacheType.Q8_0, random);
        float[] qkv = randomQueries(c, 6, random);
        float[] context = new float[6 * c.qDim()];
        Attention attention = new Attention(c);
        // Until C2 compiles the Vector API kernels, they allocate a box per vector: warm up first.
        Filled warm = fill(c, 512, KvCacheType.Q8_0, random);
        for (int i = 0; i < 2000; i++) attention.prompt(0, warm.cache, i % 2, 0, 6, 506, qkv, context);
        warm.cache.close();
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long before = threads.getCurrentThreadAllocatedBytes();
        attention.prompt(0, f.cache, 1, 0, 6, positions - 6, qkv, context);
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        assertTrue(allocated < 4096, allocated + " bytes allocated by attention over " + positions + " keys");
        f.cache.close();
    }
}
