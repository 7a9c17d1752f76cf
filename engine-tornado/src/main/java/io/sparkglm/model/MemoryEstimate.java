package io.sparkglm.model;

/**
 * A model's size from its config alone (parameters, the bytes of a checkpoint of a given type) and byte counts for
 * people. KV cache sizes are {@code io.sparkglm.backend.KvCacheType}'s; whole memory plans are {@code io.sparkglm.generate.MemoryPlan}'s.
 */
public final class MemoryEstimate {

    private MemoryEstimate() {}

    /** Weights of the 2-D matrices: embedding, output and per layer QKV, attention output, gate|up and down. */
    public static long matrixParameters(ModelConfig c) {
        long perLayer = (long) c.qkvDim() * c.hidden() + (long) c.hidden() * c.qDim() + 2L * c.ffnHidden() * c.hidden()
                + (long) c.hidden() * c.ffnHidden();
        return 2L * c.vocabSize() * c.hidden() + c.layers() * perLayer;
    }

    /** Weights of the 1-D tensors: two norms and the QKV bias per layer, the final norm. */
    public static long vectorParameters(ModelConfig c) {
        return c.layers() * (2L * c.hidden() + (c.qkvBias() ? c.qkvDim() : 0)) + c.hidden();
    }

    /** Every weight the config implies (9,483,857,920 for glm-4-9b-chat-1m). */
    public static long parameters(ModelConfig c) {
        return matrixParameters(c) + vectorParameters(c);
    }

    /**
     * The bytes a checkpoint of {@code type} would hold, from the config alone: matrices in {@code type}; norms and
     * biases in f32 as GGUF files keep them, except for bf16, where (as in the published safetensors) they are bf16.
     */
    public static long estimatedWeightBytes(ModelConfig c, GgmlType type) {
        GgmlType vectors = type == GgmlType.BF16 ? GgmlType.BF16 : GgmlType.F32;
        return type.byteSize(matrixParameters(c)) + vectors.byteSize(vectorParameters(c));
    }

    /** 83886080 -> "80.0 MiB". */
    public static String human(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return u == 0 ? bytes + " B" : String.format(java.util.Locale.ROOT, "%.1f %s", v, units[u]);
    }
}
