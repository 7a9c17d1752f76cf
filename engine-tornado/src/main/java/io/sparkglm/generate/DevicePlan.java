package io.sparkglm.generate;

import io.sparkglm.backend.KvCacheType;
import io.sparkglm.model.MemoryEstimate;
import io.sparkglm.model.ModelConfig;
import java.util.Locale;

/**
 * Device memory of the TornadoVM backend for {@code slots} sequences of {@code context} tokens: the one place
 * its arithmetic lives (tornado-backend checks a device against it before allocating; {@code bin/glm info}
 * answers with it where no device is at hand).
 * <ul>
 *   <li>weights as stored (F16/BF16 as 16-bit words, Q8_0 and the K-quants as their GGUF blocks);</li>
 *   <li>the KV cache: {@code 2 x layers} arrays of {@code slots x context} rows of the KV type, the only part
 *       that grows with the context;</li>
 *   <li>the RoPE angles: cos and sin of the {@code ropeDims/2} angles of each token of a launch (computed on the
 *       host per launch), {@code maxStepTokens x ropeDims} floats;</li>
 *   <li>step buffers, fixed: activations of {@code maxStepTokens} tokens, the attention's partial softmaxes
 *       ({@value #ATTENTION_SPLITS} spans per token and head, whatever the context), and {@code logitRows}
 *       rows of logits.</li>
 * </ul>
 */
public record DevicePlan(long weights, long kvCache, long ropeTable, long stepBuffers, long largestKvArray, boolean arraysFit) {

    public static final int DEFAULT_MAX_STEP_TOKENS = 256, DEFAULT_LOGIT_ROWS = 16;
    /**
     * Most spans one token's keys are split into on the device (flash-decoding): each span's partial softmax
     * (max, sum, headDim outputs) is kept until they are merged.
     */
    public static final int ATTENTION_SPLITS = 16;
    /** TornadoVM arrays are indexed with Java ints: elements (or bytes, for byte arrays) per array. */
    public static final long MAX_ARRAY_UNITS = Integer.MAX_VALUE - 64;

    /** Tokens per KV slot when the engine sets no context cap: the model's context, at most this. */
    public static final int DEFAULT_SLOT_CONTEXT = 4096;

    /**
     * Tokens each KV slot of the device backend holds: the engine's context cap ({@code maxContext}, 0 = none) within
     * the model's context, else {@link #DEFAULT_SLOT_CONTEXT} (a device reserves every slot whole when it opens).
     */
    public static int slotContext(ModelConfig c, int maxContext) {
        return maxContext > 0 ? Math.min(maxContext, c.contextLength()) : Math.min(c.contextLength(), DEFAULT_SLOT_CONTEXT);
    }

    public static DevicePlan of(ModelConfig c, long weightBytes, KvCacheType kvType, int slots, int context) {
        return of(c, weightBytes, kvType, slots, context, DEFAULT_MAX_STEP_TOKENS, DEFAULT_LOGIT_ROWS);
    }

    public static DevicePlan of(ModelConfig c, long weightBytes, KvCacheType kvType, int slots, int context,
                                int maxStepTokens, int logitRows) {
        long cacheRows = (long) slots * context;
        long kvArray = cacheRows * kvType.rowBytes(c.kvDim());
        long kv = 2L * c.layers() * kvArray;
        long rope = 4L * maxStepTokens * c.ropeDims();                 // cos/sin of the launch's tokens only
        long steps = 4L * (maxStepTokens * activationFloatsPerToken(c) + attentionFloatsPerToken(c) * maxStepTokens
                + (long) logitRows * c.vocabSize() + 2 + 3L * maxStepTokens + logitRows);
        long kvUnits = kvType == KvCacheType.Q8_0 ? kvArray : cacheRows * c.kvDim();   // bytes, or elements
        boolean arrays = kvUnits <= MAX_ARRAY_UNITS && (long) maxStepTokens * widest(c) <= MAX_ARRAY_UNITS
                && (long) logitRows * c.vocabSize() <= MAX_ARRAY_UNITS;
        return new DevicePlan(weightBytes, kv, rope, steps, kvArray, arrays);
    }

