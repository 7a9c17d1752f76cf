package io.sparkglm.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkglm.testing.TestTokenizers;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ForkJoinPool;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Round trips, parallel == sequential, the two BPE loops against a naive one, streaming, odd input. */
class GlmTokenizerPropertiesTest {

    static GlmTokenizer tiny;

    @BeforeAll
    static void load() {
        tiny = TestTokenizers.tiny();
    }

    /** The real vocabulary, asked for per test: without it only the tests that need it are skipped. */
    static GlmTokenizer real() {
        return TestTokenizers.real();
    }

    @Test
    void decodeOfEncodeIsIdentityOnRandomText() {
        SplittableRandom random = new SplittableRandom(42);
        for (int n = 0; n < 3_000; n++) {
            String text = RandomText.of(random, random.nextInt(0, 120));
            assertEquals(text, real().decode(real().encode(text)), () -> PreTokenizerTest.escape(text));
            assertEquals(text, tiny.decode(tiny.encode(text)), () -> PreTokenizerTest.escape(text));
        }
    }

    @Test
    void parallelEqualsSequentialOnLongDocuments() {
        SplittableRandom random = new SplittableRandom(99);
        ForkJoinPool pool = new ForkJoinPool(4);
        try {
            for (int n = 0; n < 4; n++) {
                String text = n % 2 == 0 ? RandomText.document(random, 400_000)
                        : RandomText.of(random, 200_000).replace('\u2028', '\n');
                int[] sequential = real().encode(text);
                int[] parallel = real().encodeParallel(text, pool);
                assertArrayEquals(sequential, parallel, "document " + n);
                assertTrue(GlmTokenizer.chunkBounds(text.toCharArray(), GlmTokenizer.PARALLEL_MIN_CHARS / 4).length > 4,
                        "the document must really be split");
                assertArrayEquals(tiny.encode(text), tiny.encodeParallel(text, pool));
            }
            assertArrayEquals(real().encode("short"), real().encode("short", true));
        } finally {
            pool.shutdown();
        }
    }

    /** Linear and heap BPE loops against a naive tiktoken merge written from its definition. */
    @Test
    void bpeLoopsMatchNaiveMergeOnLongPieces() throws Exception {
        var ranksField = GlmTokenizer.class.getDeclaredField("ranks");
        ranksField.setAccessible(true);
        RankTable ranks = (RankTable) ranksField.get(real());
        int[] identity = new int[ranks.size()];
        Arrays.setAll(identity, i -> i);
        BytePairEncoder linear = new BytePairEncoder(ranks, identity, Integer.MAX_VALUE);
        BytePairEncoder heap = new BytePairEncoder(ranks, identity, 2);
        SplittableRandom random = new SplittableRandom(5);
        for (int n = 0; n < 400; n++) {
            String text = n % 3 == 0 ? "长文本测试北京是中华人民共和国的首都也是全国的政治中心".repeat(1 + random.nextInt(3))
                    : RandomText.of(random, random.nextInt(2, 200));
            byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
            if (bytes.length < 2) continue;
            IntList a = new IntList(8), b = new IntList(8);
            linear.encode(bytes, bytes.length, a);
            heap.encode(bytes, bytes.length, b);
            int[] expected = naiveMerge(ranks, bytes);
            assertArrayEquals(expected, a.toArray(), () -> "linear: " + PreTokenizerTest.escape(text));
            assertArrayEquals(expected, b.toArray(), () -> "heap: " + PreTokenizerTest.escape(text));
        }
    }

