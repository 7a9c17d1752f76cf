package io.sparkglm.backend;

/**
 * Backend settings that do not come from the model.
 *
 * @param threads     compute threads; 0 = all cores
 * @param kvCacheType "f32" or "f16"
 * @param device      accelerator index (-1 = the backend's default)
 */
public record BackendOptions(int threads, String kvCacheType, int device) {

    public int resolvedThreads() {
        return threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
    }
}
