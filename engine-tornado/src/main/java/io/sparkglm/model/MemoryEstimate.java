package io.sparkglm.model;

/**
 * What running a model costs in memory: its weights plus the KV cache, which grows by
 * {@code 2 (K and V) * layers * kvHeads * headDim * bytes per value} for every token of context.
 */
public record MemoryEstimate(long weightBytes, long kvBytesPerTokenF16, long kvBytesPerTokenF32) {

    public static MemoryEstimate of(ModelConfig c, long weightBytes) {
        return new MemoryEstimate(weightBytes, kvBytesPerToken(c, 2), kvBytesPerToken(c, 4));
    }

    /** KV cache bytes per token when K and V are stored with {@code bytesPerValue} (f16/bf16 2, f32 4). */
    public static long kvBytesPerToken(ModelConfig c, int bytesPerValue) {
        return 2L * c.layers() * c.kvHeads() * c.headDim() * bytesPerValue;
    }

    public long totalF16(long contextTokens) {
        return Math.addExact(weightBytes, Math.multiplyExact(kvBytesPerTokenF16, contextTokens));
    }

    public long totalF32(long contextTokens) {
        return Math.addExact(weightBytes, Math.multiplyExact(kvBytesPerTokenF32, contextTokens));
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
