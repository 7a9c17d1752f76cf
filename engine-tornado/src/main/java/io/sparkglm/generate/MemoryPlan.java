package io.sparkglm.generate;

import io.sparkglm.backend.cpu.CpuStepMemory;
import io.sparkglm.model.GgmlType;
import io.sparkglm.backend.KvCacheType;
import io.sparkglm.model.MemoryEstimate;
import io.sparkglm.model.ModelConfig;
import io.sparkglm.tensor.ActivationFormat;
import java.lang.management.ManagementFactory;

/**
 * What the CPU engine needs in memory for {@code batch} sequences of {@code context} tokens each, as the engine is
 * today:
 * <ul>
 *   <li><b>weights</b>: memory-mapped, resident in the page cache as they are read (all of them, every step);</li>
 *   <li><b>KV cache</b>: off-heap, {@code batch} caches of whole {@value CpuStepMemory#KV_PAGE_TOKENS}-token pages
 *       of {@link KvCacheType#bytesPerToken} each, what {@link KvMemory} reserves before admitting a row;</li>
 *   <li><b>activations</b>: heap, the arrays of one forward step ({@link CpuStepMemory#liveBytes}). A step carries
 *       at most {@code prefillChunk} tokens (at least one per decoding sequence); with {@code prefillChunk 0} a
 *       step takes whole prompts, so this grows with the prompt, and past ~78K tokens (GLM-4-9B) no Java array can
 *       hold a step;</li>
 *   <li><b>scratch</b>: heap, what each compute thread keeps ({@link CpuStepMemory#scratchBytesPerThread}):
 *       attention's tiles and the panel kernel's, the same at any context;</li>
 *   <li><b>headroom</b>: {@link KvMemory#HEADROOM} for thread stacks, native buffers and compiled code.</li>
 * </ul>
 * The heap figures are live data: a JVM heap wants some room above them for the garbage collector.
 */
public record MemoryPlan(ModelConfig config, long weights, KvCacheType kvType, int context, int batch, int prefillChunk,
                         int threads, long kvBytesPerToken, long kvCache, long stepTokens, long activations,
                         long scratchPerThread) {

    /**
     * @param weightBytes the checkpoint's (or an estimate's) bytes
     * @param weightType  the type of the layers' matrices (decides how activations are prepared)
     */
    public static MemoryPlan of(ModelConfig c, long weightBytes, GgmlType weightType, KvCacheType kvType, int context,
                                int batch, int prefillChunk, int threads) {
        if (context < 1 || batch < 1 || prefillChunk < 0 || threads < 1) {
            throw new IllegalArgumentException("context, batch and threads must be positive and prefillChunk >= 0: "
                    + context + ", " + batch + ", " + prefillChunk + ", " + threads);
        }
        long perToken = kvType.bytesPerToken(c);
        long page = CpuStepMemory.KV_PAGE_TOKENS;
        long kv = Math.multiplyExact(Math.multiplyExact((context + page - 1) / page * page, perToken), batch);
        long all = (long) batch * context;
        long step = prefillChunk > 0 ? Math.min(Math.max(prefillChunk, batch), all) : all;
        long live = CpuStepMemory.liveBytes(c, activationFormat(weightType), step, batch);
        return new MemoryPlan(c, weightBytes, kvType, context, batch, prefillChunk, threads, perToken, kv, step, live,
                CpuStepMemory.scratchBytesPerThread(c, context));
    }

    /** How the CPU kernels prepare the input of a matrix of this type (ggml's vec_dot_type). */
    public static ActivationFormat activationFormat(GgmlType t) {
        return switch (t) {
            case F32 -> ActivationFormat.F32;
            case F16 -> ActivationFormat.F16;
            case BF16 -> ActivationFormat.BF16;
            case Q8_0, Q4_0, Q5_0 -> ActivationFormat.Q8_0;
            case Q5_1 -> ActivationFormat.Q8_1;
            case Q4_K, Q5_K, Q6_K -> ActivationFormat.Q8_K;
        };
    }

    public long scratch() { return scratchPerThread * threads; }

    public long headroom() { return KvMemory.HEADROOM; }

    /** Java heap the plan's live arrays take. */
    public long heap() { return activations + scratch(); }

    public long total() { return weights + kvCache + heap() + headroom(); }

    /** Whether one step's arrays fit Java arrays at all (under 2^31 elements each). */
    public boolean stepFitsArrays() { return stepTokens <= CpuStepMemory.maxStepTokens(config); }

    /** Why the plan does not fit {@code budget}, or null when it does. */
    public String problem(Budget budget) {
        if (!stepFitsArrays()) {
            return "a step of " + stepTokens + " tokens needs arrays of more than 2^31 floats, which Java cannot make:"
                    + " set a prefill chunk of at most " + CpuStepMemory.maxStepTokens(config) + " tokens";
        }
        if (budget.heapLimit() > 0) {
            if (heap() > budget.heapLimit()) {
                return "the heap parts (activations and scratch) need " + human(heap()) + ", more than the heap limit "
                        + human(budget.heapLimit());
            }
            long offHeap = budget.bytes() - budget.heapLimit() - weights - headroom();
            if (kvCache > offHeap) {
                return "the KV cache needs " + human(kvCache) + ", more than the " + human(Math.max(0, offHeap))
                        + " left beside the heap limit, the weights and the headroom";
            }
            return null;
        }
        return total() > budget.bytes() ? "needs " + human(total()) + ", more than " + human(budget.bytes()) : null;
    }

    public boolean fits(Budget budget) { return problem(budget) == null; }

    /** This plan with another context (and its KV cache, step and scratch). */
    public MemoryPlan withContext(int n, GgmlType weightType) {
        return of(config, weights, weightType, kvType, n, batch, prefillChunk, threads);
    }

    /**
     * The longest context per sequence (at this batch) that fits {@code budget}, up to the model's own context;
     * 0 when not even one token does. Every part grows with the context or stays, so a binary search finds it.
     */
    public int largestContext(Budget budget, GgmlType weightType) {
        int lo = 0, hi = config.contextLength();
        while (lo < hi) {
            int mid = (int) (((long) lo + hi + 1) / 2);
            if (withContext(mid, weightType).fits(budget)) lo = mid;
            else hi = mid - 1;
        }
        return lo;
    }

    /**
     * Memory to plan for.
     *
     * @param bytes     the whole memory (the machine's, a container's, an executor's)
     * @param heapLimit the JVM's heap limit when it is fixed (this JVM): heap parts must fit it, the KV cache what it
     *                  leaves (as {@link KvMemory} computes the engine's default); 0 when the heap is to be sized to
     *                  the plan (a machine planned for): then everything together must fit {@code bytes}
     * @param source    says where the figure came from
     */
    public record Budget(long bytes, long heapLimit, String source) {

        public static Budget of(long bytes, String source) {
            if (bytes <= 0) throw new IllegalArgumentException("memory must be positive: " + bytes);
            return new Budget(bytes, 0, source);
        }

        /** This JVM: the machine's (container's) memory, with the heap limit it runs with. */
        public static Budget thisJvm() {
            long physical = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                    .getTotalMemorySize();
            long heap = Runtime.getRuntime().maxMemory();
            return new Budget(physical, heap, "this JVM: machine memory " + human(physical) + ", of it the heap limit "
                    + human(heap) + " for activations and scratch, the rest for weights, KV cache and headroom");
        }
    }

    private static String human(long bytes) { return MemoryEstimate.human(bytes); }
}
