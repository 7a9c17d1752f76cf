package io.sparkglm.backend.cpu;

import io.sparkglm.backend.Backend;
import io.sparkglm.backend.BackendOptions;
import io.sparkglm.backend.KvCacheType;
import io.sparkglm.backend.SequenceCache;
import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.ModelConfig;
import io.sparkglm.tensor.Activations;
import io.sparkglm.tensor.WeightMatrix;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The GLM-4 forward pass on CPU cores (Vector API kernels, a fixed worker pool).
 *
 * <p>One step flattens the tokens of all its sequences into one [T, hidden] activation block, so each
 * weight matrix is read once per step however many sequences decode together. Per token:
 * <pre>
 *   h = embed(token)
 *   per layer:  x = rmsnorm(h) * w_attn;  qkv = Wqkv x + b;  rope(q, k);  cache(k, v)
 *               h += Wo attention(q, cache);  x = rmsnorm(h) * w_ffn;  h += Wdown (silu(gate) * up)
 *   logits = Wout (rmsnorm(h) * w_out)          (only for tokens whose logits are wanted)
 * </pre>
 * Every token's arithmetic is the same whatever else shares its step, so batching never changes results:
 * the kernel of a token depends only on its kind (prompt or generated, {@link Step#prompt()}).
 */
public final class CpuBackend implements Backend {

    private final ModelConfig config;
    private final CpuWeights weights;
    private final WorkerPool pool;
    private final KvCacheType cacheType;
    private final double[] inverseFrequencies;   // theta_i = base^(-2i / ropeDims)
    private final Attention attention;

    public CpuBackend(Checkpoint checkpoint, BackendOptions options) {
        requireWideVectors();
        this.config = checkpoint.config();
        this.weights = CpuWeights.from(checkpoint);
        this.pool = new WorkerPool(options.resolvedThreads());
        this.cacheType = KvCacheType.of(options.kvCacheType());
        if (cacheType == KvCacheType.Q8_0) KvCacheType.requireWholeBlocks(config.kvDim());
        this.attention = new Attention(config);
        this.inverseFrequencies = inverseFrequencies(config);
    }

    /** theta_i = base^(-2i / ropeDims), i = 0 .. ropeDims/2 - 1, in double. */
    static double[] inverseFrequencies(ModelConfig config) {
        double[] inverse = new double[config.ropeDims() / 2];
        for (int i = 0; i < inverse.length; i++) inverse[i] = Math.pow(config.ropeBase(), -2.0 * i / config.ropeDims());
        return inverse;
    }

    /**
     * The kernels cut 32-value quant blocks into vectors of at least eight floats. Narrower vectors (SSE-only x86,
     * ARM NEON) would fail deep inside a kernel's class initialization; say what is missing instead.
     */
    static void requireWideVectors() {
        int bits = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize();
        if (bits < 256) {
            throw new IllegalStateException("the cpu backend needs 256-bit vectors (x86 AVX2 or AVX-512); this JVM "
                    + "offers " + bits + "-bit vectors (SSE-only x86, or ARM NEON): run on an AVX2 machine or use a "
                    + "GPU backend");
        }
    }

    @Override public String name() { return "cpu"; }
    @Override public ModelConfig config() { return config; }

    @Override
    public SequenceCache newSequence(int capacity) {
        return newSequence(capacity, CpuSequenceCache.PAGE_TOKENS);
    }

    /** Whole pages of keys and values for every layer: what {@link CpuSequenceCache} allocates at most. */
    @Override
    public long kvCacheBytes(int capacity) {
        return kvCacheBytes(config, cacheType, capacity);
    }

    /** {@link #kvCacheBytes(int)} of a cpu backend for {@code config} with a {@code type} cache (the engine's "auto"). */
    public static long kvCacheBytes(ModelConfig config, KvCacheType type, int capacity) {
        return CpuSequenceCache.bytesFor(capacity, config.layers(), config.kvDim(), type, CpuSequenceCache.PAGE_TOKENS);
    }

    /** The KV cache type of this backend's sequences. */
    public KvCacheType kvCacheType() { return cacheType; }

    /** A cache with a chosen page size (tests cross page boundaries with small pages). */
    SequenceCache newSequence(int capacity, int pageTokens) {
        if (capacity <= 0) throw new IllegalArgumentException("capacity must be positive: " + capacity);
        return new CpuSequenceCache(config.layers(), capacity, config.kvDim(), cacheType, pageTokens);
    }

    @Override
    public List<float[]> forward(List<Step> steps) {
        Batch batch = Batch.of(steps, config.vocabSize());
        int n = batch.tokens.length;
        int hidden = config.hidden();

        float[] h = new float[n * hidden];
        for (int t = 0; t < n; t++) weights.tokenEmbedding().dequantizeRow(batch.tokens[t], h, t * hidden);
        Angles angles = angles(batch.positions);

        LayerBuffers buffers = new LayerBuffers(n);
        for (int l = 0; l < config.layers(); l++) {
            layer(l, weights.layers()[l], batch, angles, h, buffers);
        }

        float[] logits = logits(h, batch.logitRows);
        for (Map.Entry<CpuSequenceCache, Integer> e : batch.added.entrySet()) e.getKey().advance(e.getValue());
        return batch.split(logits, config.vocabSize());
    }

    private void layer(int l, CpuWeights.Layer w, Batch batch, Angles angles, float[] h, LayerBuffers b) {
        int n = batch.tokens.length;
        int hidden = config.hidden();

        float[] x = b.x;
        pool.parallelFor(n, t -> Kernels.rmsNorm(h, t * hidden, w.attnNorm(), config.rmsEps(), x, t * hidden, hidden));
        float[] qkv = matmul(w.qkv(), x, batch.prompt, b.qkv, b);
        pool.parallelFor(n, t -> positionQkv(l, w, batch, angles, qkv, t));

        attention(l, batch, qkv, b.context);
        addInto(h, matmul(w.attnOutput(), b.context, batch.prompt, b.out, b));

        pool.parallelFor(n, t -> Kernels.rmsNorm(h, t * hidden, w.ffnNorm(), config.rmsEps(), x, t * hidden, hidden));
        float[] gateUp = matmul(w.ffnGateUp(), x, batch.prompt, b.gateUp, b);
        int ffn = config.ffnHidden();
        float[] act = b.act;
        pool.parallelFor(n, t -> {
            for (int i = 0; i < ffn; i++) {
                act[t * ffn + i] = Kernels.silu(gateUp[t * 2 * ffn + i]) * gateUp[t * 2 * ffn + ffn + i];
            }
        });
        addInto(h, matmul(w.ffnDown(), act, batch.prompt, b.out, b));
    }

    /**
     * One layer's arrays and matrix inputs, made once per step and used by every layer in turn: a layer's arrays are
     * dead once the next one starts. Made per layer (40 times a step for GLM-4-9B: ~8 GB for a 512-token step) they
     * only fed the collector, whose copying and heap growth took 20-30% of a prompt step and made its time vary by
     * +-30% (docs/BENCHMARKS.md). Every element is written before it is read in each layer, so nothing is cleared.
     */
    private final class LayerBuffers {
        final float[] x, qkv, context, out, gateUp, act;
        private final int tokens;
        private final Map<InputShape, Activations> inputs = new java.util.HashMap<>();

        LayerBuffers(int tokens) {
            this.tokens = tokens;
            x = new float[tokens * config.hidden()];
            qkv = new float[tokens * config.qkvDim()];
            context = new float[tokens * config.qDim()];
            out = new float[tokens * config.hidden()];
            gateUp = new float[tokens * 2 * config.ffnHidden()];
            act = new float[tokens * config.ffnHidden()];
        }

        /** The step's input buffer for matrices of {@code m}'s activation format and width (one per kind, reused). */
        Activations input(WeightMatrix m) {
            return inputs.computeIfAbsent(new InputShape(m.activationFormat(), m.cols()),
                    k -> Activations.allocate(k.format(), tokens, k.cols()));
        }
    }

    private record InputShape(io.sparkglm.tensor.ActivationFormat format, int cols) {}

    /** Adds the bias, rotates the query heads and key groups, and stores the token's key and value. */
    private void positionQkv(int l, CpuWeights.Layer w, Batch batch, Angles angles, float[] qkv, int t) {
        int qkvDim = config.qkvDim();
        int base = t * qkvDim;
        if (w.qkvBias() != null) {
            for (int i = 0; i < qkvDim; i++) qkv[base + i] += w.qkvBias()[i];
        }
        int hd = config.headDim();
        int half = config.ropeDims() / 2;
        for (int head = 0; head < config.heads() + config.kvHeads(); head++) {
            Kernels.rope(qkv, base + head * hd, angles.cos, angles.sin, t * half, config.ropeDims());
        }
        int kOff = base + config.qDim();
        batch.caches[t].store(l, batch.positions[t], qkv, kOff, qkv, kOff + config.kvDim());
    }

    /**
     * Attention of every token of the step, tiled over keys ({@link Attention}): runs of prompt tokens in items of a
     * few tokens per key group, generated tokens per key group and span of keys (then merged), all items in one
     * parallel loop.
     */
    private void attention(int l, Batch batch, float[] qkv, float[] context) {
        int groups = config.kvHeads();
        int[] decoders = batch.decodeTokens();
        List<AttentionItem> items = new ArrayList<>();
        int[] firstSpan = new int[decoders.length];
        int spans = 0;
        for (int i = 0; i < decoders.length; i++) {
            firstSpan[i] = spans;
            int count = Attention.decodeSpans(batch.positions[decoders[i]]);
            for (int g = 0; g < groups; g++) {
                for (int s = 0; s < count; s++) items.add(new AttentionItem(decoders[i], 1, g, s, spans++));
            }
        }
        int perItem = attention.tokensPerItem();
        for (int[] run : batch.promptRuns()) {
            for (int t = run[0]; t < run[0] + run[1]; t += perItem) {
                int tokens = Math.min(perItem, run[0] + run[1] - t);
                for (int g = 0; g < groups; g++) items.add(new AttentionItem(t, tokens, g, -1, -1));
            }
        }
        Attention.Partials partials = attention.partials(spans);
        pool.parallelFor(items.size(), i -> {
            AttentionItem it = items.get(i);
            int t = it.firstToken();
            if (it.span() < 0) {
                attention.prompt(l, batch.caches[t], it.group(), t, it.tokens(), batch.positions[t], qkv, context);
            } else {
                attention.decodeSpan(l, batch.caches[t], it.group(), t, batch.positions[t], it.span(), qkv, partials, it.slot());
            }
        });
        pool.parallelFor(decoders.length * groups, i -> {
            int d = i / groups, g = i % groups, t = decoders[d];
            int count = Attention.decodeSpans(batch.positions[t]);
            attention.merge(partials, firstSpan[d] + g * count, count, t, g, context);
        });
    }

    /**
     * One attention work item: {@code tokens} prompt tokens from {@code firstToken} for key group {@code group}
     * ({@code span} -1), or span {@code span} of the keys of generated token {@code firstToken}, into partial
     * slot {@code slot}.
     */
    private record AttentionItem(int firstToken, int tokens, int group, int span, int slot) {}

    private float[] logits(float[] h, int[] rows) {
        int hidden = config.hidden();
        float[] x = new float[rows.length * hidden];
        pool.parallelFor(rows.length, i -> Kernels.rmsNorm(h, rows[i] * hidden, weights.outputNorm(), config.rmsEps(), x, i * hidden, hidden));
        return matmul(weights.output(), x, new boolean[rows.length], new float[rows.length * weights.output().rows()], null);
    }

    /**
     * out[t][r] = W[r] . x[t], rows split into chunks over the worker pool. Prompt tokens go through the
     * panel kernel (a GEMM on unpacked weights), generated tokens through the decode kernel (streams the
     * stored weights once); a step holding both runs each kind as its own product. The logits of every
     * token, prompt or not, come from the decode kernel: unpacking the whole vocabulary matrix for the one
     * last prompt token would cost more than it saves.
     */
    private float[] matmul(WeightMatrix m, float[] x, boolean[] prompt, float[] out, LayerBuffers buffers) {
        int tokens = prompt.length, rows = m.rows();
        for (int from = 0, to; from < tokens; from = to) {
            boolean panels = prompt[from];
            to = from + 1;
            while (to < tokens && prompt[to] == panels) to++;
            Activations a = prepare(m, x, from, to - from, panels, buffers);
            int offset = from * rows;
            int chunk = rowChunk(rows, panels ? io.sparkglm.tensor.FloatGemm.tileWidth() : 16);
            int chunks = (rows + chunk - 1) / chunk;
            if (panels) {
                pool.parallelFor(chunks, c -> m.matmulPanels(a, out, offset, rows, c * chunk, Math.min(rows, (c + 1) * chunk)));
            } else {
                pool.parallelFor(chunks, c -> m.matmul(a, out, offset, rows, c * chunk, Math.min(rows, (c + 1) * chunk)));
            }
        }
        return out;
    }

    /**
     * Tokens {@code [from, from + n)} of {@code x} prepared for {@code m}'s activation format. Quantizing a long
     * prompt chunk (rint per value) took ~3% of a 512-token step on one thread while the others waited; it is
     * split over the pool, with the dense values the panel kernel reads.
     */
    private Activations prepare(WeightMatrix m, float[] x, int from, int n, boolean panels, LayerBuffers buffers) {
        int cols = m.cols();
        Activations a = (buffers != null ? buffers.input(m) : Activations.allocate(m.activationFormat(), n, cols)).resize(n);
        int perItem = Math.max(8, (n + pool.threads() * 4 - 1) / (pool.threads() * 4));
        pool.parallelFor((n + perItem - 1) / perItem,
                i -> a.loadTokens(x, from * cols, i * perItem, Math.min(n, (i + 1) * perItem), panels));
        if (panels) a.denseLoaded();
        return a;
    }

    /** Rows per work item: about eight items per thread (load balance), a multiple of the kernel's row tile. */
    private int rowChunk(int rows, int multiple) {
        int target = Math.max(multiple, rows / (pool.threads() * 8));
        return (target + multiple - 1) / multiple * multiple;
    }

    private static void addInto(float[] h, float[] delta) {
        for (int i = 0; i < h.length; i++) h[i] += delta[i];
    }

    /** cos and sin of p * theta_i per token ({@link #ropeAngles}). */
    record Angles(float[] cos, float[] sin) {}

    private Angles angles(int[] positions) {
        return ropeAngles(positions, inverseFrequencies);
    }

    /**
     * cos and sin of {@code position * theta_i} for every token and pair, {@code [t * pairs + i]}. The angle is
     * computed in double and only its cos and sin are rounded to float, once. Near position 2^20 an angle of
     * ~10^6 radians held in float has an ulp of 2^-4 radians, so a float product (and a float theta_i) would be off
     * by up to a few hundredths of a radian: a visibly wrong rotation. In double the angle is good to ~10^-10 radians
     * and the only error left is the rounding of cos and sin to float (RopeAtLongPositionsTest).
     */
    static Angles ropeAngles(int[] positions, double[] inverseFrequencies) {
        int half = inverseFrequencies.length;
        float[] cos = new float[positions.length * half];
        float[] sin = new float[positions.length * half];
        for (int t = 0; t < positions.length; t++) {
            for (int i = 0; i < half; i++) {
                double angle = positions[t] * inverseFrequencies[i];
                cos[t * half + i] = (float) Math.cos(angle);
                sin[t * half + i] = (float) Math.sin(angle);
            }
        }
        return new Angles(cos, sin);
    }

    @Override
    public void close() {
        pool.close();
    }

    /** A step flattened to tokens: which sequence and position each token has, which rows want logits. */
    private record Batch(int[] tokens, int[] positions, boolean[] prompt, CpuSequenceCache[] caches, int[] logitRows,
                         int[] logitCounts, Map<CpuSequenceCache, Integer> added) {

        static Batch of(List<Step> steps, int vocab) {
            int n = 0;
            for (Step s : steps) n += s.tokens().length;
            int[] tokens = new int[n], positions = new int[n];
            boolean[] prompt = new boolean[n];
            CpuSequenceCache[] caches = new CpuSequenceCache[n];
            List<Integer> logitRows = new ArrayList<>();
            int[] logitCounts = new int[steps.size()];
            Map<CpuSequenceCache, Integer> added = new IdentityHashMap<>();
            int t = 0;
            for (int i = 0; i < steps.size(); i++) {
                Step s = steps.get(i);
                if (!(s.sequence() instanceof CpuSequenceCache cache)) {
                    throw new IllegalArgumentException("sequence was not made by the cpu backend");
                }
                if (added.put(cache, s.tokens().length) != null) {
                    throw new IllegalArgumentException("a sequence appears twice in one step");
                }
                cache.reserve(cache.length() + s.tokens().length);
                for (int j = 0; j < s.tokens().length; j++, t++) {
                    int id = s.tokens()[j];
                    if (id < 0 || id >= vocab) throw new IllegalArgumentException("token id " + id + " is outside the vocabulary [0, " + vocab + ")");
                    tokens[t] = id;
                    positions[t] = cache.length() + j;
                    prompt[t] = s.prompt();
                    caches[t] = cache;
                    if (s.allLogits() || j == s.tokens().length - 1) logitRows.add(t);
                }
                logitCounts[i] = s.allLogits() ? s.tokens().length : 1;
            }
            return new Batch(tokens, positions, prompt, caches, logitRows.stream().mapToInt(Integer::intValue).toArray(),
                    logitCounts, added);
        }

        /** Indices of the generated (non-prompt) tokens. */
        int[] decodeTokens() {
            int count = 0;
            for (boolean p : prompt) if (!p) count++;
            int[] out = new int[count];
            for (int t = 0, i = 0; t < prompt.length; t++) if (!prompt[t]) out[i++] = t;
            return out;
        }

        /** Prompt tokens as runs {first token, count}: consecutive tokens of one sequence at consecutive positions. */
        List<int[]> promptRuns() {
            List<int[]> runs = new ArrayList<>();
            for (int t = 0; t < tokens.length; ) {
                if (!prompt[t]) {
                    t++;
                    continue;
                }
                int end = t + 1;
                while (end < tokens.length && prompt[end] && caches[end] == caches[t] && positions[end] == positions[end - 1] + 1) end++;
                runs.add(new int[] {t, end - t});
                t = end;
            }
            return runs;
        }

        List<float[]> split(float[] logits, int vocab) {
            List<float[]> out = new ArrayList<>(logitCounts.length);
            int row = 0;
            for (int count : logitCounts) {
                float[] part = new float[count * vocab];
                System.arraycopy(logits, row * vocab, part, 0, part.length);
                out.add(part);
                row += count;
            }
            return out;
        }
    }
}
