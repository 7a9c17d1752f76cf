package io.sparkglm.generate;

import io.sparkglm.backend.KvCacheType;
import io.sparkglm.model.ModelConfig;

/**
 * Device memory for {@code slots} sequences of {@code context} tokens on a GPU, with the arithmetic of
 * tornado-backend's {@code MemoryPlan.of} (which cannot be called here: that module needs the TornadoVM SDK):
 * weights, KV cache ({@code 2 x layers} arrays of {@code slots x context x kvDim} values), the RoPE table
 * ({@code context x ropeDims} floats) and the step buffers for {@code maxStepTokens} tokens and
 * {@code logitRows} logit rows (TornadoVM's defaults 256 and 16).
 *
 * <p>Assumptions, beyond what the TornadoVM backend does today: the weights stay in their stored types on the
 * device (today only F32 and Q8_0 do; others are widened to F32), and the KV cache takes {@code kvType} (today it
 * is F32). Both are targets of other issues; the plan says what fits once they are done.
 */
public record DevicePlan(long weights, long kvCache, long ropeTable, long scratch, boolean arraysFit) {

    public static final int DEFAULT_MAX_STEP_TOKENS = 256, DEFAULT_LOGIT_ROWS = 16;

    public static DevicePlan of(ModelConfig c, long weightBytes, KvCacheType kvType, int slots, int context) {
        return of(c, weightBytes, kvType, slots, context, DEFAULT_MAX_STEP_TOKENS, DEFAULT_LOGIT_ROWS);
    }

    public static DevicePlan of(ModelConfig c, long weightBytes, KvCacheType kvType, int slots, int context,
                                int maxStepTokens, int logitRows) {
        long cacheRows = (long) slots * context;
        long kv = 2L * c.layers() * cacheRows * kvType.rowBytes(c.kvDim());
        long rope = 4L * context * c.ropeDims();
        int widest = Math.max(c.hidden(), Math.max(c.qDim(), c.ffnHidden()));
        long perToken = 2L * c.hidden() + widest + widest / 32 + c.qkvDim() + c.qDim() + c.ffnHidden();
        long scratch = 4L * ((long) maxStepTokens * perToken + (long) logitRows * c.vocabSize() + 2 + 3L * maxStepTokens
                + logitRows);
        boolean arrays = cacheRows * c.kvDim() <= Integer.MAX_VALUE - 64;    // one TornadoVM array per layer's K or V
        return new DevicePlan(weightBytes, kv, rope, scratch, arrays);
    }

    public long total() { return weights + kvCache + ropeTable + scratch; }

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
}
