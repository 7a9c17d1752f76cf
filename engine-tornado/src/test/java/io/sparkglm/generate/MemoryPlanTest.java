package io.sparkglm.generate;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.generate.MemoryPlan.Budget;
import io.sparkglm.model.GgmlType;
import io.sparkglm.model.HfConfig;
import io.sparkglm.backend.KvCacheType;
import io.sparkglm.model.MemoryEstimate;
import io.sparkglm.model.ModelConfig;
import io.sparkglm.testing.SharedFiles;
import org.junit.jupiter.api.Test;

/** Memory plans for the real 1M model's config, checked against figures worked out by hand. */
class MemoryPlanTest {

    static final long GIB = 1L << 30;
    static final int MILLION = 1 << 20;

    static ModelConfig oneMillion() {
        return HfConfig.read(SharedFiles.config1M());
    }

    @Test
    void kvCacheAndWeightsOfTheMillionTokenModel() {
        ModelConfig c = oneMillion();
        assertEquals(81_920, KvCacheType.F16.bytesPerToken(c));
        assertEquals(163_840, KvCacheType.F32.bytesPerToken(c));
        assertEquals(43_520, KvCacheType.Q8_0.bytesPerToken(c));      // 2 x 40 x 16 blocks x 34 bytes
        assertEquals(9_483_857_920L, MemoryEstimate.parameters(c));   // FACTS.md
        assertEquals(2 * 9_483_857_920L, MemoryEstimate.estimatedWeightBytes(c, GgmlType.BF16));
        long q8 = MemoryEstimate.estimatedWeightBytes(c, GgmlType.Q8_0);
        MemoryPlan plan = MemoryPlan.of(c, q8, GgmlType.Q8_0, KvCacheType.F16, MILLION, 1, 512, 4);
        assertEquals(80 * GIB, plan.kvCache());
        assertEquals(512, plan.stepTokens());
        assertEquals(q8 + 80 * GIB + plan.activations() + 4 * plan.scratchPerThread() + (512L << 20), plan.total());
        // pages: 1000 tokens take 4 pages of 256
        assertEquals(1024L * 81_920 * 3, MemoryPlan.of(c, q8, GgmlType.Q8_0, KvCacheType.F16, 1000, 3, 512, 4).kvCache());
    }

    @Test
    void fitsAndTheLargestContextAgree() {
        ModelConfig c = oneMillion();
        long q8 = MemoryEstimate.estimatedWeightBytes(c, GgmlType.Q8_0);
        MemoryPlan plan = MemoryPlan.of(c, q8, GgmlType.Q8_0, KvCacheType.F16, MILLION, 1, 512, 4);
        assertFalse(plan.fits(Budget.of(64 * GIB, "64g")));            // 80 GiB of cache alone
        assertTrue(plan.fits(Budget.of(128 * GIB, "128g")));
        int largest = plan.largestContext(Budget.of(64 * GIB, "64g"), GgmlType.Q8_0);
        assertTrue(plan.withContext(largest, GgmlType.Q8_0).fits(Budget.of(64 * GIB, "")));
        assertFalse(plan.withContext(largest + 1, GgmlType.Q8_0).fits(Budget.of(64 * GIB, "")));
        assertEquals(MILLION, plan.largestContext(Budget.of(128 * GIB, ""), GgmlType.Q8_0));
        assertEquals(0, plan.largestContext(Budget.of(8 * GIB, ""), GgmlType.Q8_0));   // weights alone are 9.4 GiB
        // two sequences of 1M tokens: 160 GiB of f16 cache
        assertFalse(MemoryPlan.of(c, q8, GgmlType.Q8_0, KvCacheType.F16, MILLION, 2, 512, 4).fits(Budget.of(128 * GIB, "")));
    }

    @Test
    void aFixedHeapLimitSplitsTheBudgetAsTheEngineDoes() {
        ModelConfig c = oneMillion();
        long q8 = MemoryEstimate.estimatedWeightBytes(c, GgmlType.Q8_0);
        MemoryPlan plan = MemoryPlan.of(c, q8, GgmlType.Q8_0, KvCacheType.F16, 100_000, 1, 512, 4);
        // the KV cache gets what KvMemory's default leaves: machine - heap limit - weights - headroom
        long machine = q8 + plan.kvCache() + (512L << 20) + 8 * GIB;
        assertNull(plan.problem(new Budget(machine, 8 * GIB, "")));
        assertTrue(plan.problem(new Budget(machine - 1, 8 * GIB, "")).contains("the KV cache needs"));
        assertTrue(plan.problem(new Budget(machine, plan.heap() - 1, "")).contains("more than the heap limit"));
    }

    @Test
    void wholePromptsInOneStepGrowWithThePromptAndOutgrowJavaArrays() {
        ModelConfig c = oneMillion();
        long q8 = MemoryEstimate.estimatedWeightBytes(c, GgmlType.Q8_0);
        MemoryPlan chunked = MemoryPlan.of(c, q8, GgmlType.Q8_0, KvCacheType.F16, 50_000, 1, 512, 4);
        MemoryPlan whole = MemoryPlan.of(c, q8, GgmlType.Q8_0, KvCacheType.F16, 50_000, 1, 0, 4);
        assertEquals(50_000, whole.stepTokens());
        assertTrue(whole.activations() > 50 * chunked.activations());
        MemoryPlan million = MemoryPlan.of(c, q8, GgmlType.Q8_0, KvCacheType.F16, MILLION, 1, 0, 4);
        assertFalse(million.stepFitsArrays());                         // 2^20 x 27,392 gate|up floats
        assertTrue(million.problem(Budget.of(1L << 50, "")).contains("set a prefill chunk of at most 78398"));
    }

    @Test
    void deviceTableFollowsTheTornadoArithmetic() {
        ModelConfig c = oneMillion();
        long q8 = MemoryEstimate.estimatedWeightBytes(c, GgmlType.Q8_0);
        DevicePlan f16 = DevicePlan.of(c, q8, KvCacheType.F16, 1, MILLION);
        assertEquals(80 * GIB, f16.kvCache());
        assertEquals(4L * 256 * 64, f16.ropeTable());                  // cos and sin of 32 pairs per token of a launch
        assertTrue(f16.fits(141 * GIB));
        assertFalse(f16.fits(80 * GIB));
        assertFalse(DevicePlan.of(c, q8, KvCacheType.F32, 1, MILLION).fits(141 * GIB));    // 160 GiB of cache
        assertTrue(DevicePlan.of(c, q8, KvCacheType.Q8_0, 1, MILLION).fits(80 * GIB));
        int most = DevicePlan.largestContext(c, q8, KvCacheType.F16, 1, 80 * GIB);
        assertTrue(DevicePlan.of(c, q8, KvCacheType.F16, 1, most).fits(80 * GIB));
        assertFalse(DevicePlan.of(c, q8, KvCacheType.F16, 1, most + 1).fits(80 * GIB));
    }
}
