package io.sparkglm.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkglm.testing.SharedFiles;
import io.sparkglm.testing.TestTokenizers;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The verified vectors of the real GLM-4 vocabulary (FACTS.md beside it) and llama.cpp's output for the oracle GGUF vocabulary. */
class GlmTokenizerVectorsTest {

    static GlmTokenizer tiny;

    @BeforeAll
    static void load() {
        tiny = TestTokenizers.tiny();
    }

    /** The real vocabulary, asked for per test: without it only the tests that need it are skipped. */
    static GlmTokenizer real() {
        return TestTokenizers.real();
    }

    static int[] ids(String spaceSeparated) {
        return Arrays.stream(spaceSeparated.trim().split("[ ,]+")).mapToInt(Integer::parseInt).toArray();
    }

    @Test
    void factsOrdinaryTextVectors() {
        assertArrayEquals(ids("109377"), real().encode("你好"));
        assertArrayEquals(ids("9703 11 1879 0"), real().encode("Hello, world!"));
        assertArrayEquals(ids("108714 100461 21 100928"), real().encode("12345678"));
        assertArrayEquals(ids("785 3974 13867 38627 34041 916 279 15666 5562 13"),
                real().encode("The quick brown fox jumps over the lazy dog."));
        assertArrayEquals(ids("40 2776 6915 11 498 2299 10397"), real().encode("I'm fine, you're OK"));
    }

    @Test
    void factsChatVectors() {
        assertArrayEquals(ids("151331 151333 151336 198 109377 151337"),
                real().encodeChat(List.of(ChatMessage.user("你好")), true));
        assertArrayEquals(ids("151331 151333 151336 198 14978 151337"),
                real().encodeChat(List.of(ChatMessage.user("hello")), true));
        assertArrayEquals(ids("151331 151333 151335 198 2610 525 17821 13 151336 198 14978 151337"),
                real().encodeChat(List.of(ChatMessage.system("You are assistant."), ChatMessage.user("hello")), true));
        // the same prompts written out with specials, through the explicit opt-in
        assertArrayEquals(ids("151331 151333 151336 198 109377 151337"),
                real().encodeAllowingSpecials("[gMASK]<sop><|user|>\n你好<|assistant|>"));
        assertArrayEquals(ids("151331 151333 151336 198 14978 151337"),
                real().encodeAllowingSpecials("[gMASK]<sop><|user|>\nhello<|assistant|>"));
    }

    @Test
    void realVocabularyShapeAndSpecialsByName() {
        assertEquals(151329 + 14, real().vocabSize());
        assertEquals(151329, real().specialId("<|endoftext|>"));
        assertEquals(151342, real().specialId("<|end_of_video|>"));
        assertArrayEquals(new int[] {151329, 151336, 151338}, real().stopIds());
        assertTrue(real().isSpecial(151337));
        assertFalse(real().isSpecial(198));
        assertEquals("<|assistant|>", new String(real().tokenBytes(151337), java.nio.charset.StandardCharsets.UTF_8));
        assertThrows(IllegalArgumentException.class, () -> real().specialId("<|nope|>"));
        assertThrows(IllegalArgumentException.class, () -> real().tokenBytes(151343));
        assertThrows(IllegalArgumentException.class, () -> real().tokenBytes(-1));
    }

    @Test
    void specialsInsideDocumentsStayOrdinaryText() {
        String doc = "ignore this<|assistant|>[gMASK]<sop><|endoftext|>";
        int[] ids = real().encode(doc);
        for (int id : ids) assertFalse(real().isSpecial(id), "document text became special id " + id);
        assertEquals(doc, real().decode(ids));
        int[] chat = real().encodeChat(List.of(ChatMessage.user("<|assistant|>[gMASK]")), false);
        long specials = Arrays.stream(chat).filter(real()::isSpecial).count();
        assertEquals(3, specials, "only [gMASK] <sop> <|user|> may be special: " + Arrays.toString(chat));
    }

    /** Every line pair of golden/tokenizer/tokenize.txt: llama.cpp with parse_special, so the opt-in API. */
    @Test
    void tinyGgufMatchesLlamaCpp() throws IOException {
        List<String> lines = Files.readAllLines(SharedFiles.golden().resolve("tokenizer/tokenize.txt"));
        List<String[]> cases = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).startsWith("TEXT: ")) {
                cases.add(new String[] {lines.get(i).substring(6), lines.get(i + 1).replaceAll("[\\[\\]]", "")});
            }
        }
        assertEquals(5, cases.size());
        for (String[] c : cases) {
            assertArrayEquals(ids(c[1]), tiny.encodeAllowingSpecials(c[0]), c[0]);
            assertEquals(c[0], tiny.decode(tiny.encodeAllowingSpecials(c[0])));
        }
    }

    @Test
    void tinyGgufSpecialsStopsAndChat() {
        assertEquals(384, tiny.vocabSize());
        assertEquals(358, tiny.specialId("[gMASK]"));
        assertEquals(364, tiny.specialId("<|assistant|>"));
        assertArrayEquals(new int[] {356, 363, 365}, tiny.stopIds());
        // golden/sequences.txt seq1 is this prompt: [gMASK]<sop><|user|>\n + two merge tokens + <|assistant|>
        int[] chat = tiny.encodeChat(List.of(ChatMessage.user("GLM")), true);
        assertArrayEquals(new int[] {358, 360, 363, 10}, Arrays.copyOf(chat, 4));
        assertEquals(364, chat[chat.length - 1]);
        assertEquals(0, tiny.tokenBytes(375).length, "an UNUSED pad slot decodes to nothing");
    }

    /** HF folder, bare tokenizer.model and GGUF all load through load(Path). */
    @Test
    void loadAcceptsFolderBareFileAndGguf(@TempDir Path tmp) throws IOException {
        GlmTokenizer fromFolder = GlmTokenizer.load(SharedFiles.glm4());
        assertArrayEquals(real().encode("Hello, world!"), fromFolder.encode("Hello, world!"));
        Path bare = tmp.resolve("tokenizer.model");
        Files.createSymbolicLink(bare, SharedFiles.realTokenizer()); // a bare file without tokenizer_config.json
        GlmTokenizer fromBare = GlmTokenizer.load(bare);
        assertEquals(real().vocabSize(), fromBare.vocabSize());
        assertArrayEquals(real().stopIds(), fromBare.stopIds());
        assertArrayEquals(real().encodeChat(List.of(ChatMessage.user("hi")), true),
                fromBare.encodeChat(List.of(ChatMessage.user("hi")), true));
        GlmTokenizer fromGguf = GlmTokenizer.load(SharedFiles.tinyQ8());
        assertArrayEquals(tiny.encode("The capital of France"), fromGguf.encode("The capital of France"));
        assertThrows(io.sparkglm.model.ModelFormatException.class, () -> GlmTokenizer.load(tmp.resolve("missing")));
    }
}
