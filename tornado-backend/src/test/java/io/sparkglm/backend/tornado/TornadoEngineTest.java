package io.sparkglm.backend.tornado;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkglm.generate.Engine;
import io.sparkglm.generate.EngineOptions;
import io.sparkglm.generate.FinishReason;
import io.sparkglm.generate.GenerationRequest;
import io.sparkglm.generate.GenerationResult;
import io.sparkglm.generate.SamplingParams;
import io.sparkglm.testing.SharedFiles;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The engine on the tornado backend: the device reserves one KV slot per sequence the engine keeps live
 * and caps the context at the slot size, so a full batch never finds the device out of slots, and a prompt
 * longer than a slot gets the engine's context error instead of a backend failure.
 */
class TornadoEngineTest {

    @Test
    void aFullBatchRunsOnTheDeviceAndMatchesTheCpuEngine() {
        Random random = new Random(3);
        List<GenerationRequest> requests = new ArrayList<>();
        for (int i = 0; i < 6; i++) {     // more than the 4 slots a backend opened without an engine reserves
            requests.add(GenerationRequest.ids(random.ints(5 + random.nextInt(20), 0, 356).toArray(), 6,
                    SamplingParams.GREEDY).withIgnoreEos(true));
        }
        requests.add(GenerationRequest.ids(random.ints(300, 0, 356).toArray(), 4, SamplingParams.GREEDY));
        EngineOptions options = EngineOptions.defaults(SharedFiles.tinyF32()).withThreads(2).withMaxBatch(6).withMaxContext(256);
        List<GenerationResult> cpu, device;
        try (Engine engine = Engine.load(options)) {
            cpu = engine.generate(requests);
        }
        try (Engine engine = Engine.load(options.withBackend("tornado"))) {
            assertEquals("tornado", engine.backendName());
            assertEquals(256, engine.contextLength());
            device = engine.generate(requests);
        }
        for (int i = 0; i < 6; i++) {
            assertTrue(device.get(i).ok(), "request " + i + ": " + device.get(i).error());
            assertArrayEquals(cpu.get(i).tokenIds(), device.get(i).tokenIds(), "request " + i + " tornado vs cpu");
        }
        GenerationResult tooLong = device.get(6);
        assertEquals(FinishReason.ERROR, tooLong.finishReason());
        assertTrue(tooLong.error().contains("the context holds 256"), tooLong.error());
    }
}
