package io.sparkglm.backend.cpu;

import io.sparkglm.backend.Backend;
import io.sparkglm.backend.BackendOptions;
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
 * Every token's arithmetic is the same whatever else shares its step, so batching never changes results.
 */
public final class CpuBackend implements Backend {

    private final ModelConfig config;
    private final CpuWeights weights;
    private final WorkerPool pool;
    private final boolean f16Cache;
    private final double[] inverseFrequencies;   // theta_i = base^(-2i / ropeDims)

    public CpuBackend(Checkpoint checkpoint, BackendOptions options) {
        this.config = checkpoint.config();
        this.weights = CpuWeights.from(checkpoint);
        this.pool = new WorkerPool(options.resolvedThreads());
        this.f16Cache = "f16".equals(options.kvCacheType());
        this.inverseFrequencies = new double[config.ropeDims() / 2];
        for (int i = 0; i < inverseFrequencies.length; i++) {
            inverseFrequencies[i] = Math.pow(config.ropeBase(), -2.0 * i / config.ropeDims());
        }
    }

    @Override public String name() { return "cpu"; }
    @Override public ModelConfig config() { return config; }

    @Override
    public SequenceCache newSequence(int capacity) {
        return newSequence(capacity, CpuSequenceCache.PAGE_TOKENS);
    }

    /** A cache with a chosen page size (tests cross page boundaries with small pages). */
    SequenceCache newSequence(int capacity, int pageTokens) {
        if (capacity <= 0) throw new IllegalArgumentException("capacity must be positive: " + capacity);
        return new CpuSequenceCache(config.layers(), capacity, config.kvDim(), f16Cache, pageTokens);
    }

    @Override
    public List<float[]> forward(List<Step> steps) {
        Batch batch = Batch.of(steps, config.vocabSize());
        int n = batch.tokens.length;
        int hidden = config.hidden();

        float[] h = new float[n * hidden];
        for (int t = 0; t < n; t++) weights.tokenEmbedding().dequantizeRow(batch.tokens[t], h, t * hidden);
        Angles angles = angles(batch.positions);

        for (int l = 0; l < config.layers(); l++) {
            layer(l, weights.layers()[l], batch, angles, h);
        }

        float[] logits = logits(h, batch.logitRows);
        for (Map.Entry<CpuSequenceCache, Integer> e : batch.added.entrySet()) e.getKey().advance(e.getValue());
        return batch.split(logits, config.vocabSize());
    }

    private void layer(int l, CpuWeights.Layer w, Batch batch, Angles angles, float[] h) {
        int n = batch.tokens.length;
        int hidden = config.hidden();

        float[] x = new float[n * hidden];
        pool.parallelFor(n, t -> Kernels.rmsNorm(h, t * hidden, w.attnNorm(), config.rmsEps(), x, t * hidden, hidden));
        float[] qkv = matmul(w.qkv(), x, n);
        pool.parallelFor(n, t -> positionQkv(l, w, batch, angles, qkv, t));

        float[] context = new float[n * config.qDim()];
        pool.parallelFor(n * config.heads(), item -> attend(l, batch, qkv, context, item / config.heads(), item % config.heads()));
        addInto(h, matmul(w.attnOutput(), context, n));

        pool.parallelFor(n, t -> Kernels.rmsNorm(h, t * hidden, w.ffnNorm(), config.rmsEps(), x, t * hidden, hidden));
        float[] gateUp = matmul(w.ffnGateUp(), x, n);
        int ffn = config.ffnHidden();
        float[] act = new float[n * ffn];
        pool.parallelFor(n, t -> {
            for (int i = 0; i < ffn; i++) {
                act[t * ffn + i] = Kernels.silu(gateUp[t * 2 * ffn + i]) * gateUp[t * 2 * ffn + ffn + i];
            }
        });
        addInto(h, matmul(w.ffnDown(), act, n));
    }

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

