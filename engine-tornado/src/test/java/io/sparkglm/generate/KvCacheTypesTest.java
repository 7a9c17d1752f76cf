package io.sparkglm.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkglm.backend.KvCacheType;
import io.sparkglm.backend.cpu.CpuBackend;
import io.sparkglm.model.ModelConfig;
import io.sparkglm.testing.SharedFiles;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** The engine with each KV cache type: batching invariance with q8_0, and what "auto" picks for a memory. */
class KvCacheTypesTest {

    /** Requests decoded together in one continuous batch give the ids they give alone, with a q8_0 cache. */
    @Test
    void q8_0CacheKeepsBatchedIdsEqualToAlone() {
        try (Engine engine = Engine.load(EngineOptions.defaults(SharedFiles.tinyF32()).withThreads(2).withMaxBatch(6)
                .withPrefillChunk(8).withKvCacheType("q8_0"))) {
            assertEquals("q8_0", engine.kvCache().type());
            Random random = new Random(5);
            List<GenerationRequest> requests = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                int[] prompt = random.ints(1 + random.nextInt(60), 0, 356).toArray();
                SamplingParams sampling = i % 2 == 0 ? SamplingParams.GREEDY : new SamplingParams(0.9f, 40, 0.95f, 0.02f, 1.1f, 70 + i);
                requests.add(GenerationRequest.ids(prompt, 4 + random.nextInt(16), sampling).withIgnoreEos(true));
            }
            List<int[]> alone = new ArrayList<>();
            for (GenerationRequest r : requests) alone.add(engine.generate(List.of(r)).getFirst().tokenIds());
            List<CompletableFuture<GenerationResult>> together = new ArrayList<>();
            for (GenerationRequest r : requests) together.add(engine.submit(r, null));
            for (int i = 0; i < requests.size(); i++) {
                GenerationResult r = together.get(i).join();
                assertTrue(r.ok(), r.error());
                assertEquals(requests.get(i).maxTokens(), r.completionTokens());
                assertArrayEquals(alone.get(i), r.tokenIds(), "request " + i + " batched vs alone");
            }
        }
    }

    @Test
    void autoPicksTheSmallestErrorTypeThatFits() {
        ModelConfig c = new ModelConfig("chatglm", 40, 4096, 13696, 32, 2, 128, 64, 1e4, 1_048_576, 151552, 1.5625e-7f, true);
        EngineOptions o = EngineOptions.defaults(SharedFiles.tinyF32()).withKvCacheType("auto").withMaxBatch(4).withMaxContext(65536);
        long f32 = 4 * CpuBackend.kvCacheBytes(c, KvCacheType.F32, 65536);
        long f16 = 4 * CpuBackend.kvCacheBytes(c, KvCacheType.F16, 65536);
        long q8 = 4 * CpuBackend.kvCacheBytes(c, KvCacheType.Q8_0, 65536);
        // 40 layers x K and V x kvDim 256: 80 KiB per token in f32, 40 in f16, 21.25 in q8_0 (34/64 of f16)
        assertEquals(4L * 65536 * 40 * 2 * 256 * 4, f32);
        assertEquals(f32 / 2, f16);
        assertEquals(f16 / 64 * 34, q8);
        assertEquals("f32", Engine.chooseKvCache(o, c, f32).type());
        assertEquals("f16", Engine.chooseKvCache(o, c, f32 - 1).type());
        assertEquals("f16", Engine.chooseKvCache(o, c, f16).type());
        assertEquals("q8_0", Engine.chooseKvCache(o, c, f16 - 1).type());
        assertEquals("q8_0", Engine.chooseKvCache(o, c, q8).type());
        Engine.KvCacheChoice none = Engine.chooseKvCache(o, c, q8 - 1);
        assertEquals("q8_0", none.type());
        assertTrue(none.reason().contains("no type fits") && none.reason().contains("4 x 65536"), none.reason());
        assertTrue(Engine.chooseKvCache(o, c, f16).reason().contains("f32 20.0 GiB, f16 10.0 GiB"),
                Engine.chooseKvCache(o, c, f16).reason());
        // a type that was asked for is kept whatever the memory
        assertEquals("f16", Engine.chooseKvCache(o.withKvCacheType("f16"), c, 1).type());
        // kvDim not a multiple of 32 never gets q8_0
        ModelConfig odd = new ModelConfig("chatglm", 2, 64, 128, 4, 1, 16, 8, 1e4, 4096, 384, 1e-5f, true);
        assertEquals("f16", Engine.chooseKvCache(o.withMaxContext(0), odd, 1).type());
    }

    /** On a GPU the device plan decides: the 1M model with Q8_0 weights at 1M tokens takes f16 on 141 GiB, q8_0 on 80. */
    @Test
    void autoOnADevicePicksTheFirstTypeWhosePlanFits() {
        ModelConfig c = new ModelConfig("chatglm", 40, 4096, 13696, 32, 4, 128, 64, 1e8, 1_048_576, 151552, 1.5625e-7f, true);
        long q8Weights = 10_078_175_232L;
        EngineOptions o = EngineOptions.defaults(SharedFiles.tinyF32()).withKvCacheType("auto").withMaxBatch(1)
                .withMaxContext(1_048_576);
        long gib = 1L << 30;
        var h200 = new io.sparkglm.backend.BackendProvider.DeviceInfo("H200", 141 * gib, 0);
        var h100 = new io.sparkglm.backend.BackendProvider.DeviceInfo("H100", 80 * gib, 0);
        var small = new io.sparkglm.backend.BackendProvider.DeviceInfo("small", 24 * gib, 0);
        Engine.KvCacheChoice onH200 = Engine.chooseDeviceKvCache(o, c, q8Weights, h200);
        assertEquals("f16", onH200.type(), onH200.reason());
        assertTrue(onH200.reason().contains("1 x 1048576 tokens on H200 need f32 "), onH200.reason());
        assertEquals("q8_0", Engine.chooseDeviceKvCache(o, c, q8Weights, h100).type());
        Engine.KvCacheChoice none = Engine.chooseDeviceKvCache(o, c, q8Weights, small);
        assertEquals("q8_0", none.type());
        assertTrue(none.reason().contains("no type fits 1 x 1048576 tokens on small"), none.reason());
        // without a context cap the device reserves DevicePlan's default slot: 4096 tokens, and f32 fits anywhere
        assertEquals("f32", Engine.chooseDeviceKvCache(o.withMaxContext(0), c, q8Weights, small).type());
        assertEquals(DevicePlan.DEFAULT_SLOT_CONTEXT, DevicePlan.slotContext(c, 0));
        assertEquals(100_000, DevicePlan.slotContext(c, 100_000));
    }

    @Test
    void autoInAnEngineResolvesAndAdmissionStillRefusesWithNumbers() {
        // the tiny model: 3 layers, kvDim 64; context capped to 2048, one sequence: f32 needs 3 MiB, q8_0 816 KiB
        EngineOptions o = EngineOptions.defaults(SharedFiles.tinyF32()).withThreads(1).withMaxBatch(1).withMaxContext(2048)
                .withKvCacheType("AUTO");
        assertEquals("auto", o.kvCacheType());
        try (Engine engine = Engine.load(o.withKvCacheMemory(3L << 20))) {
            assertEquals("f32", engine.kvCache().type());
        }
        try (Engine engine = Engine.load(o.withKvCacheMemory(1L << 20))) {
            assertEquals("q8_0", engine.kvCache().type(), engine.kvCache().reason());
            GenerationResult ok = engine.generate(List.of(GenerationRequest.ids(new int[] {1, 2, 3}, 4, SamplingParams.GREEDY))).getFirst();
            assertTrue(ok.ok(), ok.error());
        }
        try (Engine engine = Engine.load(o.withKvCacheMemory(100_000))) {
            assertEquals("q8_0", engine.kvCache().type());
            assertTrue(engine.kvCache().reason().contains("no type fits"), engine.kvCache().reason());
            GenerationResult refused = engine.generate(List.of(GenerationRequest.ids(new int[] {1, 2, 3}, 2000,
                    SamplingParams.GREEDY))).getFirst();
            assertFalse(refused.ok());
            assertTrue(refused.error().contains("q8_0") && refused.error().contains("bytes"), refused.error());
        }
    }

    @Test
    void unknownTypesAreRefusedUpFront() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> EngineOptions.defaults(SharedFiles.tinyF32()).withKvCacheType("q4_0"));
        assertTrue(e.getMessage().contains("f32, f16, q8_0 or auto"), e.getMessage());
    }
}
