package io.sparkglm.document;

import io.sparkglm.tokenizer.GlmTokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Splits a document longer than the context into chunks of at most a token budget (the map step of
 * {@code longDocumentPolicy=mapreduce}).
 *
 * <p>The document is tokenized once. Each chunk takes up to {@code budget} tokens and ends at the best boundary in
 * the back half of that window: a paragraph break, else the end of a sentence or a line, else a space between words,
 * else any token boundary; never inside a character. With {@code overlap > 0} the next chunk starts at the first word
 * boundary {@code overlap} tokens before the previous one ended, so a sentence cut in two is read whole once.
 * Every character of the document lies in some chunk (trailing whitespace only when it fits in the last one), and
 * every chunk is checked by tokenizing its own text (BPE at a cut may merge differently from the whole document's
 * tokens): none is over the budget.
 */
public final class Chunker {

    /** How good a cut is, in increasing preference. */
    public enum Boundary { TOKEN, WORD, SENTENCE, PARAGRAPH }

    /**
     * One chunk: the characters [start, end) of the document, and its own token count.
     *
     * @param boundary the kind of cut that ends it (PARAGRAPH for the document's end)
     */
    public record Chunk(int start, int end, int tokens, Boundary boundary) {
        public String text(String document) {
            return document.substring(start, end);
        }
    }

    /** How far a boundary's surroundings are inspected (bounds the work on hostile runs of whitespace). */
    private static final int LOOK = 64;

    private Chunker() {}

    /**
     * The chunks of {@code text}: consecutive, in document order, covering every character up to its trailing
     * whitespace, each at most {@code budget} tokens. One chunk when the whole text fits; none for a blank text.
     *
     * @throws IllegalArgumentException when budget < 1, overlap < 0 or overlap >= budget / 2
     */
    public static List<Chunk> split(GlmTokenizer tokenizer, String text, int budget, int overlap) {
        Objects.requireNonNull(tokenizer, "tokenizer");
        Objects.requireNonNull(text, "text");
        checkSizes(budget, overlap);
        if (text.isBlank()) return List.of();
        int[] ids = tokenizer.encode(text, true);
        int[] charAt = tokenStarts(tokenizer, ids, text);
        int n = contentTokens(text, charAt);
        List<Chunk> chunks = new ArrayList<>();
        int start = 0;
        while (true) {
            int end = start + budget >= n ? n : bestCut(text, charAt, start, start + budget, start + Math.max(1, budget / 2));
            int tokens;
            // The chunk's own tokens decide: shrink to earlier boundaries until it fits (rarely more than once).
            while ((tokens = tokenizer.encode(text.substring(charAt[start], charAt[end])).length) > budget) {
                end = previousBoundary(charAt, start, end - Math.max(1, tokens - budget));
            }
            if (end == n) {
                // The document's trailing whitespace joins the last chunk when it fits; it is never a chunk alone.
                int all = tokenizer.encode(text.substring(charAt[start])).length;
                chunks.add(all <= budget ? new Chunk(charAt[start], text.length(), all, Boundary.PARAGRAPH)
                        : new Chunk(charAt[start], charAt[end], tokens, Boundary.PARAGRAPH));
                return List.copyOf(chunks);
            }
            chunks.add(new Chunk(charAt[start], charAt[end], tokens, boundary(text, charAt[end])));
            start = overlap == 0 ? end : overlapStart(text, charAt, start, end, overlap);
        }
    }

    /** The first token boundary at or after the document's trailing whitespace: where its content ends. */
    private static int contentTokens(String text, int[] charAt) {
        int contentEnd = text.stripTrailing().length();
        int stop = charAt.length - 1;
        for (int i = stop - 1; i > 0; i--) {
            if (charAt[i] < 0) continue;
            if (charAt[i] < contentEnd) break;
            stop = i;
        }
        return stop;
    }

    /** The sizes a caller may pass; the same message as {@link #split} gives, for checking settings early. */
    public static void checkSizes(int budget, int overlap) {
        if (budget < 1) throw new IllegalArgumentException("the chunk budget must be at least 1 token, got " + budget);
        if (overlap < 0) throw new IllegalArgumentException("the chunk overlap must be >= 0 tokens, got " + overlap);
        if (overlap > 0 && 2L * overlap >= budget) {
            throw new IllegalArgumentException("the chunk overlap of " + overlap + " tokens must be less than half the chunk budget of "
                    + budget + " tokens");
        }
    }

