package io.sparkglm.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkglm.backend.Backend;
import io.sparkglm.backend.Backend.Step;
import io.sparkglm.backend.BackendOptions;
import io.sparkglm.backend.SequenceCache;
import io.sparkglm.backend.cpu.CpuBackend;
import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.ModelLoader;
import io.sparkglm.testing.Oracle;
import io.sparkglm.testing.SharedFiles;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The engine hooks for constrained decoding and for scoring continuations (classification). */
class ConstraintAndScoreTest {

    private static Engine engine;

    @BeforeAll
    static void load() {
        engine = Engine.load(EngineOptions.defaults(SharedFiles.tinyF32()).withThreads(2).withPrefillChunk(5));
    }

    @AfterAll
    static void close() {
        if (engine != null) engine.close();
    }

    /** A constraint that allows exactly one token sequence. */
    private record Forced(int[] ids) implements TokenConstraint {
        public State start() {
            return new State() {
                int at;
                public void mask(float[] logits) {
                    for (int i = 0; i < logits.length; i++) if (i != ids[at]) logits[i] = Float.NEGATIVE_INFINITY;
                }
                public void accept(int token) { assertEquals(ids[at], token); at++; }
                public boolean complete() { return at == ids.length; }
            };
        }
    }

    @Test
    void constrainedGenerationFollowsTheConstraintAndStopsWhenComplete() {
        int[] forced = {356, 5, 300, 363, 7};       // includes stop ids: the constraint, not EOS, decides
        for (SamplingParams sampling : List.of(SamplingParams.GREEDY, new SamplingParams(1.2f, 0, 0.9f, 0f, 1.3f, 9))) {
            GenerationResult r = engine.generate(List.of(GenerationRequest.ids(Oracle.sequences().get(1), 50, sampling)
                    .withConstraint(new Forced(forced)))).getFirst();
            assertTrue(r.ok(), r.error());
            assertArrayEquals(forced, r.tokenIds());
            assertEquals(FinishReason.STOP, r.finishReason());
        }
    }

    @Test
    void aConstraintThatAllowsNothingFailsOnlyItsRequest() {
        TokenConstraint nothing = () -> new TokenConstraint.State() {
            public void mask(float[] logits) { Arrays.fill(logits, Float.NEGATIVE_INFINITY); }
            public void accept(int token) { throw new AssertionError("nothing was allowed"); }
            public boolean complete() { return false; }
        };
        List<GenerationResult> rs = engine.generate(List.of(
                GenerationRequest.ids(new int[] {1, 2}, 5, SamplingParams.GREEDY).withConstraint(nothing),
                GenerationRequest.ids(new int[] {1, 2}, 5, SamplingParams.GREEDY).withIgnoreEos(true)));
        assertEquals(FinishReason.ERROR, rs.get(0).finishReason());
        assertTrue(rs.get(0).error().contains("allows no token"), rs.get(0).error());
        assertEquals(5, rs.get(1).completionTokens());
    }

    /** Scores equal a direct float64 log-softmax over the backend's logits of prompt + continuation. */
    @Test
    void scoresAreTeacherForcedLogLikelihoods() throws Exception {
        int[] prompt = Oracle.sequences().get(2);
        List<int[]> continuations = List.of(new int[] {10}, new int[] {300, 271, 364}, new int[] {5, 6}, new int[] {300, 271});
        double[] scores = engine.score(prompt, continuations).get();
        try (Checkpoint ckpt = ModelLoader.open(SharedFiles.tinyF32());
             Backend backend = new CpuBackend(ckpt, new BackendOptions(1, "f32", -1))) {
            int vocab = ckpt.config().vocabSize();
            for (int k = 0; k < continuations.size(); k++) {
                int[] c = continuations.get(k);
                int[] all = new int[prompt.length + c.length];
                System.arraycopy(prompt, 0, all, 0, prompt.length);
                System.arraycopy(c, 0, all, prompt.length, c.length);
                double expected = 0;
                try (SequenceCache cache = backend.newSequence(all.length)) {
                    float[] rows = backend.forward(List.of(new Step(cache, all, true))).getFirst();
                    for (int i = 0; i < c.length; i++) {
                        int row = prompt.length - 1 + i;
                        double max = Double.NEGATIVE_INFINITY, sum = 0;
                        for (int v = 0; v < vocab; v++) max = Math.max(max, rows[row * vocab + v]);
                        for (int v = 0; v < vocab; v++) sum += Math.exp(rows[row * vocab + v] - max);
                        expected += rows[row * vocab + c[i]] - max - Math.log(sum);
                    }
                }
                assertEquals(expected, scores[k], 1e-4, "continuation " + k);
                assertTrue(scores[k] < 0);
            }
        }
        // The cache is rewound between continuations: order does not matter.
        double[] reversed = engine.score(prompt, List.of(continuations.get(3), continuations.get(1))).get();
        assertEquals(scores[3], reversed[0], 1e-9);
        assertEquals(scores[1], reversed[1], 1e-9);
    }
}
