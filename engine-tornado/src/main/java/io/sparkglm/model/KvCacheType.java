package io.sparkglm.model;

import java.util.Locale;

/**
 * How a KV cache stores its keys and values, and what that costs: the one place that knows the bytes per value
 * of each type. {@code q8_0} is ggml's block of 32 int8 values with one fp16 scale (34 bytes per 32 values); a
 * row whose length is not a multiple of 32 would take a partly filled last block.
 */
public enum KvCacheType {
    F32(4, 1),
    F16(2, 1),
    Q8_0(34, 32);

    private final int blockBytes;
    private final int blockValues;

    KvCacheType(int blockBytes, int blockValues) {
        this.blockBytes = blockBytes;
        this.blockValues = blockValues;
    }

    /** "f32", "f16", "q8_0": the name options and the engine use. */
    public String id() { return name().toLowerCase(Locale.ROOT); }

    /** Bytes one row of {@code values} keys (or values) takes: whole blocks. */
    public long rowBytes(long values) {
        return (values + blockValues - 1) / blockValues * blockBytes;
    }

    /** KV bytes one token adds: a key row and a value row of {@code kvDim} values in every layer. */
    public long bytesPerToken(ModelConfig c) {
        return 2L * c.layers() * rowBytes(c.kvDim());
    }

    /** The type named {@code id} (case-insensitive), or an error listing the ones there are. */
    public static KvCacheType parse(String id) {
        for (KvCacheType t : values()) {
            if (t.id().equalsIgnoreCase(id.strip())) return t;
        }
        throw new IllegalArgumentException("KV cache type '" + id + "' is not one of f32, f16, q8_0");
    }

    @Override
    public String toString() { return id(); }
}
