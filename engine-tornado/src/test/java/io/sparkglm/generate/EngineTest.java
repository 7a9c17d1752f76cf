package io.sparkglm.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkglm.testing.Oracle;
import io.sparkglm.testing.SharedFiles;
import io.sparkglm.tokenizer.ChatMessage;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The engine end to end on the tiny oracle model: greedy ids, continuous batching, sampling, limits, errors. */
class EngineTest {

    private static Engine engine;

    @BeforeAll
    static void load() {
        engine = Engine.load(EngineOptions.defaults(SharedFiles.tinyF32()).withThreads(2).withMaxBatch(8).withPrefillChunk(8));
    }

    @AfterAll
    static void close() {
        if (engine != null) engine.close();
    }

    @Test
    void greedyIdsMatchTheOracleAlone() {
        List<int[]> seqs = Oracle.sequences();
        for (int s = 0; s < seqs.size(); s++) {
            GenerationResult r = engine.generate(List.of(greedy(seqs.get(s), 20))).getFirst();
            assertTrue(r.ok(), r.error());
            assertArrayEquals(Oracle.greedy("f32", s), r.tokenIds(), "seq" + s);
            assertEquals(FinishReason.LENGTH, r.finishReason());
            assertEquals(seqs.get(s).length, r.promptTokens());
            assertEquals(20, r.completionTokens());
        }
    }

