package io.sparkglm.constrain;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.constrain.JsonAutomaton.Frame;
import io.sparkglm.generate.TokenConstraint;
import io.sparkglm.testing.SharedFiles;
import io.sparkglm.testing.TestTokenizers;
import io.sparkglm.tokenizer.GlmTokenizer;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Masks: a token is allowed iff feeding its bytes keeps the automaton alive with a closing cost the
 * remaining budget covers; random walks through masks always end in a valid, complete value.
 */
class TokenMaskTest {

    /** Brute force: each token fed on its own from the state. */
    static boolean allowedByBruteForce(TokenTrie trie, Frame f, int remaining, int id) {
        byte[] b = trie.bytes(id);
        if (b == null) return false;
        Frame g = JsonAutomaton.feed(f, b);
        return g != null && g.cost <= remaining - 1;
    }

    static int walkAndCheck(GlmTokenizer tok, JsonType type, int maxTokens, Random r, int checkEvery, int maxString) {
        TokenTrie trie = TokenTrie.of(tok);
        JsonGrammar grammar = new JsonGrammar(type, trie, maxString, 3);
        int budget = Math.max(maxTokens, grammar.minTokens());
        JsonGrammar.State state = (JsonGrammar.State) grammar.constraint(budget).start();
        int vocab = trie.vocabSize() + 7;          // logits may be longer than the vocabulary (padding rows)
        StringBuilder text = new StringBuilder();
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        int steps = 0;
        while (!state.complete()) {
            float[] logits = new float[vocab];
            for (int i = 0; i < vocab; i++) logits[i] = (float) r.nextGaussian();
            state.mask(logits);
            int allowed = 0;
            boolean check = steps % checkEvery == 0;
            for (int id = 0; id < vocab; id++) {
                boolean ok = logits[id] != Float.NEGATIVE_INFINITY;
                if (ok) allowed++;
                if (id >= trie.vocabSize() || tok.isSpecial(id)) assertFalse(ok, "special or padding token " + id + " allowed");
                else if (check) assertEquals(allowedByBruteForce(trie, state.frame(), state.remaining(), id), ok, "token " + id);
            }
            assertTrue(allowed > 0, "no token allowed");
            // Mostly the noise model's pick, sometimes a long token, to stress the budget.
            int pick = -1;
            float best = Float.NEGATIVE_INFINITY;
            for (int id = 0; id < vocab; id++) {
                if (logits[id] > best) { best = logits[id]; pick = id; }
            }
            state.accept(pick);
            bytes.writeBytes(trie.bytes(pick));
            steps++;
            assertTrue(steps <= budget, "ran past the budget");
        }
        byte[] out = bytes.toByteArray();
        assertTrue(JsonTestSupport.validReference(out, type, maxString, 3), () -> "invalid: " + new String(out) + " for " + type);
        return steps;
    }

    @Test
    void tinyVocabularyMasksEqualBruteForceAndAlwaysClose() {
        GlmTokenizer tok = GlmTokenizer.load(SharedFiles.tinyF32());
        Random r = new Random(3);
        int walks = 0;
        for (int s = 0; s < 120; s++) {
            JsonType type = s % 5 == 0 ? JsonTestSupport.randomType(r, 3) : JsonTestSupport.randomObject(r, 3);
            int maxTokens = 1 + r.nextInt(80);       // often below what a free value would need: forces closing
            walkAndCheck(tok, type, maxTokens, r, 1, 6 + r.nextInt(30));
            walks++;
        }
        assertEquals(120, walks);
    }

    @Test
    void realVocabularyMasksEqualBruteForce() {
        GlmTokenizer tok = TestTokenizers.real();
        Random r = new Random(9);
        JsonType type = JsonTypes.fromDdl("name STRING, age INT, born DATE, tags ARRAY<STRING>, "
                + "address STRUCT<city: STRING, zip: STRING>, score DOUBLE, ok BOOLEAN");
        for (int k = 0; k < 3; k++) walkAndCheck(tok, type, 40 + 20 * k, r, 7, 64);
    }

    @Test
    void budgetBelowTheShortestValueIsRejected() {
        GlmTokenizer tok = GlmTokenizer.load(SharedFiles.tinyF32());
        JsonGrammar g = JsonConstraints.fromDdl("a INT, b STRING", tok);
        assertEquals("{\"a\":0,\"b\":\"\"}".length(), g.minTokens());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> g.constraint(g.minTokens() - 1));
        assertTrue(e.getMessage().contains("maxTokens"), e.getMessage());
        TokenConstraint.State s = g.constraint(g.minTokens()).start();
        assertThrows(IllegalStateException.class, () -> s.accept(tok.specialId("<|user|>")));
    }
}
