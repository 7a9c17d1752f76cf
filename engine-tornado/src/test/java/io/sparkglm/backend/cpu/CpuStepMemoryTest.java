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
     * thread makes the step arrays, a worker may make a quantized input's dense copy): {@link CpuStepMemory#liveBytes},
     * one layer's arrays and not one set per layer, within 3% and 48 KB
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
            long formula = CpuStepMemory.liveBytes(c, format, tokens, 1);
            long measured = Long.MAX_VALUE;
            // the step's small objects (attention work items, lambdas, the batch's index arrays): ~30 KB here
            long tolerance = (long) (0.03 * formula) + 48 * 1024;
            for (int run = 0; run < 500 && Math.abs(measured - formula) > tolerance; run++) {
                try (SequenceCache cache = backend.newSequence(tokens)) {
                    long before = allocatedByAllThreads();
                    backend.forward(List.of(new Step(cache, prompt, false)));
                    measured = Math.min(measured, allocatedByAllThreads() - before);
                }
            }
            {
                System.out.printf("%s, %d tokens: measured %,d bytes, formula %,d (%.2f%%)%n", model, tokens, measured,
                        formula, 100.0 * (measured - formula) / formula);
                // the layers share one set of arrays: a step with arrays per layer allocated ~layers times more
                assertTrue(c.layers() >= 2, "a model with several layers shows whether they share their arrays");
                assertEquals(formula, measured, tolerance, "heap allocated by one step");
            }
        }
    }

    /**
     * {@link CpuStepMemory#activationsBytes} against what {@link io.sparkglm.tensor.Activations#allocate} takes, for every
     * activation format (the step test above covers only the formats of the tiny models): within 1% plus the arrays'
     * headers.
     */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.EnumSource(ActivationFormat.class)
    void activationBuffersTakeWhatTheFormulaSays(ActivationFormat format) {
        int tokens = 48, cols = 4096;
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        io.sparkglm.tensor.Activations.allocate(format, 1, cols); // class loading and initialisation allocate too
        long before = mx.getCurrentThreadAllocatedBytes();
        var x = io.sparkglm.tensor.Activations.allocate(format, tokens, cols);
        long measured = mx.getCurrentThreadAllocatedBytes() - before;
        long formula = CpuStepMemory.activationsBytes(format, tokens, cols, false);
        assertEquals(formula, measured, 0.01 * formula + 256, format + " activations of " + x.capacity() + " tokens");
    }

    /**
     * {@link Attention#scratchFloats} is what a compute thread's attention tiles take, whatever the context: checked
     * against the heap a fresh thread allocates for its first attention call (after the kernels are compiled, so the
     * Vector API allocates no boxes), for the real 1M model's shapes at two context lengths.
     */
    @Test
    void attentionScratchIsItsTilesWhateverTheContext() throws Exception {
        ModelConfig c = HfConfig.read(SharedFiles.config1M());
        Attention attention = new Attention(c);
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        java.util.Random random = new java.util.Random(4);
        for (int keys : new int[] {512, 5000}) {
            CpuSequenceCache cache = new CpuSequenceCache(1, keys, c.kvDim(), io.sparkglm.backend.KvCacheType.F16, CpuSequenceCache.PAGE_TOKENS);
            cache.reserve(keys);
            float[] kv = new float[c.kvDim()];
            for (int p = 0; p < keys; p++) {
                for (int i = 0; i < kv.length; i++) kv[i] = (float) random.nextGaussian();
                cache.store(0, p, kv, 0, kv, 0);
            }
            cache.advance(keys);
            float[] qkv = new float[6 * c.qkvDim()];
            for (int i = 0; i < qkv.length; i++) qkv[i] = (float) random.nextGaussian();
            float[] context = new float[6 * c.qDim()];
            for (int i = 0; i < 300; i++) attention.prompt(0, cache, 0, 0, 6, keys - 6, qkv, context);   // compile
            long[] allocated = new long[1];
            Thread fresh = Thread.ofPlatform().start(() -> {
                long before = threads.getCurrentThreadAllocatedBytes();
                attention.prompt(0, cache, 1, 0, 6, keys - 6, qkv, context);
                allocated[0] = threads.getCurrentThreadAllocatedBytes() - before;
            });
            fresh.join();
            long tiles = 4 * attention.scratchFloats();
            assertEquals(tiles, allocated[0], 0.05 * tiles, keys + " keys: a thread's first attention call");
            assertEquals(CpuStepMemory.scratchBytesPerThread(c, 1000), CpuStepMemory.scratchBytesPerThread(c, 1 << 20));
            cache.close();
        }
    }
}