    private static int[] naiveMerge(RankTable ranks, byte[] bytes) {
        List<byte[]> parts = new ArrayList<>();
        for (byte x : bytes) parts.add(new byte[] {x});
        while (true) {
            int best = Integer.MAX_VALUE, at = -1;
            for (int i = 0; i + 1 < parts.size(); i++) {
                byte[] joined = concat(parts.get(i), parts.get(i + 1));
                int r = ranks.rank(joined, 0, joined.length);
                if (r >= 0 && r < best) { best = r; at = i; }
            }
            if (at < 0) break;
            parts.set(at, concat(parts.get(at), parts.remove(at + 1)));
        }
        return parts.stream().mapToInt(p -> ranks.rank(p, 0, p.length)).toArray();
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    @Test
    void streamingDecoderHoldsBackPartialCharacters() {
        SplittableRandom random = new SplittableRandom(3);
        int heldBack = 0;
        for (int n = 0; n < 500; n++) {
            String text = RandomText.of(random, random.nextInt(1, 80));
            int[] ids = tiny.encode(text);   // tiny vocabulary: Chinese and emoji split into single bytes
            StreamingDecoder stream = tiny.newStreamingDecoder();
            StringBuilder sb = new StringBuilder();
            for (int id : ids) {
                String piece = stream.accept(id);
                assertTrue(piece.indexOf('\uFFFD') < 0 || text.indexOf('\uFFFD') >= 0, "never emits half a character");
                if (stream.pendingBytes() > 0) heldBack++;
                sb.append(piece);
            }
            sb.append(stream.flush());
            assertEquals(text, sb.toString());
        }
        assertTrue(heldBack > 100, "partial characters must have been exercised: " + heldBack);
        // an unfinished character at the end comes out as U+FFFD on flush, as decode() does
        StreamingDecoder stream = tiny.newStreamingDecoder();
        assertEquals("", stream.accept(0xE4));
        assertEquals("\uFFFD", stream.flush());
        assertEquals(tiny.decode(new int[] {0xE4}), "\uFFFD");
    }

    @Test
    void unicodeEdgeCasesRoundTripAndMatchTheSplitRules() {
        Map<String, String> cases = new HashMap<>();
        cases.put("nul", "a\u0000b\u0000");
        cases.put("combining", "\u0301\u0308 e\u0301");
        cases.put("emoji", "👍🏽😀 family 👨‍👩‍👧");
        cases.put("crlf", "line\r\nline\rline\n\r\n\r\n");
        cases.put("spaces", " ".repeat(512));
        cases.put("contractions", "I'M DON'T YOU'RE WE'VE SHE'LL HE'D IT'S");
        for (var e : cases.entrySet()) {
            int[] ids = real().encode(e.getValue());
            assertEquals(e.getValue(), real().decode(ids), e.getKey());
        }
        // digits split in groups of 1-3 from the left; upper-case contractions split like lower-case ones
        List<Integer> cuts = new ArrayList<>();
        int at = 0;
        for (int id : real().encode("1234567")) cuts.add(at += real().tokenBytes(id).length);
        assertTrue(cuts.contains(3) && cuts.contains(6) && cuts.contains(7), "pieces 123|456|7, got token ends " + cuts);
        int[] upper = real().encode("DON'T");
        assertEquals("'T", real().decode(new int[] {upper[upper.length - 1]}));
        // 512 spaces at the end of the text: one piece; BPE gives few tokens, all spaces
        int[] spaces = real().encode(" ".repeat(512));
        assertTrue(spaces.length < 64, "512 spaces took " + spaces.length + " tokens");
    }

    @Test
    void unpairedSurrogatesEncodeAsReplacementCharacter() {
        String lone = "ok\uD83D then \uDE00";
        assertArrayEquals(real().encode("ok\uFFFD then \uFFFD"), real().encode(lone));
        assertEquals("ok\uFFFD then \uFFFD", real().decode(real().encode(lone)));
    }

    @Test
    void nullAndEmptyInput() {
        assertEquals(0, real().encode("").length);
        assertEquals(0, real().encode("", true).length);
        assertEquals("", real().decode(new int[0]));
        NullPointerException e = assertThrows(NullPointerException.class, () -> real().encode(null));
        assertTrue(e.getMessage().contains("null"));
        assertThrows(NullPointerException.class, () -> real().decode(null));
        assertThrows(NullPointerException.class, () -> real().encodeChat(null, true));
        assertThrows(IllegalArgumentException.class, () -> real().decode(new int[] {1, 999_999}));
    }

    @Test
    void chatFormatMultiTurnAndRoles() {
        var messages = List.of(ChatMessage.system("S"), ChatMessage.user("U1"), ChatMessage.assistant("A1"),
                new ChatMessage(ChatMessage.Role.OBSERVATION, "O"), ChatMessage.user("U2"));
        int[] ids = real().encodeChat(messages, true);
        String expected = "[gMASK]<sop><|system|>\nS<|user|>\nU1<|assistant|>\nA1<|observation|>\nO<|user|>\nU2<|assistant|>";
        assertEquals(expected, real().decode(ids));
        assertArrayEquals(real().encodeAllowingSpecials(expected), ids);
        // no generation prompt: ends with the last message's content
        int[] noPrompt = real().encodeChat(messages, false);
        assertArrayEquals(Arrays.copyOf(ids, ids.length - 1), noPrompt);
        // "\n" is encoded apart from content: content starting with newlines differs from a joint encode
        int[] apart = real().encodeChat(List.of(ChatMessage.user("\n\nx")), false);
        int[] tail = Arrays.copyOfRange(apart, 3, apart.length);
        int[] joint = real().encode("\n\n\nx");
        assertTrue(!Arrays.equals(tail, joint), "newline must be encoded apart from the content");
        assertArrayEquals(real().encode("\n"), Arrays.copyOfRange(apart, 3, 4));
    }
}
