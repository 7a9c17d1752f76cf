package io.sparkglm.constrain;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparkglm.backend.Backend;
import io.sparkglm.backend.Backend.Step;
import io.sparkglm.backend.BackendOptions;
import io.sparkglm.backend.SequenceCache;
import io.sparkglm.backend.cpu.CpuBackend;
import io.sparkglm.generate.Engine;
import io.sparkglm.generate.EngineOptions;
import io.sparkglm.generate.FinishReason;
import io.sparkglm.generate.GenerationRequest;
import io.sparkglm.generate.GenerationResult;
import io.sparkglm.generate.SamplingParams;
import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.ModelLoader;
import io.sparkglm.testing.SharedFiles;
import io.sparkglm.tokenizer.ChatMessage;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Constrained generation and label scoring through the real engine on the tiny random (noise) model. */
class ConstrainedEngineTest {

    static final int MAX_STRING = 40, MAX_ITEMS = 4;
    private static Engine engine;

    @BeforeAll
    static void load() {
        engine = Engine.load(EngineOptions.defaults(SharedFiles.tinyF32()).withThreads(2).withMaxContext(512).withMaxBatch(64));
    }

    @AfterAll
    static void close() {
        if (engine != null) engine.close();
    }

    static List<ChatMessage> prompt(String doc, String task) {
        return List.of(ChatMessage.system("Answer in JSON."), ChatMessage.user(task + "\n\n" + doc));
    }

    /** Thousands of random documents x random schemas: every output is complete JSON of its schema. */
    @Test
    void everyExtractionParsesIntoItsSchema() throws Exception {
        Random r = new Random(42);
        record Job(JsonType type, int maxTokens, CompletableFuture<GenerationResult> result) {}
        List<Job> jobs = new ArrayList<>();
        for (int s = 0; s < 50; s++) {
            JsonType type = s % 5 == 0 ? JsonTestSupport.randomType(r, 3) : JsonTestSupport.randomObject(r, 3);
            JsonGrammar grammar = new JsonGrammar(type, TokenTrie.of(engine.tokenizer()), MAX_STRING, MAX_ITEMS);
            for (int d = 0; d < 40; d++) {
                int maxTokens = Math.max(grammar.minTokens(), 1 + r.nextInt(40));
                SamplingParams sampling = new SamplingParams(1.0f + r.nextFloat(), 0, 1f, 0f, 1f, r.nextLong());
                GenerationRequest req = GenerationRequest.chat(prompt(JsonTestSupport.randomString(r, 12), "Extract."), maxTokens, sampling)
                        .withConstraint(grammar.constraint(maxTokens));
                jobs.add(new Job(type, maxTokens, engine.submit(req, null)));
            }
        }
        ObjectMapper json = new ObjectMapper();
        for (Job job : jobs) {
            GenerationResult res = job.result().get();
            assertTrue(res.ok(), res.error());
            assertEquals(FinishReason.STOP, res.finishReason(), res.text());
            assertTrue(res.completionTokens() <= job.maxTokens());
            byte[] bytes = engine.tokenizer().decodeBytes(res.tokenIds());
            assertArrayEquals(bytes, res.text().getBytes(StandardCharsets.UTF_8));
            assertTrue(JsonTestSupport.validReference(bytes, job.type(), MAX_STRING, MAX_ITEMS), () -> res.text() + " for " + job.type());
            assertNotNull(json.readTree(bytes));
        }
        assertEquals(2000, jobs.size());
    }

    /** The label the engine's scores pick is the one a float64 log-softmax over the backend's logits picks. */
    @Test
    void classificationPicksTheFloat64Winner() throws Exception {
        Random r = new Random(8);
        List<List<String>> labelSets = List.of(List.of("positive", "negative", "neutral"), List.of("pos", "positive"),
                List.of("A", "B", "C", "D"), List.of("spam", "ham"), List.of("caf\u00e9", "\u4e2d\u6587", "x y z"));
        try (Checkpoint ckpt = ModelLoader.open(SharedFiles.tinyF32());
             Backend backend = new CpuBackend(ckpt, new BackendOptions(2, "f32", -1))) {
            int decided = 0;
            for (int k = 0; k < 30; k++) {
                List<String> labels = labelSets.get(k % labelSets.size());
                List<ChatMessage> messages = prompt(JsonTestSupport.randomString(r, 40), "Classify as one of " + labels + ".");
                LabelScorer.Classification c = LabelScorer.classify(engine, messages, labels).get();
                int[] promptIds = engine.tokenizer().encodeChat(messages, true);
                double[] expected = new double[labels.size()];
                for (int i = 0; i < labels.size(); i++) {
                    expected[i] = float64Score(backend, ckpt.config().vocabSize(), promptIds, LabelScorer.continuation(engine.tokenizer(), labels.get(i)));
                    assertEquals(expected[i], c.logLikelihoods()[i], 1e-3, "label " + labels.get(i));
                }
                int best = argmax(expected);
                double margin = Arrays.stream(expected).filter(x -> x != expected[best]).map(x -> expected[best] - x).min().orElse(1);
                if (margin > 1e-3) {
                    assertEquals(labels.get(best), c.label());
                    decided++;
                }
                assertEquals(1.0, Arrays.stream(c.probabilities()).sum(), 1e-9);
            }
            assertTrue(decided >= 25, "decided " + decided);
        }
    }

    private static int argmax(double[] x) {
        int b = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[b]) b = i;
        return b;
    }

    /** log P(continuation | prompt) from one full forward pass, log-softmax in double. */
    static double float64Score(Backend backend, int vocab, int[] prompt, int[] c) {
        int[] all = Arrays.copyOf(prompt, prompt.length + c.length);
        System.arraycopy(c, 0, all, prompt.length, c.length);
        double total = 0;
        try (SequenceCache cache = backend.newSequence(all.length)) {
            float[] rows = backend.forward(List.of(new Step(cache, all, true))).getFirst();
            for (int i = 0; i < c.length; i++) {
                int row = (prompt.length - 1 + i) * vocab;
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int v = 0; v < vocab; v++) max = Math.max(max, rows[row + v]);
                for (int v = 0; v < vocab; v++) sum += Math.exp(rows[row + v] - max);
                total += rows[row + c[i]] - max - Math.log(sum);
            }
        }
        return total;
    }

    @Test
    void labelContinuationIsNewlineLabelEndOfTurn() {
        var tok = engine.tokenizer();
        int[] ids = LabelScorer.continuation(tok, "positive");
        assertEquals("\npositive", tok.decode(Arrays.copyOf(ids, ids.length - 1)));
        assertEquals(tok.specialId("<|user|>"), ids[ids.length - 1]);
        assertThrows(IllegalArgumentException.class, () -> LabelScorer.checkLabels(List.of("a", "a")));
        assertThrows(IllegalArgumentException.class, () -> LabelScorer.checkLabels(List.of()));
        LabelScorer.Classification c = LabelScorer.of(List.of("a", "b"), new double[] {-2, -1});
        assertEquals("b", c.label());
        assertEquals(1 / (1 + Math.E), c.probabilities()[0], 1e-12);
    }
}
