package io.sparkglm.constrain;

import io.sparkglm.constrain.JsonAutomaton.Frame;
import io.sparkglm.generate.TokenConstraint;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A JSON type compiled for one vocabulary: the byte automaton, the shared token trie and a cache of token
 * masks per automaton state. Build it once per (schema, tokenizer) and take a {@link #constraint} per
 * request; it is thread-safe.
 *
 * <h2>The budget: why the output always closes</h2>
 * Each state knows the fewest bytes that finish the value ({@link Frame#cost}). With R tokens left
 * (this one included), a token is allowed only if the automaton survives its bytes and the cost after it is
 * at most R - 1. Every byte has a single-byte token, and one byte along a shortest finish lowers the cost by
 * one, so some token is always allowed and the value is complete no later than the last token. The start
 * state's cost is therefore the least {@code maxTokens} a request may have ({@link #minTokens()}).
 *
 * <h2>Masks</h2>
 * A mask is computed by walking the trie together with the automaton (each shared prefix stepped once; a
 * dead state skips its subtree) and cached under the state's key (counters clamped at the longest token, so
 * a long string reuses one mask). The cache keeps the cost each allowed token leads to, split in three tiers
 * relative to the state's own cost c: tokens that lower it (always allowed), tokens that keep it (allowed
 * while R - 1 >= c), and the few that raise it (listed with their cost). So the budget needs no new walk.
 */
public final class JsonGrammar {

    /** Defaults: strings up to 512 bytes (JSON-encoded), arrays up to 64 elements. */
    public static final int DEFAULT_MAX_STRING_BYTES = 512, DEFAULT_MAX_ARRAY_ITEMS = 64;
    private static final int CACHE_LIMIT = 2048;

    private final JsonType type;
    private final JsonAutomaton automaton;
    private final TokenTrie trie;
    private final int shortClamp, longClamp;
    private final Map<String, Masks> shortCache = new ConcurrentHashMap<>(), longCache = new ConcurrentHashMap<>();
    private final AtomicLong hits = new AtomicLong(), walks = new AtomicLong();

    public JsonGrammar(JsonType type, TokenTrie trie, int maxStringBytes, int maxArrayItems) {
        this.type = type;
        this.automaton = new JsonAutomaton(type, maxStringBytes, maxArrayItems);
        this.trie = trie;
        this.shortClamp = TokenTrie.SHORT_TOKEN_BYTES + 1;
        this.longClamp = trie.maxTokenBytes() + 1;
    }

    public JsonGrammar(JsonType type, TokenTrie trie) {
        this(type, trie, DEFAULT_MAX_STRING_BYTES, DEFAULT_MAX_ARRAY_ITEMS);
    }

    public JsonType type() { return type; }

    public TokenTrie trie() { return trie; }

    /** The fewest tokens that always suffice for a complete value: the bytes of the shortest one. */
    public int minTokens() {
        return automaton.start().cost;
    }

    /** A constraint for requests that may generate up to {@code maxTokens} tokens (the request's maxTokens). */
    public TokenConstraint constraint(int maxTokens) {
        if (maxTokens < minTokens()) {
            throw new IllegalArgumentException("maxTokens " + maxTokens + " is below the " + minTokens()
                    + " tokens this schema's shortest JSON needs");
        }
        return () -> new State(maxTokens);
    }

    /** Cache hits and trie walks so far (for benchmarks and tests). */
    public long cacheHits() { return hits.get(); }

    public long trieWalks() { return walks.get(); }

    /** One sequence's position in the grammar and its remaining token budget. */
    public final class State implements TokenConstraint.State {
        private Frame frame = automaton.start();
        private int remaining;
        private long[] scratch;

        State(int maxTokens) {
            this.remaining = maxTokens;
        }

        @Override
        public void mask(float[] logits) {
            long[] allowed = allowed();
            for (int i = 0; i < logits.length; i++) {
                if (i >= trie.vocabSize || (allowed[i >>> 6] & (1L << i)) == 0) logits[i] = Float.NEGATIVE_INFINITY;
            }
        }

        /** The allowed tokens now, as a bit set over the vocabulary (valid until the next call). */
        long[] allowed() {
            if (scratch == null) scratch = new long[(trie.vocabSize + 63) >>> 6];
            if (frame.cost > remaining) {   // cannot happen when the budget was respected; be exact anyway
                Arrays.fill(scratch, 0);
                return scratch;
            }
            masks(shortCache, trie.shortTokens, shortClamp).apply(remaining - 1, scratch, false);
            if (!trie.longTokens.isEmpty()) masks(longCache, trie.longTokens, longClamp).apply(remaining - 1, scratch, true);
            return scratch;
        }

        private Masks masks(Map<String, Masks> cache, TokenTrie.Nodes nodes, int clamp) {
            String key = frame.key(clamp);
            Masks m = cache.get(key);
            if (m != null) {
                hits.incrementAndGet();
                return m;
            }
            m = walk(nodes, frame);
            if (cache.size() >= CACHE_LIMIT) cache.clear();
            cache.put(key, m);
            return m;
        }

        @Override
        public void accept(int token) {
            byte[] bytes = trie.bytes(token);
            Frame next = bytes == null ? null : JsonAutomaton.feed(frame, bytes);
            if (next == null || next.cost > remaining - 1) {
                throw new IllegalStateException("token " + token + " is not allowed by the JSON grammar here");
            }
            frame = next;
            remaining--;
        }

        @Override
        public boolean complete() {
            return JsonAutomaton.complete(frame);
        }

        /** Tokens still allowed by the budget. */
        public int remaining() { return remaining; }

        /** Fewest bytes that finish the value from here. */
        public int closingCost() { return frame.cost; }

        Frame frame() { return frame; }
    }

    /** Walks the trie from state s: which tokens survive, and the cost each leads to. */
    private Masks walk(TokenTrie.Nodes trieNodes, Frame s) {
        walks.incrementAndGet();
        int words = (trie.vocabSize + 63) >>> 6;
        long[] lower = new long[words], same = new long[words];
        int[] raiseIds = new int[16], raiseCosts = new int[16];
        int raised = 0;
        Frame[] stack = new Frame[trieNodes.maxDepth + 1];
        stack[0] = s;
        byte[] label = trieNodes.label;
        int[] depth = trieNodes.depth, end = trieNodes.end, token = trieNodes.token, sameBytes = trieNodes.sameBytes;
        int nodes = label.length;
        for (int n = 0; n < nodes; ) {
            int d = depth[n];
            Frame f = stack[d - 1].step(label[n] & 0xFF);
            if (f == null) {
                n = end[n];
                continue;
            }
            stack[d] = f;
            for (int t = token[n]; t >= 0; t = sameBytes[t]) {
                if (f.cost < s.cost) lower[t >>> 6] |= 1L << t;
                else if (f.cost == s.cost) same[t >>> 6] |= 1L << t;
                else {
                    if (raised == raiseIds.length) {
                        raiseIds = Arrays.copyOf(raiseIds, raised * 2);
                        raiseCosts = Arrays.copyOf(raiseCosts, raised * 2);
                    }
                    raiseIds[raised] = t;
                    raiseCosts[raised++] = f.cost;
                }
            }
            n++;
        }
        return new Masks(s.cost, lower, same, Arrays.copyOf(raiseIds, raised), Arrays.copyOf(raiseCosts, raised));
    }

    /** The tokens allowed from one state, by the cost they lead to (relative to the state's own, c). */
    private record Masks(int cost, long[] lower, long[] same, int[] raiseIds, int[] raiseCosts) {
        /** Allowed tokens when the cost after the token may be at most {@code maxCost}. */
        void apply(int maxCost, long[] out, boolean or) {
            boolean withSame = cost <= maxCost;                      // else cost == maxCost + 1 by the invariant
            for (int i = 0; i < out.length; i++) {
                long w = withSame ? lower[i] | same[i] : lower[i];
                out[i] = or ? out[i] | w : w;
            }
            for (int i = 0; i < raiseIds.length; i++) {
                if (raiseCosts[i] <= maxCost) out[raiseIds[i] >>> 6] |= 1L << raiseIds[i];
            }
        }
    }
}
