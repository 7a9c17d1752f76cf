package io.sparkglm.generate;

import io.sparkglm.backend.KvCacheType;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;

/**
 * How to load and run an engine.
 *
 * @param model         a GGUF file or a Hugging Face folder
 * @param backend       "cpu", "tornado" or "auto"
 * @param threads       compute threads (CPU backend); 0 = all cores
 * @param maxContext    context cap in tokens (prompt + generated); 0 = the model's own
 * @param kvCacheType   "f32", "f16", "q8_0" (ADR 0011) or "auto": the smallest-error type whose caches for the
 *                      engine's context times maxBatch fit the KV memory (resolved by {@link Engine#load})
 * @param prefillChunk  prompt tokens per forward step; 0 = the whole prompt at once
 * @param maxBatch      most sequences decoded together
 * @param device        accelerator index for the tornado backend (-1 = default)
 * @param kvCacheMemory bytes the KV caches of all live sequences may take together (0 = what the machine leaves
 *                      beside the heap and the weights, see {@link KvMemory}); a row whose cache cannot fit is refused
 * @param stepTimeoutMillis a forward step running longer than this fails the engine (0 = never)
 */
public record EngineOptions(Path model, String backend, int threads, int maxContext, String kvCacheType,
                            int prefillChunk, int maxBatch, int device, long kvCacheMemory, long stepTimeoutMillis) {

    /** A step of a 9B model over a 512-token chunk deep into a long context takes minutes on a few cores. */
    public static final long DEFAULT_STEP_TIMEOUT_MILLIS = 30 * 60_000L;

    public EngineOptions {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(kvCacheType, "kvCacheType");
        if (threads < 0) throw new IllegalArgumentException("threads must be >= 0: " + threads);
        if (maxContext < 0) throw new IllegalArgumentException("maxContext must be >= 0: " + maxContext);
        if (prefillChunk < 0) throw new IllegalArgumentException("prefillChunk must be >= 0: " + prefillChunk);
        if (maxBatch <= 0) throw new IllegalArgumentException("maxBatch must be > 0: " + maxBatch);
        if (!KvCacheType.isValidOption(kvCacheType)) {
            throw new IllegalArgumentException("kvCacheType must be " + KvCacheType.ALLOWED + ": " + kvCacheType);
        }
        kvCacheType = kvCacheType.toLowerCase(Locale.ROOT);
        if (kvCacheMemory < 0) throw new IllegalArgumentException("kvCacheMemory must be >= 0 (0 = auto): " + kvCacheMemory);
        if (stepTimeoutMillis < 0) throw new IllegalArgumentException("stepTimeoutMillis must be >= 0 (0 = never): " + stepTimeoutMillis);
    }

    public static EngineOptions defaults(Path model) {
        return new EngineOptions(model, "cpu", 0, 0, "f32", 512, 16, -1, 0, DEFAULT_STEP_TIMEOUT_MILLIS);
    }

    public EngineOptions withBackend(String b) { return new EngineOptions(model, b, threads, maxContext, kvCacheType, prefillChunk, maxBatch, device, kvCacheMemory, stepTimeoutMillis); }
    public EngineOptions withThreads(int t) { return new EngineOptions(model, backend, t, maxContext, kvCacheType, prefillChunk, maxBatch, device, kvCacheMemory, stepTimeoutMillis); }
    public EngineOptions withMaxContext(int c) { return new EngineOptions(model, backend, threads, c, kvCacheType, prefillChunk, maxBatch, device, kvCacheMemory, stepTimeoutMillis); }
    public EngineOptions withKvCacheType(String k) { return new EngineOptions(model, backend, threads, maxContext, k, prefillChunk, maxBatch, device, kvCacheMemory, stepTimeoutMillis); }
    public EngineOptions withPrefillChunk(int p) { return new EngineOptions(model, backend, threads, maxContext, kvCacheType, p, maxBatch, device, kvCacheMemory, stepTimeoutMillis); }
    public EngineOptions withMaxBatch(int b) { return new EngineOptions(model, backend, threads, maxContext, kvCacheType, prefillChunk, b, device, kvCacheMemory, stepTimeoutMillis); }
    public EngineOptions withDevice(int d) { return new EngineOptions(model, backend, threads, maxContext, kvCacheType, prefillChunk, maxBatch, d, kvCacheMemory, stepTimeoutMillis); }
    public EngineOptions withKvCacheMemory(long bytes) { return new EngineOptions(model, backend, threads, maxContext, kvCacheType, prefillChunk, maxBatch, device, bytes, stepTimeoutMillis); }
    public EngineOptions withStepTimeoutMillis(long ms) { return new EngineOptions(model, backend, threads, maxContext, kvCacheType, prefillChunk, maxBatch, device, kvCacheMemory, ms); }
}
