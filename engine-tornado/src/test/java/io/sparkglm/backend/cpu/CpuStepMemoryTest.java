package io.sparkglm.backend.cpu;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.backend.Backend.Step;
import io.sparkglm.backend.BackendOptions;
import io.sparkglm.backend.SequenceCache;
import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.HfConfig;
import io.sparkglm.model.ModelConfig;
import io.sparkglm.model.ModelLoader;
import io.sparkglm.tensor.ActivationFormat;
import io.sparkglm.testing.SharedFiles;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The heap formulas of {@link CpuStepMemory} against what the backend really allocates. */
class CpuStepMemoryTest {

    /** Heap bytes allocated by all threads so far (the workers allocate a prompt step's dense inputs at times). */
    static long allocatedByAllThreads() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getTotalThreadAllocatedBytes();
    }

    /**
     * One prompt step of T tokens, measured over all threads once the per-thread scratch has grown (the calling
     * thread makes the step arrays, a worker may make a quantized input's dense copy): the formula's bytes within 3%
     * (headers, lambdas and the step's few small objects are what it leaves out).
     */
    @ParameterizedTest(name = "{0}, {1} tokens")
    @CsvSource({"q8_0, 64, Q8_0", "q8_0, 200, Q8_0", "f32, 64, F32", "f32, 200, F32"})
    void oneStepAllocatesWhatTheFormulaSays(String model, int tokens, ActivationFormat format) {
        Path path = model.equals("f32") ? SharedFiles.tinyF32() : SharedFiles.tinyQ8();
        int[] prompt = new Random(7).ints(tokens, 0, 384).toArray();
        try (Checkpoint ckpt = ModelLoader.open(path);
             CpuBackend backend = new CpuBackend(ckpt, new BackendOptions(2, "f32", -1))) {
            ModelConfig c = ckpt.config();
            // Until C2 compiles the Vector API kernels (on every thread), each vector op allocates a box: boxes only
            // add, so the least of many steps is the step's own arrays. Stop early once it matches.
            long formula = CpuStepMemory.allocatedBytes(c, format, tokens, 1);
            long measured = Long.MAX_VALUE;
            for (int run = 0; run < 500 && Math.abs(measured - formula) > 0.03 * formula; run++) {
                try (SequenceCache cache = backend.newSequence(tokens)) {
                    long before = allocatedByAllThreads();
                    backend.forward(List.of(new Step(cache, prompt, false)));
                    measured = Math.min(measured, allocatedByAllThreads() - before);
                }
            }
            {
                System.out.printf("%s, %d tokens: measured %,d bytes, formula %,d (%.2f%%)%n", model, tokens, measured,
                        formula, 100.0 * (measured - formula) / formula);
                assertEquals(formula, measured, 0.03 * formula, "heap allocated by one step");
                assertTrue(CpuStepMemory.liveBytes(c, format, tokens, 1) < formula, "live is one layer, not all");
            }
        }
    }

    /**
     * {@link PromptAttention#scratchFloats} takes the maximum over a few candidate key counts; here it is checked
     * against every key count up to 2^20 for the real 1M model (8 query heads per key group).
     */
    @Test
    void promptAttentionScratchIsTheMaximumOverEveryPosition() {
        ModelConfig c = HfConfig.read(SharedFiles.glm4().resolve("config.glm-4-9b-chat-1m.json"));
        PromptAttention attention = new PromptAttention(c);
        int lanes = io.sparkglm.tensor.FloatGemm.lanes(), hpg = c.heads() / c.kvHeads();
        int dimsPad = (c.headDim() + lanes - 1) / lanes * lanes;
        long q = 0, s = 0, p = 0, o = 0;
        for (int context : new int[] {1_000, 100_000, 600_000, 1 << 20}) {
            for (int keys = 1; keys <= context; keys++) {
                int rows = attention.tokensPerItem(keys) * hpg, rowsPad = (rows + lanes - 1) / lanes * lanes;
                q = Math.max(q, (long) c.headDim() * rowsPad);
                s = Math.max(s, (long) keys * rowsPad);
                p = Math.max(p, (long) rows * ((keys + 15) / 16 * 16 + 16));
                o = Math.max(o, (long) rows * dimsPad);
            }
            assertEquals(q + s + p + 256L * dimsPad + o, attention.scratchFloats(context), "context " + context);
            q = s = p = o = 0;
        }
        // Past SCORE_BUDGET / rowsPad keys (512K at 16 float lanes, 1M at 8) one token's scores outgrow the budget:
        // from there the scratch grows with the context.
        System.out.printf("prompt attention scratch per thread: %,d floats at 100K keys, %,d at 2^21%n",
                attention.scratchFloats(100_000), attention.scratchFloats(1 << 21));
        assertTrue(attention.scratchFloats(1 << 21) > 1.5 * attention.scratchFloats(100_000));
    }
}