    /** Floats one token of a step keeps on the device: hidden, normed, quantized input (+ scales, sums), qkv, context, ffn. */
    static long activationFloatsPerToken(ModelConfig c) {
        int widest = widest(c);
        return 2L * c.hidden() + widest + widest / 32 + widest / 16 + c.qkvDim() + c.qDim() + c.ffnHidden();
    }

    /** Floats of one token's partial softmaxes: per head and span, a max, a sum and headDim outputs. */
    static long attentionFloatsPerToken(ModelConfig c) {
        return (long) c.heads() * ATTENTION_SPLITS * (c.headDim() + 2);
    }

    private static int widest(ModelConfig c) {
        return Math.max(c.hidden(), Math.max(c.qDim(), c.ffnHidden()));
    }

    public long total() { return weights + kvCache + ropeTable + stepBuffers; }

    public boolean fits(long deviceBytes) { return arraysFit && total() <= deviceBytes; }

    /** The longest context per slot that fits a device of {@code deviceBytes}, up to the model's own; 0 if none. */
    public static int largestContext(ModelConfig c, long weightBytes, KvCacheType kvType, int slots, long deviceBytes) {
        int lo = 0, hi = c.contextLength();
        while (lo < hi) {
            int mid = (int) (((long) lo + hi + 1) / 2);
            if (of(c, weightBytes, kvType, slots, mid).fits(deviceBytes)) lo = mid;
            else hi = mid - 1;
        }
        return lo;
    }

    /** The most sequences of {@code context} tokens that fit a device of {@code deviceBytes} (at most 4096); 0 if none. */
    public static int largestBatch(ModelConfig c, long weightBytes, KvCacheType kvType, int context, long deviceBytes) {
        int lo = 0, hi = 4096;
        while (lo < hi) {
            int mid = (lo + hi + 1) / 2;
            if (of(c, weightBytes, kvType, mid, context).fits(deviceBytes)) lo = mid;
            else hi = mid - 1;
        }
        return lo;
    }

    /** Why this plan does not fit {@code deviceBytes} on {@code device}, with the numbers; null when it fits. */
    public String problem(long deviceBytes, String device, ModelConfig c, KvCacheType kvType, int slots, int context) {
        if (fits(deviceBytes)) return null;
        String what = String.format(Locale.ROOT, "%d sequence%s x %,d tokens with a %s KV cache need %s on %s "
                        + "(weights %s + KV cache %s + RoPE angles %s + step buffers %s) but it has %s",
                slots, slots == 1 ? "" : "s", context, kvType.id(), MemoryEstimate.human(total()), device,
                MemoryEstimate.human(weights), MemoryEstimate.human(kvCache), MemoryEstimate.human(ropeTable),
                MemoryEstimate.human(stepBuffers), MemoryEstimate.human(deviceBytes));
        if (!arraysFit) {
            what = String.format(Locale.ROOT, "%d sequence%s x %,d tokens need a KV array of %s per layer, more "
                    + "than one TornadoVM array indexes (2^31 %s)", slots, slots == 1 ? "" : "s", context,
                    MemoryEstimate.human(largestKvArray), kvType == KvCacheType.Q8_0 ? "bytes" : "elements");
        }
        int longest = largestContext(c, weights, kvType, slots, deviceBytes);
        int most = largestBatch(c, weights, kvType, context, deviceBytes);
        String batch = most == 0 ? String.format(Locale.ROOT, "no sequence of %,d tokens fits", context)
                : String.format(Locale.ROOT, "or %d sequence%s of %,d tokens", most, most == 1 ? "" : "s", context);
        return what + String.format(Locale.ROOT, "; what fits: %,d tokens per sequence at %d sequence%s, %s%s", longest, slots,
                slots == 1 ? "" : "s", batch, kvType == KvCacheType.F32 ? " (an f16 or q8_0 KV cache holds 2x or 3.8x the tokens)" : "");
    }
}
