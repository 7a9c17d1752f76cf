package io.sparkglm.document;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.document.Chunker.Boundary;
import io.sparkglm.document.Chunker.Chunk;
import io.sparkglm.testing.SharedFiles;
import io.sparkglm.tokenizer.GlmTokenizer;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Properties of the map step's chunks, on the tiny models' vocabulary and on GLM-4's real one. */
class ChunkerTest {

    static Stream<String> vocabularies() {
        return Stream.of("tiny", "real");
    }

    static GlmTokenizer tokenizer(String which) {
        return GlmTokenizer.load(which.equals("tiny") ? SharedFiles.tinyF32() : SharedFiles.realTokenizer());
    }

    private static final String[] WORDS = {"the", "contract", "party", "shall", "pay", "within", "thirty", "days", "of",
        "notice", "été", "naïve", "中文", "文本", "😀", "x", "1,234.50", "e.g.", "Dr.", "—", "«quoted»", "tab\there"};

    /** Paragraphs of sentences of words; some hostile pieces (long space runs, lone surrogates, no-space runs). */
    static String document(SplittableRandom r, int paragraphs, int maxSentences, int maxWords) {
        StringBuilder sb = new StringBuilder();
        for (int p = 0; p < paragraphs; p++) {
            int sentences = 1 + r.nextInt(maxSentences);
            for (int s = 0; s < sentences; s++) {
                int words = 1 + r.nextInt(maxWords);
                for (int w = 0; w < words; w++) {
                    if (w > 0) sb.append(' ');
                    sb.append(WORDS[r.nextInt(WORDS.length)]);
                }
                String[] ends = {"!", "?", "\u3002", ".", ".", "."};
                sb.append(ends[r.nextInt(ends.length)]);
                if (s + 1 < sentences) sb.append(r.nextInt(8) == 0 ? "\n" : " ");
            }
            switch (r.nextInt(20)) {
                case 0 -> sb.append(" ".repeat(200));
                case 1 -> sb.append('\ud800');                       // a lone surrogate
                case 2 -> sb.append("abcdefghij".repeat(30));        // a long run with no boundary but tokens
                default -> { }
            }
            sb.append(r.nextBoolean() ? "\n\n" : "\n\n\n");
        }
        return sb.toString();
    }

    @ParameterizedTest
    @MethodSource("vocabularies")
    void everyChunkFitsItsBudgetAndEveryCharacterIsCovered(String vocabulary) {
        GlmTokenizer tok = tokenizer(vocabulary);
        SplittableRandom r = new SplittableRandom(15);
        int multiChunk = 0;
        for (int trial = 0; trial < 60; trial++) {
            String doc = document(r, 1 + r.nextInt(30), 6, 20);
            int budget = 8 + r.nextInt(400);
            int overlap = r.nextInt(3) == 0 ? 0 : r.nextInt(Math.max(1, (budget - 1) / 2));
            List<Chunk> chunks = Chunker.split(tok, doc, budget, overlap);
            String where = vocabulary + " trial " + trial + " (budget " + budget + ", overlap " + overlap + ")";
            assertFalse(chunks.isEmpty(), where);
            assertEquals(0, chunks.getFirst().start(), where);
            assertTrue(chunks.getLast().end() >= doc.stripTrailing().length(), where + ": the content is covered");
            assertFalse(chunks.getLast().text(doc).isBlank(), where + ": trailing whitespace is never a chunk alone");
            for (int i = 0; i < chunks.size(); i++) {
                Chunk c = chunks.get(i);
                assertTrue(c.tokens() <= budget, where + ": chunk " + i + " has " + c.tokens() + " tokens");
                assertEquals(tok.encode(c.text(doc)).length, c.tokens(), where + ": chunk " + i + "'s own count");
                assertTrue(c.end() > c.start(), where);
                if (i > 0) {
                    Chunk prev = chunks.get(i - 1);
                    assertTrue(c.start() > prev.start(), where + ": progress");
                    if (overlap == 0) assertEquals(prev.end(), c.start(), where + ": no gap, no overlap");
                    else assertTrue(c.start() <= prev.end(), where + ": no gap at chunk " + i);
                }
            }
            if (overlap == 0) {
                StringBuilder joined = new StringBuilder();
                chunks.forEach(c -> joined.append(c.text(doc)));
                assertEquals(doc.stripTrailing(), joined.toString().stripTrailing(), where);
            }
            if (chunks.size() > 1) multiChunk++;
        }
        assertTrue(multiChunk > 40, "most trials must split: " + multiChunk);
    }

