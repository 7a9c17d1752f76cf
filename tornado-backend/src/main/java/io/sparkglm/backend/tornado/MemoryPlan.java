package io.sparkglm.backend.tornado;

import io.sparkglm.model.ModelConfig;
import uk.ac.manchester.tornado.api.common.TornadoDevice;

/**
 * Device memory the plan needs, worked out from the model and the KV cache reserved for it, checked
 * against the device before anything is allocated there.
 */
record MemoryPlan(long weights, long kvCache, long ropeTable, long scratch, long largestArray) {

    static MemoryPlan of(ModelConfig c, long weightBytes, int slots, int slotContext, int maxStepTokens, int logitRows) {
        long cacheRows = (long) slots * slotContext;
        long kvPerLayerArray = 4L * cacheRows * c.kvDim();
        if (kvPerLayerArray / 4 > Integer.MAX_VALUE - 64) {
            throw new IllegalArgumentException(slots + " slots x " + slotContext + " tokens x " + c.kvDim()
                    + " KV values is more than one TornadoVM array holds (2^31): lower the slots or the context");
        }
        long kv = 2L * c.layers() * kvPerLayerArray;
        long rope = 4L * slotContext * c.ropeDims();
        int widest = Math.max(c.hidden(), Math.max(c.qDim(), c.ffnHidden()));
        long perToken = 2L * c.hidden() + widest + widest / 32 + c.qkvDim() + c.qDim() + c.ffnHidden();
        long scratch = 4L * (maxStepTokens * perToken + (long) logitRows * c.vocabSize() + 2 + 3L * maxStepTokens + logitRows);
        if (maxStepTokens * (long) widest > Integer.MAX_VALUE - 64 || (long) logitRows * c.vocabSize() > Integer.MAX_VALUE - 64) {
            throw new IllegalArgumentException(maxStepTokens + " step tokens x " + widest + " activations (or " + logitRows
                    + " logits rows x " + c.vocabSize() + ") is more than one TornadoVM array holds (2^31): lower -D"
                    + TornadoBackendProvider.MAX_STEP_TOKENS_PROPERTY + " / -D" + TornadoBackendProvider.LOGIT_ROWS_PROPERTY);
        }
        long largestWeight = Math.max(4L * c.vocabSize() * c.hidden(), 4L * 2 * c.ffnHidden() * c.hidden());
        return new MemoryPlan(weightBytes, kv, rope, scratch, Math.max(kvPerLayerArray, Math.min(largestWeight, weightBytes)));
    }

    long total() { return weights + kvCache + ropeTable + scratch; }

    /** Fails with one sentence naming the sizes when the device cannot hold the plan. */
    void requireFits(TornadoDevice device) {
        long available = device.getMaxGlobalMemory();
        if (total() > available) {
            throw new IllegalStateException(String.format(
                    "the model needs %,d MiB on %s (weights %,d + KV cache %,d + other %,d MiB) but the device has %,d MiB: "
                            + "lower -D%s / -D%s / -D%s or use a smaller quantization",
                    mib(total()), device.getPhysicalDevice().getDeviceName(), mib(weights), mib(kvCache),
                    mib(ropeTable + scratch), mib(available), TornadoBackendProvider.CONTEXT_PROPERTY,
                    TornadoBackendProvider.SLOTS_PROPERTY, TornadoBackendProvider.MAX_STEP_TOKENS_PROPERTY));
        }
        long maxAlloc = device.getMaxAllocMemory();
        if (maxAlloc > 0 && largestArray > maxAlloc) {
            throw new IllegalStateException(String.format(
                    "one array of the plan needs %,d MiB but %s allocates at most %,d MiB per buffer",
                    mib(largestArray), device.getPhysicalDevice().getDeviceName(), mib(maxAlloc)));
        }
    }

    private static long mib(long bytes) { return (bytes + (1 << 20) - 1) >> 20; }
}
