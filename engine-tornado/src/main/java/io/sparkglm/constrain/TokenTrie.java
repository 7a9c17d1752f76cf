package io.sparkglm.constrain;

import io.sparkglm.tokenizer.GlmTokenizer;
import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * The byte strings of a vocabulary's ordinary tokens (specials left out: a constraint never allows them)
 * as tries laid out in preorder. Walking one in index order, skipping a subtree when the automaton dies,
 * visits each shared prefix once. Short and long tokens live in separate tries so that masks of the short
 * ones (nearly all) can be cached under keys whose counters are clamped at the short length. Built once per
 * tokenizer and shared.
 */
public final class TokenTrie {

    /** Tokens longer than this go to a separate small trie (runs of spaces, dashes: up to 512 bytes in GLM-4). */
    static final int SHORT_TOKEN_BYTES = 48;

    private static final Map<GlmTokenizer, TokenTrie> SHARED = Collections.synchronizedMap(new WeakHashMap<>());

    final byte[][] tokenBytes;   // by id; null for specials and empty tokens
    final int vocabSize;
    final int maxTokenBytes;
    /** Tokens of at most SHORT_TOKEN_BYTES bytes, and the longer ones. */
    final Nodes shortTokens, longTokens;

    private TokenTrie(byte[][] tokenBytes) {
        this.tokenBytes = tokenBytes;
        this.vocabSize = tokenBytes.length;
        int longest = 0;
        for (byte[] b : tokenBytes) if (b != null) longest = Math.max(longest, b.length);
        this.maxTokenBytes = longest;
        this.shortTokens = new Nodes(tokenBytes, 1, SHORT_TOKEN_BYTES);
        this.longTokens = new Nodes(tokenBytes, SHORT_TOKEN_BYTES + 1, Integer.MAX_VALUE);
    }

    /**
     * One trie in preorder: node n has byte {@code label[n]} at depth {@code depth[n]} (1 = first byte), its
     * subtree is nodes n+1 .. {@code end[n]}-1, and {@code token[n]} is the id ending there (or -1).
     */
    static final class Nodes {
        final byte[] label;
        final int[] depth;
        final int[] end;
        final int[] token;
        /** Further ids with the same bytes as the id stored at the node (linked), else -1. */
        final int[] sameBytes;
        final int maxDepth;

        Nodes(byte[][] tokenBytes, int minLength, int maxLength) {
            int vocabSize = tokenBytes.length;
            int count = 0, longest = 0;
            Integer[] order = new Integer[vocabSize];
            for (int id = 0; id < vocabSize; id++) {
                byte[] b = tokenBytes[id];
                if (b != null && b.length >= minLength && b.length <= maxLength) {
                    order[count++] = id;
                    longest = Math.max(longest, b.length);
                }
            }
            this.maxDepth = longest;
            Integer[] ids = Arrays.copyOf(order, count);
            Arrays.sort(ids, (a, b) -> Arrays.compareUnsigned(tokenBytes[a], tokenBytes[b]));

            // Sorted strings give the trie in preorder: each string adds nodes past its common prefix with the one before.
            ByteList labels = new ByteList();
            IntList depths = new IntList(), tokens = new IntList();
            int[] path = new int[longest + 1];       // node index at each depth of the previous string
            byte[] previous = new byte[0];
            int[] same = new int[vocabSize];
            Arrays.fill(same, -1);
            for (int id : ids) {
                byte[] s = tokenBytes[id];
                int common = Arrays.mismatch(previous, s);
                if (common < 0) {                    // same bytes as the previous id
                    int node = path[s.length];
                    same[id] = same[tokens.get(node)];
                    same[tokens.get(node)] = id;
                    continue;
                }
                common = Math.min(common, Math.min(previous.length, s.length));
                for (int d = common; d < s.length; d++) {
                    path[d + 1] = labels.size();
                    labels.add(s[d]);
                    depths.add(d + 1);
                    tokens.add(-1);
                }
                tokens.set(path[s.length], id);
                previous = s;
            }
            this.label = labels.toArray();
            this.depth = depths.toArray();
            this.token = tokens.toArray();
            this.sameBytes = same;
            this.end = new int[label.length];
            int[] open = new int[longest + 2];       // node open at each depth
            int top = 0;
            for (int n = 0; n < label.length; n++) {
                while (top > 0 && depth[open[top - 1]] >= depth[n]) end[open[--top]] = n;
                open[top++] = n;
            }
            while (top > 0) end[open[--top]] = label.length;
        }

        boolean isEmpty() { return label.length == 0; }
    }

    /** The shared trie of this tokenizer's ordinary tokens. */
    public static TokenTrie of(GlmTokenizer tokenizer) {
        synchronized (SHARED) {
            return SHARED.computeIfAbsent(tokenizer, TokenTrie::build);
        }
    }

    private static TokenTrie build(GlmTokenizer tokenizer) {
        byte[][] bytes = new byte[tokenizer.vocabSize()][];
        for (int id = 0; id < bytes.length; id++) {
            if (tokenizer.isSpecial(id)) continue;
            byte[] b = tokenizer.tokenBytes(id);
            if (b.length > 0) bytes[id] = b;
        }
        return new TokenTrie(bytes);
    }

    /** For tests: a trie over explicit token byte strings (null = special / unusable). */
    static TokenTrie ofBytes(byte[][] tokenBytes) {
        return new TokenTrie(tokenBytes.clone());
    }

    /** Trie nodes (distinct non-empty token prefixes, short and long tries together). */
    public int nodeCount() { return shortTokens.label.length + longTokens.label.length; }

    public int vocabSize() { return vocabSize; }

    public int maxTokenBytes() { return maxTokenBytes; }

    /** The bytes of an ordinary token, or null for a special or empty one. */
    byte[] bytes(int id) { return id >= 0 && id < vocabSize ? tokenBytes[id] : null; }

    private static final class IntList {
        int[] a = new int[1024];
        int n;
        void add(int v) { if (n == a.length) a = Arrays.copyOf(a, n * 2); a[n++] = v; }
        int get(int i) { return a[i]; }
        void set(int i, int v) { a[i] = v; }
        int[] toArray() { return Arrays.copyOf(a, n); }
    }

    private static final class ByteList {
        byte[] a = new byte[1024];
        int n;
        void add(byte v) { if (n == a.length) a = Arrays.copyOf(a, n * 2); a[n++] = v; }
        int size() { return n; }
        byte[] toArray() { return Arrays.copyOf(a, n); }
    }
}
