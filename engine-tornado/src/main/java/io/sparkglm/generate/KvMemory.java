package io.sparkglm.generate;

import io.sparkglm.model.MemoryEstimate;
import java.lang.management.ManagementFactory;

/**
 * The memory the KV caches of one engine may take together, and what is taken. The CPU backend keeps caches
 * off-heap (a 1M-token cache does not fit a Java array), where the JVM sets no limit: past the machine's memory
 * the process is killed by the operating system (or the container's manager) with no error a user can read. So
 * the engine reserves each sequence's worst case before admitting it and refuses a row that can never fit, with
 * the numbers. Used by the scheduler thread only.
 */
final class KvMemory {

    /** Left for thread stacks, native buffers and the code cache when the limit is derived from the machine. */
    static final long HEADROOM = 512L << 20;

    private final long limit;
    private final String limitSource;
    private long reserved;

    KvMemory(long limit, String limitSource) {
        this.limit = limit;
        this.limitSource = limitSource;
    }

    /**
     * The given limit, or (0) what the machine (a container's limit where there is one) leaves beside the largest
     * heap this JVM may grow to, the weights (memory-mapped: resident as they are read) and a headroom.
     */
    static KvMemory of(long configured, long weightBytes) {
        if (configured > 0) return new KvMemory(configured, "kvCacheMemory");
        long physical = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize();
        long heap = Runtime.getRuntime().maxMemory();
        long left = Math.max(0, physical - heap - weightBytes - HEADROOM);
        return new KvMemory(left, "machine memory " + MemoryEstimate.human(physical) + " minus the heap limit "
                + MemoryEstimate.human(heap) + ", the weights " + MemoryEstimate.human(weightBytes) + " and "
                + MemoryEstimate.human(HEADROOM) + " headroom; set kvCacheMemory to choose");
    }

    long limit() { return limit; }

    /** Why a cache of {@code bytes} can never be admitted, or null when it could be once enough others finish. */
    String neverFits(long bytes, int tokens) {
        if (bytes <= limit) return null;
        return "the KV cache for " + tokens + " tokens (prompt + max_tokens) needs " + MemoryEstimate.human(bytes)
                + " (" + bytes + " bytes), more than the " + MemoryEstimate.human(limit) + " (" + limit
                + " bytes) the engine may use for KV caches (" + limitSource + "); lower max_tokens or the context "
                + "(maxContext), use a smaller KV cache type (f16, q8_0), or give the executor more memory";
    }

    boolean tryReserve(long bytes) {
        if (bytes > limit - reserved) return false;
        reserved += bytes;
        return true;
    }

    void release(long bytes) {
        reserved -= bytes;
    }
}