    /** Causal attention of one query head of token t over its sequence's cache, softmax in fp32. */
    private void attend(int l, Batch batch, float[] qkv, float[] context, int t, int head) {
        int hd = config.headDim();
        int group = head / (config.heads() / config.kvHeads());
        int qOff = t * config.qkvDim() + head * hd;
        int positions = batch.positions[t] + 1;
        CpuSequenceCache cache = batch.caches[t];
        float scale = (float) (1.0 / Math.sqrt(hd));

        float[] scores = Scratch.scores(positions);
        float max = Float.NEGATIVE_INFINITY;
        for (int s = 0; s < positions; s++) {
            scores[s] = cache.dotKey(l, s, group * hd, qkv, qOff, hd) * scale;
            max = Math.max(max, scores[s]);
        }
        double sum = 0;
        for (int s = 0; s < positions; s++) {
            float e = (float) Math.exp(scores[s] - max);
            scores[s] = e;
            sum += e;
        }
        float inv = (float) (1.0 / sum);
        int outOff = t * config.qDim() + head * hd;
        for (int s = 0; s < positions; s++) {
            cache.accumulateValue(l, s, group * hd, scores[s] * inv, context, outOff, hd);
        }
    }

    private float[] logits(float[] h, int[] rows) {
        int hidden = config.hidden();
        float[] x = new float[rows.length * hidden];
        pool.parallelFor(rows.length, i -> Kernels.rmsNorm(h, rows[i] * hidden, weights.outputNorm(), config.rmsEps(), x, i * hidden, hidden));
        return matmul(weights.output(), x, rows.length);
    }

    /** out[t][r] = W[r] . x[t], rows split into chunks over the worker pool. */
    private float[] matmul(WeightMatrix m, float[] x, int tokens) {
        Activations a = Activations.prepare(m.activationFormat(), x, 0, tokens, m.cols());
        int rows = m.rows();
        float[] out = new float[tokens * rows];
        int chunk = rowChunk(rows);
        int chunks = (rows + chunk - 1) / chunk;
        pool.parallelFor(chunks, c -> m.matmul(a, out, rows, c * chunk, Math.min(rows, (c + 1) * chunk)));
        return out;
    }

    private int rowChunk(int rows) {
        int target = Math.max(16, rows / (pool.threads() * 8));
        return (target + 15) & ~15;
    }

    private static void addInto(float[] h, float[] delta) {
        for (int i = 0; i < h.length; i++) h[i] += delta[i];
    }

    /** cos and sin of p * theta_i per token, computed in double (exact at positions near 1M). */
    private record Angles(float[] cos, float[] sin) {}

    private Angles angles(int[] positions) {
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

    /** Per-thread score buffers for attention (grown, never shrunk). */
    private static final class Scratch {
        private static final ThreadLocal<float[]> SCORES = ThreadLocal.withInitial(() -> new float[1024]);

        static float[] scores(int n) {
            float[] s = SCORES.get();
            if (s.length < n) {
                s = new float[Math.max(n, s.length * 2)];
                SCORES.set(s);
            }
            return s;
        }
    }

    /** A step flattened to tokens: which sequence and position each token has, which rows want logits. */
    private record Batch(int[] tokens, int[] positions, CpuSequenceCache[] caches, int[] logitRows,
                         int[] logitCounts, Map<CpuSequenceCache, Integer> added) {

        static Batch of(List<Step> steps, int vocab) {
            int n = 0;
            for (Step s : steps) n += s.tokens().length;
            int[] tokens = new int[n], positions = new int[n];
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
                    caches[t] = cache;
                    if (s.allLogits() || j == s.tokens().length - 1) logitRows.add(t);
                }
                logitCounts[i] = s.allLogits() ? s.tokens().length : 1;
            }
            return new Batch(tokens, positions, caches, logitRows.stream().mapToInt(Integer::intValue).toArray(),
                    logitCounts, added);
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
