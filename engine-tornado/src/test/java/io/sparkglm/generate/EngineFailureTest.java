package io.sparkglm.generate;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.model.GgmlType;
import io.sparkglm.model.TinyModels;
import io.sparkglm.testing.FaultyBackendProvider;
import io.sparkglm.testing.FaultyBackendProvider.Fault;
import io.sparkglm.testing.FaultyBackendProvider.Kind;
import io.sparkglm.testing.Oracle;
import io.sparkglm.testing.SharedFiles;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the engine does when things go wrong: a failing or hanging forward pass fails the engine and every request
 * it holds within seconds (never a future left waiting), a request's own problem fails only that request, padding
 * rows of the output are never chosen, and a KV cache that cannot fit is refused with the numbers.
 */
class EngineFailureTest {

    @AfterEach
    void disarm() {
        FaultyBackendProvider.arm(null);
        FaultyBackendProvider.releaseHung();
    }

    private static Engine faulty(Fault fault, long stepTimeoutMillis) {
        FaultyBackendProvider.arm(fault);
        return Engine.load(EngineOptions.defaults(SharedFiles.tinyF32()).withBackend(FaultyBackendProvider.NAME)
                .withThreads(1).withMaxBatch(3).withPrefillChunk(4).withStepTimeoutMillis(stepTimeoutMillis));
    }

