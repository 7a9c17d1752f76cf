package io.sparkglm.generate;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.testing.FaultyBackendProvider;
import io.sparkglm.testing.FaultyBackendProvider.StepShape;
import io.sparkglm.testing.SharedFiles;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Scoring (glm_classify) goes through the step budget like any prompt: a long scoring prompt is prefilled in chunks
 * next to the decoders, never as a run of steps that stalls them, and its scores are bit for bit those of scoring
 * alone with another chunk size.
 */
class ScoringInTheBatchTest {

    @Test
    @Timeout(120)
    void aLongScoringPromptSharesStepsWithTheDecodersAndScoresAsAlone() throws Exception {
        int[] prompt = new Random(5).ints(300, 0, 356).toArray();
        List<int[]> continuations = List.of(new int[] {5, 6, 7}, new int[] {9}, new int[] {11, 12}, new int[0]);
        double[] alone;
        try (Engine engine = Engine.load(EngineOptions.defaults(SharedFiles.tinyF32()).withThreads(2))) {
            alone = engine.score(prompt, continuations).join();
        }
        int budget = 16;
        try (Engine engine = Engine.load(EngineOptions.defaults(SharedFiles.tinyF32()).withBackend(FaultyBackendProvider.NAME)
                .withThreads(2).withMaxBatch(4).withPrefillChunk(budget))) {
            CountDownLatch decoding = new CountDownLatch(1);
            CompletableFuture<GenerationResult> generation = engine.submit(
                    GenerationRequest.ids(new int[] {1, 2, 3}, 120, SamplingParams.GREEDY).withIgnoreEos(true),
                    (id, piece) -> decoding.countDown());
            assertTrue(decoding.await(30, TimeUnit.SECONDS));
            FaultyBackendProvider.clearRecorded();
            double[] batched = engine.score(prompt, continuations).get(60, TimeUnit.SECONDS);
            List<List<StepShape>> calls = FaultyBackendProvider.recorded();
            assertTrue(generation.join().ok());

            assertArrayEquals(alone, batched, "scores in the batch, prefilled " + budget + " tokens a step, equal scores alone");
            assertEquals(0, batched[3]);
            int promptChunksBesideADecoder = 0;
            for (List<StepShape> call : calls) {
                int tokens = call.stream().mapToInt(StepShape::tokens).sum();
                boolean decoder = call.stream().anyMatch(s -> !s.prompt());
                boolean scoringChunk = call.stream().anyMatch(s -> s.prompt() && !s.allLogits());
                // a continuation (2 tokens at most here) may go over the budget by its length, a prompt chunk never
                assertTrue(tokens <= budget + 2, "a step of " + tokens + " tokens: " + call);
                if (decoder && scoringChunk) promptChunksBesideADecoder++;
            }
            assertTrue(promptChunksBesideADecoder >= 300 / budget,
                    "the scoring prompt went through " + promptChunksBesideADecoder + " steps shared with the decoder: " + calls);
        }
    }
}
