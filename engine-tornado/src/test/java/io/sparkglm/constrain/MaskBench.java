package io.sparkglm.constrain;

import io.sparkglm.tokenizer.GlmTokenizer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

/**
 * Cost of the token mask per decode step on GLM-4's real vocabulary (151,552 logits), steady state and cold:
 * random walks through an extraction schema with noise logits, timing mask() (key, cache lookup or trie
 * walk, budget tiers, writing -inf into the logits). Compare with a 9B Q8_0 decode step (35-50 ms here).
 *
 * <p>Run: {@code java -cp <test classpath> io.sparkglm.constrain.MaskBench [/path/to/tokenizer.model]} (default: the
 * tests' real tokenizer, {@code -Dglm.shared.dir}).
 */
public final class MaskBench {

    public static void main(String[] args) {
        Path vocab = args.length > 0 ? Path.of(args[0]) : io.sparkglm.testing.SharedFiles.realTokenizer();
        GlmTokenizer tok = GlmTokenizer.load(vocab);
        long t0 = System.nanoTime();
        TokenTrie trie = TokenTrie.of(tok);
        System.out.printf("trie: %d tokens' prefixes -> %d nodes, longest token %d bytes, built in %.0f ms%n",
                trie.vocabSize(), trie.nodeCount(), trie.maxTokenBytes(), (System.nanoTime() - t0) / 1e6);
        String ddl = "party STRING, counterparty STRING, signed DATE, amount DECIMAL(12,2), currency STRING, "
                + "items ARRAY<STRUCT<name: STRING, qty: INT, price DOUBLE>>, renewal BOOLEAN, notes STRING";
        int logitsLength = 151552;
        for (int round = 0; round < 3; round++) {      // round 0 warms the JIT; the cache is kept across rounds
            JsonGrammar grammar = round == 1 ? new JsonGrammar(JsonTypes.fromDdl(ddl), trie) : shared(ddl, trie);
            Random r = new Random(round);
            int steps = 0;
            double[] times = new double[200_000];
            for (int seq = 0; seq < 40; seq++) {
                JsonGrammar.State s = (JsonGrammar.State) grammar.constraint(400).start();
                while (!s.complete()) {
                    float[] logits = new float[logitsLength];
                    for (int i = 0; i < logits.length; i++) logits[i] = (float) r.nextGaussian();
                    long a = System.nanoTime();
                    s.mask(logits);
                    times[steps++] = (System.nanoTime() - a) / 1e6;
                    int pick = 0;
                    for (int i = 1; i < logits.length; i++) if (logits[i] > logits[pick]) pick = i;
                    s.accept(pick);
                }
            }
            double[] t = Arrays.copyOf(times, steps);
            Arrays.sort(t);
            double mean = Arrays.stream(t).average().orElse(0);
            System.out.printf("round %d%s: %d steps, mask mean %.3f ms, p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.1f ms; "
                            + "trie walks %d, cache hits %d%n", round, round == 1 ? " (fresh cache)" : "", steps, mean,
                    t[steps / 2], t[steps * 9 / 10], t[steps * 99 / 100], t[steps - 1], grammar.trieWalks(), grammar.cacheHits());
        }
    }

    private static JsonGrammar sharedGrammar;

    private static JsonGrammar shared(String ddl, TokenTrie trie) {
        if (sharedGrammar == null) sharedGrammar = new JsonGrammar(JsonTypes.fromDdl(ddl), trie);
        return sharedGrammar;
    }
}
