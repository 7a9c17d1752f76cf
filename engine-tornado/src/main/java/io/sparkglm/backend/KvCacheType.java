package io.sparkglm.backend;

import io.sparkglm.model.ModelConfig;
import java.util.Locale;

/**
 * How a KV cache stores its keys and values (ADR 0011). Ordered by size: each type is smaller and rounds more
 * than the one before it.
 * <ul>
 *   <li>{@link #F32}: the values as computed;</li>
 *   <li>{@link #F16}: each value rounded to fp16 (half the memory, llama.cpp's default);</li>
 *   <li>{@link #Q8_0}: ggml's Q8_0 blocks, 32 values as one fp16 scale {@code d = amax/127} and 32 int8
 *       {@code q = rint(x * 127/amax)}: 34 bytes per 32 values, 17/32 of f16.</li>
 * </ul>
 * Options carry the type as its name ({@link #id()}); {@value #AUTO} lets the engine pick the smallest-error type
 * whose worst-case caches fit its KV memory.
 */
public enum KvCacheType {
    F32("f32"), F16("f16"), Q8_0("q8_0");

    /** The option value that lets the engine choose (see {@code Engine.load}). */
    public static final String AUTO = "auto";
    /** Values per Q8_0 block, and its bytes: fp16 scale + 32 int8. */
    public static final int Q8_0_BLOCK = 32, Q8_0_BLOCK_BYTES = 34;
    /** What an option may say, for error messages. */
    public static final String ALLOWED = "f32, f16, q8_0 or auto";

    private final String id;

    KvCacheType(String id) {
        this.id = id;
    }

    /** The option value: "f32", "f16" or "q8_0". */
    public String id() { return id; }

    /** The type named {@code id} (case-insensitive); "auto" is not a type: resolve it first. */
    public static KvCacheType of(String id) {
        if (id != null) {
            String lower = id.toLowerCase(Locale.ROOT);
            for (KvCacheType t : values()) if (t.id.equals(lower)) return t;
        }
        throw new IllegalArgumentException("unknown KV cache type '" + id + "' (known: f32, f16, q8_0)");
    }

    /** Whether {@code id} is a valid option value: a type or "auto". */
    public static boolean isValidOption(String id) {
        if (id == null) return false;
        if (id.equalsIgnoreCase(AUTO)) return true;
        for (KvCacheType t : values()) if (t.id.equalsIgnoreCase(id)) return true;
        return false;
    }

    /** Bytes one row of {@code kvDim} values (one token's keys, or values, of one layer) takes. */
    public long rowBytes(int kvDim) {
        return switch (this) {
            case F32 -> 4L * kvDim;
            case F16 -> 2L * kvDim;
            case Q8_0 -> {
                requireWholeBlocks(kvDim);
                yield (long) kvDim / Q8_0_BLOCK * Q8_0_BLOCK_BYTES;
            }
        };
    }

    /**
     * KV bytes one token adds: a key row and a value row of {@code kvDim} values in every layer. For planning, a
     * q8_0 width that is not whole blocks counts its last block whole (the cache itself refuses such a width).
     */
    public long bytesPerToken(ModelConfig c) {
        long row = this == Q8_0 ? ((long) c.kvDim() + Q8_0_BLOCK - 1) / Q8_0_BLOCK * Q8_0_BLOCK_BYTES : rowBytes(c.kvDim());
        return 2L * c.layers() * row;
    }

    @Override
    public String toString() { return id; }

    /** Refuses a row width Q8_0 cannot store: its blocks never straddle rows. */
    public static void requireWholeBlocks(int kvDim) {
        if (kvDim % Q8_0_BLOCK != 0) {
            throw new IllegalArgumentException("the q8_0 KV cache needs the KV width (kv heads x head dim) to be a "
                    + "multiple of " + Q8_0_BLOCK + "; this model's is " + kvDim + ": use the f16 or f32 cache");
        }
    }
}