    /** Six requests for a batch of three: some are live, some still queued when the fault hits. */
    private static List<CompletableFuture<GenerationResult>> submitSix(Engine engine) {
        List<CompletableFuture<GenerationResult>> futures = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            int[] prompt = Oracle.sequences().get(i % Oracle.sequences().size());
            futures.add(engine.submit(GenerationRequest.ids(prompt, 30, SamplingParams.GREEDY).withIgnoreEos(true), null));
        }
        return futures;
    }

    /** Every future fails with one EngineFailedException whose cause is {@code causeType}, within {@code seconds}. */
    private static EngineFailedException allFail(List<CompletableFuture<GenerationResult>> futures, int seconds,
                                                 Class<? extends Throwable> causeType) throws Exception {
        EngineFailedException first = null;
        for (CompletableFuture<GenerationResult> f : futures) {
            ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(seconds, TimeUnit.SECONDS));
            EngineFailedException failed = assertInstanceOf(EngineFailedException.class, e.getCause());
            assertInstanceOf(causeType, failed.getCause());
            if (first == null) first = failed;
            assertSame(first, failed, "one failure, one cause, for every request");
        }
        return first;
    }

    @Test
    @Timeout(30)
    void anExceptionInAStepFailsEveryRequestAndTheEngine() throws Exception {
        try (Engine engine = faulty(new Fault(Kind.THROW, 3), 0)) {
            EngineFailedException failure = allFail(submitSix(engine), 10, IllegalStateException.class);
            assertTrue(failure.getMessage().contains("injected fault at forward call 3"), failure.getMessage());
            assertSame(failure, engine.failure());
            // Later requests fail at once with the same cause, generation and scoring alike.
            CompletableFuture<GenerationResult> late = engine.submit(GenerationRequest.ids(new int[] {1, 2}, 4, SamplingParams.GREEDY), null);
            assertTrue(late.isCompletedExceptionally(), "a failed engine answers at once");
            CompletionException ce = assertThrows(CompletionException.class, late::join);
            assertSame(failure, ce.getCause());
            CompletionException score = assertThrows(CompletionException.class,
                    () -> engine.score(new int[] {1, 2, 3}, List.of(new int[] {4})).join());
            assertSame(failure, score.getCause());
        }
    }

    @Test
    @Timeout(30)
    void anErrorInAStepFailsEveryRequestAndTheEngine() throws Exception {
        try (Engine engine = faulty(new Fault(Kind.ERROR, 2), 0)) {
            EngineFailedException failure = allFail(submitSix(engine), 10, OutOfMemoryError.class);
            assertSame(failure, engine.failure());
        }
    }

    @Test
    @Timeout(30)
    void aStepThatNeverReturnsFailsTheEngineAfterTheStepTimeout() throws Exception {
        try (Engine engine = faulty(new Fault(Kind.HANG, 2), 500)) {
            long start = System.nanoTime();
            EngineFailedException failure = allFail(submitSix(engine), 10, TimeoutException.class);
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertTrue(millis >= 500, "failed after " + millis + " ms, before the step timeout");
            assertTrue(failure.getMessage().contains("500 ms"), failure.getMessage());
            assertTrue(FaultyBackendProvider.hungCalls() > 0, "the forward call really hung");
            long closeStart = System.nanoTime();
            engine.close();                 // the scheduler thread is still stuck: close must not wait for it
            assertTrue(System.nanoTime() - closeStart < TimeUnit.SECONDS.toNanos(5), "close waited for a hung step");
        }
    }

    @Test
    @Timeout(30)
    void aScoringJobWhoseStepFailsFailsTheEngineToo() throws Exception {
        try (Engine engine = faulty(new Fault(Kind.THROW, 1), 0)) {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> engine.score(new int[] {1, 2, 3}, List.of(new int[] {4, 5})).get(10, TimeUnit.SECONDS));
            assertInstanceOf(EngineFailedException.class, e.getCause());
            assertNotNull(engine.failure());
        }
    }

    /** A constraint that throws is the request's own problem: it fails alone, the engine and batch-mates go on. */
    @Test
    @Timeout(60)
    void aRequestsOwnFailureFailsOnlyThatRequest() {
        TokenConstraint broken = () -> new TokenConstraint.State() {
            public void mask(float[] logits) { throw new IllegalStateException("broken grammar"); }
            public void accept(int token) {}
            public boolean complete() { return false; }
        };
        try (Engine engine = Engine.load(EngineOptions.defaults(SharedFiles.tinyF32()).withThreads(1).withMaxBatch(4))) {
            int[] prompt = Oracle.sequences().get(0);
            GenerationRequest good = GenerationRequest.ids(prompt, 10, SamplingParams.GREEDY).withIgnoreEos(true);
            List<GenerationResult> results = engine.generate(List.of(good, good.withConstraint(broken), good));
            assertTrue(results.get(0).ok(), results.get(0).error());
            assertEquals(FinishReason.ERROR, results.get(1).finishReason());
            assertTrue(results.get(1).error().contains("broken grammar"), results.get(1).error());
            assertTrue(results.get(2).ok(), results.get(2).error());
            assertArrayEquals(results.get(0).tokenIds(), results.get(2).tokenIds());
            assertNull(engine.failure());
        }
    }

    // ---- padding rows: the real model has 151,552 output rows for 151,343 tokens ----

    @TempDir
    static Path dir;

    /** The oracle's 384-token vocabulary over a model with 512 output rows: rows 384..511 are padding. */
    private static Path paddedModel() throws Exception {
        Path out = dir.resolve("padded.gguf");
        if (!out.toFile().exists()) {
            TinyModels.writeGguf(new TinyModels.Spec(128, 2, 4, 2, 288, 512, 5e6, GgmlType.F32, 3, 4096), out, SharedFiles.tinyQ8());
        }
        return out;
    }

    @Test
    @Timeout(120)
    void paddingRowsAreNeverChosenGreedyOrSampledHot() throws Exception {
        try (Engine engine = Engine.load(EngineOptions.defaults(paddedModel()).withThreads(2).withMaxBatch(8))) {
            int tokens = engine.tokenizer().vocabSize();
            assertTrue(tokens < engine.config().vocabSize(), tokens + " tokens, " + engine.config().vocabSize() + " rows");
            List<GenerationRequest> requests = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                SamplingParams sampling = i == 0 ? SamplingParams.GREEDY : new SamplingParams(1.5f, 0, 1f, 0f, 1f, 100 + i);
                requests.add(GenerationRequest.ids(Oracle.sequences().get(i % Oracle.sequences().size()), 40, sampling)
                        .withIgnoreEos(true));
            }
            int generated = 0;
            for (GenerationResult r : engine.generate(requests)) {
                assertTrue(r.ok(), r.error());
                for (int id : r.tokenIds()) assertTrue(id < tokens, "chose padding row " + id);
                generated += r.completionTokens();
            }
            // 128 of 512 rows are padding with logits like any other row's: unmasked, a quarter of the draws at
            // temperature 1.5 would land there, so these 600 draws show the mask works.
            assertEquals(16 * 40, generated);
            double[] scores = engine.score(Oracle.sequences().get(0), List.of(new int[] {5, 6}, new int[] {7})).join();
            for (double s : scores) assertTrue(s < 0 && Double.isFinite(s), "score " + s);
        }
    }

    @Test
    void scoresNormalizeOverDecodableTokensOnly() {
        float[] logits = {1f, 2f, 3f, 50f, 50f};             // two padding rows with the largest logits
        double expected = 2 - Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
        assertEquals(expected, Scheduler.logSoftmax(logits, 0, 5, 3, 1), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> Scheduler.logSoftmax(logits, 0, 5, 3, 3));
    }

    // ---- KV memory checked before it is taken ----

    @Test
    @Timeout(60)
    void aRowWhoseCacheCanNeverFitGetsAnErrorWithTheNumbersAndOthersWaitTheirTurn() {
        // Tiny model: 3 layers x kvDim 64 x K and V x 4 bytes = 1,536 bytes per token; pages of 256 tokens.
        long onePage = 256L * 1536;
        try (Engine engine = Engine.load(EngineOptions.defaults(SharedFiles.tinyF32()).withThreads(1).withMaxBatch(8)
                .withKvCacheMemory(2 * onePage))) {
            int[] prompt = Oracle.sequences().get(1);
            GenerationRequest small = GenerationRequest.ids(prompt, 20, SamplingParams.GREEDY).withIgnoreEos(true);
            GenerationRequest huge = GenerationRequest.ids(prompt, 1000, SamplingParams.GREEDY).withIgnoreEos(true);
            GenerationResult alone = engine.generate(List.of(small)).getFirst();
            List<GenerationRequest> requests = new ArrayList<>(List.of(huge));
            for (int i = 0; i < 5; i++) requests.add(small);             // one page each: two at a time fit
            List<GenerationResult> results = engine.generate(requests);
            GenerationResult refused = results.getFirst();
            assertEquals(FinishReason.ERROR, refused.finishReason());
            int tokens = prompt.length + 1000;
            assertTrue(refused.error().contains("KV cache for " + tokens + " tokens"), refused.error());
            assertTrue(refused.error().contains("(" + 4 * onePage + " bytes)"), refused.error());
            assertTrue(refused.error().contains("(" + 2 * onePage + " bytes) the engine may use"), refused.error());
            for (GenerationResult r : results.subList(1, results.size())) {
                assertTrue(r.ok(), r.error());
                assertArrayEquals(alone.tokenIds(), r.tokenIds());
            }
            assertNull(engine.failure());
        }
    }
}