    @ParameterizedTest
    @MethodSource("vocabularies")
    void paragraphsAreCutBetweenWhenTheyAreShorterThanHalfTheBudget(String vocabulary) {
        GlmTokenizer tok = tokenizer(vocabulary);
        SplittableRandom r = new SplittableRandom(7);
        StringBuilder sb = new StringBuilder();
        for (int p = 0; p < 80; p++) {
            for (int w = 0; w < 5 + r.nextInt(20); w++) sb.append(WORDS[r.nextInt(12)]).append(' ');
            sb.append("end.\n\n");
        }
        String doc = sb.toString();
        int longest = 0;
        for (String paragraph : doc.split("\n\n")) longest = Math.max(longest, tok.encode(paragraph + "\n\n").length);
        int budget = 2 * longest + 8;
        List<Chunk> chunks = Chunker.split(tok, doc, budget, 0);
        assertTrue(chunks.size() > 3, "splits: " + chunks.size());
        for (Chunk c : chunks) {
            assertEquals(Boundary.PARAGRAPH, c.boundary(), "chunk " + c + " must end at a paragraph break");
            assertTrue(c.text(doc).endsWith("\n\n"), "ends at a paragraph: " + c);
        }
    }

    @ParameterizedTest
    @MethodSource("vocabularies")
    void oneLongParagraphIsCutAtSentencesThenWords(String vocabulary) {
        GlmTokenizer tok = tokenizer(vocabulary);
        String sentences = "The party shall pay within thirty days of notice. ".repeat(60);
        for (Chunk c : Chunker.split(tok, sentences, 40, 0)) {
            assertTrue(c.boundary().compareTo(Boundary.SENTENCE) >= 0, c.toString());
            assertTrue(c.text(sentences).trim().endsWith("."), "[" + c.text(sentences) + "] " + c);
        }
        String words = "contract party notice ".repeat(200);
        for (Chunk c : Chunker.split(tok, words, 25, 0)) {
            assertTrue(c.boundary().compareTo(Boundary.WORD) >= 0, c.toString());
        }
        String noSpaces = "abcdefghij".repeat(300);
        List<Chunk> cut = Chunker.split(tok, noSpaces, 16, 0);
        assertTrue(cut.size() > 2, "chunks: " + cut + " of " + tok.encode(noSpaces).length + " tokens");
        cut.forEach(c -> assertTrue(c.tokens() <= 16, c.toString()));
    }

    @Test
    void overlappingChunksStartAtAWordAndRepeatAboutTheOverlap() {
        GlmTokenizer tok = tokenizer("tiny");
        String doc = "contract party notice shall pay ".repeat(300);
        List<Chunk> chunks = Chunker.split(tok, doc, 60, 10);
        assertTrue(chunks.size() > 5);
        for (int i = 1; i < chunks.size(); i++) {
            Chunk prev = chunks.get(i - 1), c = chunks.get(i);
            int shared = tok.encode(doc.substring(c.start(), prev.end())).length;
            assertTrue(shared >= 8 && shared <= 12, "overlap of about 10 tokens, got " + shared + " at chunk " + i);
            assertEquals(' ', doc.charAt(c.start()), "starts at a word (the space belongs to the word's token)");
        }
    }

    @Test
    void aDocumentThatFitsIsOneChunkAndEmptyIsNone() {
        GlmTokenizer tok = tokenizer("tiny");
        List<Chunk> one = Chunker.split(tok, "A short note.", 100, 10);
        assertEquals(1, one.size());
        assertEquals(new Chunk(0, 13, tok.encode("A short note.").length, Boundary.PARAGRAPH), one.getFirst());
        assertEquals(List.of(), Chunker.split(tok, "", 100, 0));
        assertEquals(List.of(), Chunker.split(tok, " \n\t ", 100, 0));
    }

    @Test
    void badSizesAreRejectedWithTheNumbers() {
        GlmTokenizer tok = tokenizer("tiny");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Chunker.split(tok, "x", 0, 0)).getMessage().contains("at least 1"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Chunker.split(tok, "x", 10, -1)).getMessage().contains(">= 0"));
        String m = assertThrows(IllegalArgumentException.class, () -> Chunker.split(tok, "x", 100, 50)).getMessage();
        assertTrue(m.contains("50") && m.contains("100") && m.contains("half"), m);
    }
}