    /** Many requests from many threads join one batch; each gets exactly what it gets alone. */
    @Test
    void continuousBatchingGivesTheSameIdsAsAlone() throws Exception {
        Random random = new Random(7);
        List<GenerationRequest> requests = new ArrayList<>();
        for (int i = 0; i < 24; i++) {
            int[] prompt = random.ints(1 + random.nextInt(40), 0, 356).toArray();
            SamplingParams sampling = i % 2 == 0 ? SamplingParams.GREEDY
                    : new SamplingParams(0.9f, 40, 0.95f, 0.02f, 1.1f, 1000 + i);
            requests.add(GenerationRequest.ids(prompt, 3 + random.nextInt(20), sampling).withIgnoreEos(true));
        }
        List<int[]> alone = new ArrayList<>();
        for (GenerationRequest r : requests) alone.add(engine.generate(List.of(r)).getFirst().tokenIds());

        List<CompletableFuture<GenerationResult>> futures = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < requests.size(); i++) futures.add(null);
        for (int i = 0; i < requests.size(); i++) {
            int index = i;
            threads.add(Thread.ofPlatform().start(() -> futures.set(index, engine.submit(requests.get(index), null))));
        }
        for (Thread t : threads) t.join();
        for (int i = 0; i < requests.size(); i++) {
            GenerationResult r = futures.get(i).join();
            assertTrue(r.ok(), r.error());
            assertArrayEquals(alone.get(i), r.tokenIds(), "request " + i + " batched vs alone");
            assertEquals(requests.get(i).maxTokens(), r.completionTokens());
        }
    }

    @Test
    void seededSamplingIsReproducibleAndSeedsDiffer() {
        int[] prompt = Oracle.sequences().get(2);
        SamplingParams hot = new SamplingParams(1.5f, 0, 1f, 0f, 1f, 42);
        int[] a = engine.generate(List.of(GenerationRequest.ids(prompt, 30, hot).withIgnoreEos(true))).getFirst().tokenIds();
        int[] b = engine.generate(List.of(GenerationRequest.ids(prompt, 30, hot).withIgnoreEos(true))).getFirst().tokenIds();
        int[] c = engine.generate(List.of(GenerationRequest.ids(prompt, 30, hot.withSeed(43)).withIgnoreEos(true))).getFirst().tokenIds();
        assertArrayEquals(a, b);
        assertFalse(java.util.Arrays.equals(a, c), "different seeds gave the same 30 tokens");
        int[] greedy = Oracle.greedy("f32", 2);
        assertNotEquals(greedy[0] + "," + greedy[1] + "," + greedy[2], a[0] + "," + a[1] + "," + a[2] + "x");
    }

    @Test
    void stopIdsEndGenerationUnlessIgnored() {
        // seq0's greedy path: find the first stop id the oracle emits, then check the engine stops there.
        int[] prompt = Oracle.sequences().get(0);
        int[] path = Oracle.greedy("f32", 0);
        int[] stops = engine.tokenizer().stopIds();
        int firstStop = -1;
        for (int i = 0; i < path.length && firstStop < 0; i++) {
            for (int s : stops) if (path[i] == s) firstStop = i;
        }
        GenerationResult r = engine.generate(List.of(GenerationRequest.ids(prompt, 20, SamplingParams.GREEDY))).getFirst();
        if (firstStop >= 0) {
            assertEquals(FinishReason.STOP, r.finishReason());
            assertArrayEquals(java.util.Arrays.copyOf(path, firstStop), r.tokenIds());
        } else {
            assertEquals(FinishReason.LENGTH, r.finishReason());
            assertArrayEquals(path, r.tokenIds());
        }
    }

    @Test
    void stopStringsCutTheText() {
        int[] prompt = Oracle.sequences().get(1);
        GenerationResult full = engine.generate(List.of(GenerationRequest.ids(prompt, 20, SamplingParams.GREEDY).withIgnoreEos(true))).getFirst();
        String text = full.text();
        assertTrue(text.length() > 6, "greedy text too short to cut: '" + text + "'");
        String stop = text.substring(text.length() / 2, text.length() / 2 + 2);
        GenerationResult cut = engine.generate(List.of(GenerationRequest.ids(prompt, 20, SamplingParams.GREEDY)
                .withIgnoreEos(true).withStopStrings(List.of(stop)))).getFirst();
        assertEquals(FinishReason.STOP, cut.finishReason());
        assertEquals(text.substring(0, text.indexOf(stop)), cut.text());
    }

    @Test
    void chatRequestsUseTheChatFormat() {
        List<ChatMessage> chat = List.of(ChatMessage.user("hello"));
        int[] prompt = engine.tokenizer().encodeChat(chat, true);
        GenerationResult viaChat = engine.generate(List.of(GenerationRequest.chat(chat, 5, SamplingParams.GREEDY).withIgnoreEos(true))).getFirst();
        GenerationResult viaIds = engine.generate(List.of(GenerationRequest.ids(prompt, 5, SamplingParams.GREEDY).withIgnoreEos(true))).getFirst();
        assertEquals(prompt.length, viaChat.promptTokens());
        assertArrayEquals(viaIds.tokenIds(), viaChat.tokenIds());
        int[] ordinary = java.util.Arrays.stream(viaIds.tokenIds()).filter(id -> !engine.tokenizer().isSpecial(id)).toArray();
        assertEquals(engine.tokenizer().decode(ordinary), viaChat.text());
    }

    @Test
    void badRequestsFailAloneWithClearErrors() {
        try (Engine small = Engine.load(EngineOptions.defaults(SharedFiles.tinyF32()).withThreads(1).withMaxContext(16))) {
            List<GenerationResult> results = small.generate(List.of(
                    GenerationRequest.ids(new int[] {1, 2, 3}, 4, SamplingParams.GREEDY).withIgnoreEos(true),
                    GenerationRequest.ids(new int[20], 4, SamplingParams.GREEDY),
                    GenerationRequest.ids(new int[] {1, 99999}, 4, SamplingParams.GREEDY),
                    GenerationRequest.ids(new int[] {1, 2, 3}, 100, SamplingParams.GREEDY).withIgnoreEos(true)));
            assertTrue(results.get(0).ok());
            assertEquals(4, results.get(0).completionTokens());
            assertEquals(FinishReason.ERROR, results.get(1).finishReason());
            assertTrue(results.get(1).error().contains("context holds 16"), results.get(1).error());
            assertEquals(FinishReason.ERROR, results.get(2).finishReason());
            assertTrue(results.get(2).error().contains("99999"), results.get(2).error());
            assertEquals(FinishReason.LENGTH, results.get(3).finishReason());
            assertEquals(16 - 3, results.get(3).completionTokens(), "generation stops at the context cap");
            assertNull(results.get(0).error());
        }
    }

    /** The noise model emits control tokens; they count as generated ids but never appear in the text. */
    @Test
    void controlTokensAreKeptOutOfTheText() {
        boolean sawSpecial = false;
        for (int[] prompt : Oracle.sequences()) {
            GenerationResult r = engine.generate(List.of(greedy(prompt, 20))).getFirst();
            for (int id : r.tokenIds()) sawSpecial |= engine.tokenizer().isSpecial(id);
            for (String name : engine.tokenizer().specialNames()) {
                assertFalse(r.text().contains(name), "text contains " + name + ": " + r.text());
            }
        }
        assertTrue(sawSpecial, "the oracle's greedy paths contain control tokens (e.g. 356), so this test can fail");
    }

    @Test
    void streamingListenerSeesEveryTokenInOrder() {
        int[] prompt = Oracle.sequences().get(2);
        List<Integer> seen = new ArrayList<>();
        StringBuilder pieces = new StringBuilder();
        GenerationResult r = engine.submit(GenerationRequest.ids(prompt, 12, SamplingParams.GREEDY).withIgnoreEos(true),
                (id, piece) -> { seen.add(id); pieces.append(piece); }).join();
        assertArrayEquals(r.tokenIds(), seen.stream().mapToInt(Integer::intValue).toArray());
        assertEquals(r.text(), pieces.toString());
    }

    private static GenerationRequest greedy(int[] prompt, int n) {
        return GenerationRequest.ids(prompt, n, SamplingParams.GREEDY).withIgnoreEos(true);
    }
}
