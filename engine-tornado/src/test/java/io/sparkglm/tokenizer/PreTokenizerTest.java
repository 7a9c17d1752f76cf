package io.sparkglm.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The hand-written scanner against java.util.regex running the exact GLM-4 pattern. */
class PreTokenizerTest {

    /** \s as White_Space and Unicode case folding, as tiktoken's regex engine has them. */
    static final Pattern REFERENCE = Pattern.compile(PreTokenizer.PATTERN, Pattern.UNICODE_CHARACTER_CLASS);

    static List<String> regexPieces(String text) {
        List<String> pieces = new ArrayList<>();
        Matcher m = REFERENCE.matcher(text);
        int last = 0;
        while (m.find()) {
            if (m.start() != last) pieces.add("<GAP:" + text.substring(last, m.start()) + ">");
            pieces.add(m.group());
            last = m.end();
        }
        if (last != text.length()) pieces.add("<GAP:" + text.substring(last) + ">");
        return pieces;
    }

    static List<String> scannerPieces(String text) {
        return scannerPieces(text.toCharArray(), 0, text.length());
    }

    static List<String> scannerPieces(char[] s, int from, int to) {
        List<String> pieces = new ArrayList<>();
        for (int i = from; i < to; ) {
            int end = PreTokenizer.nextPieceEnd(s, i, to);
            assertTrue(end > i && end <= to, "piece must advance");
            pieces.add(new String(s, i, end - i));
            i = end;
        }
        return pieces;
    }

    @Test
    void handPickedEdgeCasesMatchTheRegex() {
        String[] cases = {
                "", "a", " ", "  ", "\n", "\r\n", "I'M DON'T I'm don't 'S 'ſ 'Re 'VE 'lL 'd 'x 'sam",
                " ".repeat(512), " ".repeat(512) + "x", "a" + " ".repeat(7) + "\n\n  \t b",
                "12345678 1234567 ²³½ Ⅳ٣٤", "((hello)) !!\n\n\nworld", "\u0000\u0000a\u0000",
                "\u0301\u0301e\u0301", "😀👍🏽 a😀b", "x\r\n\r\ny\r \n z", "\t\tfoo", " !", " \u3000x",
                "\u00A0word", "a\u2028b", "a \n", "a  ", "a  b", "'\n's", "-\r\n-", "𝐀𝐁 1𝟙",
                "\uD83D lone \uDE00 halves\uD83D", "end with space ", "你好，世界！Hello"};
        for (String text : cases) assertEquals(regexPieces(text), scannerPieces(text), () -> "text: " + text);
    }

    @Test
    void randomStringsMatchTheRegex() {
        SplittableRandom random = new SplittableRandom(20240603);
        for (int n = 0; n < 20_000; n++) {
            String text = n % 5 == 0 ? RandomText.withLoneSurrogates(random, random.nextInt(1, 40))
                    : RandomText.of(random, random.nextInt(0, 60));
            assertEquals(regexPieces(text), scannerPieces(text), () -> "text: " + escape(text));
        }
    }

    /** The parallel mode's premise: cutting at a safe split leaves every piece as it was. */
    @Test
    void cutsAtSafeSplitsKeepEveryPiece() {
        SplittableRandom random = new SplittableRandom(7);
        int splitsChecked = 0;
        for (int n = 0; n < 3_000; n++) {
            String text = n % 2 == 0 ? RandomText.of(random, random.nextInt(2, 80)) : RandomText.document(random, 300);
            char[] s = text.toCharArray();
            List<String> whole = scannerPieces(s, 0, s.length);
            assertEquals(regexPieces(text), whole);
            for (int p = 1; p < s.length; p++) {
                if (!PreTokenizer.isSafeSplit(s, p, s.length)) continue;
                List<String> cut = new ArrayList<>(regexPieces(text.substring(0, p)));
                cut.addAll(regexPieces(text.substring(p)));
                int at = p;
                assertEquals(whole, cut, () -> "cut at " + at + " of " + escape(text));
                splitsChecked++;
            }
        }
        assertTrue(splitsChecked > 10_000, "too few safe splits exercised: " + splitsChecked);
    }

    /** A sanity check on the proof: a cut after a newline that is followed by a space is NOT safe. */
    @Test
    void unsafeCutsReallyChangePieces() {
        String text = "a\n  b";
        List<String> cut = new ArrayList<>(regexPieces("a\n"));
        cut.addAll(regexPieces("  b"));
        assertTrue(!regexPieces(text).equals(cut) || !PreTokenizer.isSafeSplit(text.toCharArray(), 2, 5));
        assertTrue(!PreTokenizer.isSafeSplit(text.toCharArray(), 2, text.length()));
        String word = "ab  cd";  // two spaces: a cut at 2 would give "ab" | " " " cd" instead of "ab" " " " cd"? rule B refuses it
        assertTrue(!PreTokenizer.isSafeSplit(word.toCharArray(), 2, word.length()));
        assertTrue(PreTokenizer.isSafeSplit("ab cd".toCharArray(), 2, 5));
        assertTrue(PreTokenizer.isSafeSplit("a\nb".toCharArray(), 2, 3));
    }

    static String escape(String s) {
        StringBuilder sb = new StringBuilder();
        s.chars().forEach(c -> sb.append(c >= 0x20 && c < 0x7F ? String.valueOf((char) c) : String.format("\\u%04X", c)));
        return sb.toString();
    }
}
