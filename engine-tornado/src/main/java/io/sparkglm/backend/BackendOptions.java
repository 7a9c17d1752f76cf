package io.sparkglm.backend;

/**
 * Backend settings that do not come from the model.
 *
 * @param threads      compute threads; 0 = all cores
 * @param kvCacheType  "f32", "f16" or "q8_0" (see {@link KvCacheType}; an engine resolves "auto" before it opens a
 *                     backend)
 * @param device       accelerator index (-1 = the backend's default)
 * @param maxSequences most sequences the engine keeps live at once (0 = not known): a backend that reserves
 *                     per-sequence memory up front (device KV slots) sizes itself by it
 * @param maxContext   the engine's context cap in tokens (0 = the model's own)
 */
public record BackendOptions(int threads, String kvCacheType, int device, int maxSequences, int maxContext) {

    public BackendOptions {
        if (threads < 0 || maxSequences < 0 || maxContext < 0) {
            throw new IllegalArgumentException("threads, maxSequences and maxContext must be >= 0");
        }
    }

    /** Options for a backend driven without the engine's batching limits (CLI, tests). */
    public BackendOptions(int threads, String kvCacheType, int device) {
        this(threads, kvCacheType, device, 0, 0);
    }

    public int resolvedThreads() {
        return threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
    }
}