    /**
     * The character offset where each token starts (index n: the text's length), or -1 where a token starts inside a
     * character (byte-level BPE may split a character's UTF-8 bytes across tokens).
     */
    static int[] tokenStarts(GlmTokenizer tokenizer, int[] ids, String text) {
        int[] charAt = new int[ids.length + 1];
        long tokenByte = 0;   // byte offset where token i starts
        long charByte = 0;    // byte offset where character c starts
        int c = 0;
        for (int i = 0; i <= ids.length; i++) {
            while (charByte < tokenByte && c < text.length()) {
                int width = utf8Width(text, c);
                charByte += width == 4 ? 4 : width;
                c += width == 4 ? 2 : 1;
            }
            charAt[i] = charByte == tokenByte ? c : -1;
            if (i < ids.length) tokenByte += tokenizer.tokenBytes(ids[i]).length;
        }
        if (charAt[ids.length] != text.length()) {
            throw new IllegalStateException("the tokens of the document do not spell it (" + tokenByte + " bytes of tokens for "
                    + text.length() + " characters): cannot place chunk boundaries");
        }
        return charAt;
    }

    /** UTF-8 bytes of the character at c as the tokenizer encodes it: 4 for a surrogate pair, 3 for a lone surrogate. */
    private static int utf8Width(String s, int c) {
        char ch = s.charAt(c);
        if (ch < 0x80) return 1;
        if (ch < 0x800) return 2;
        if (Character.isHighSurrogate(ch) && c + 1 < s.length() && Character.isLowSurrogate(s.charAt(c + 1))) return 4;
        return 3;
    }

    /** The best cut in (lo, hi] (token indexes): the latest of the best kind; the latest valid one below lo otherwise. */
    private static int bestCut(String text, int[] charAt, int start, int hi, int lo) {
        int best = -1;
        Boundary bestKind = null;
        for (int i = hi; i > lo; i--) {
            if (charAt[i] < 0) continue;
            Boundary kind = boundary(text, charAt[i]);
            if (bestKind == null || kind.compareTo(bestKind) > 0) {
                best = i;
                bestKind = kind;
                if (kind == Boundary.PARAGRAPH) break;
            }
        }
        return best >= 0 ? best : previousBoundary(charAt, start, lo);
    }

    /** The last token boundary at a character boundary in (start, i]. */
    private static int previousBoundary(int[] charAt, int start, int i) {
        for (int j = Math.min(i, charAt.length - 1); j > start; j--) {
            if (charAt[j] >= 0) return j;
        }
        throw new IllegalStateException("no token boundary falls between characters after token " + start
                + ": the chunk budget is too small for this text");
    }

    /** Where the chunk after [start, end) begins: the first word boundary at least {@code overlap} tokens before end. */
    private static int overlapStart(String text, int[] charAt, int start, int end, int overlap) {
        int from = Math.max(start + 1, end - overlap);
        int anyBoundary = -1;
        for (int i = from; i < end; i++) {
            if (charAt[i] < 0) continue;
            if (boundary(text, charAt[i]).compareTo(Boundary.WORD) >= 0) return i;
            if (anyBoundary < 0) anyBoundary = i;
        }
        return anyBoundary >= 0 ? anyBoundary : end;
    }

    /** The kind of cut before character c: from the whitespace around it and the character before that. */
    static Boundary boundary(String text, int c) {
        if (c <= 0 || c >= text.length()) return Boundary.PARAGRAPH;
        int a = c, b = c, newlines = 0;
        while (a > 0 && c - a < LOOK && Character.isWhitespace(text.charAt(a - 1))) {
            if (text.charAt(--a) == '\n') newlines++;
        }
        while (b < text.length() && b - c < LOOK && Character.isWhitespace(text.charAt(b))) {
            if (text.charAt(b++) == '\n') newlines++;
        }
        if (newlines >= 2) return Boundary.PARAGRAPH;
        if (newlines == 1) return Boundary.SENTENCE;
        if (endsSentence(text, a)) return a < b || isCjkTerminator(text.charAt(a - 1)) ? Boundary.SENTENCE : Boundary.TOKEN;
        return a < b ? Boundary.WORD : Boundary.TOKEN;
    }

    /** Whether the text before offset a ends a sentence: a terminator, possibly followed by closing quotes or brackets. */
    private static boolean endsSentence(String text, int a) {
        int i = a - 1;
        for (int closers = 0; i >= 0 && closers < 3 && "\"')]\u201d\u2019\u300d\u300f\uff09".indexOf(text.charAt(i)) >= 0; closers++) i--;
        if (i < 0) return false;
        char ch = text.charAt(i);
        return ch == '.' || ch == '!' || ch == '?' || ch == ';' || ch == '\u2026' || isCjkTerminator(ch);
    }

    private static boolean isCjkTerminator(char ch) {
        return ch == '\u3002' || ch == '\uff01' || ch == '\uff1f' || ch == '\uff1b';
    }
}
