package io.sparkglm.tokenizer;

/**
 * GLM-4's pre-tokenizer: splits text into the pieces that BPE then encodes one at a time.
 *
 * <p>The reference is the regular expression {@link #PATTERN} (cl100k's, kept by GLM-4), run as
 * tiktoken runs it: leftmost-first alternation, greedy quantifiers, Unicode classes ({@code \s} is the
 * White_Space property, {@code (?i:)} uses Unicode simple case folding, so {@code 'ſ} counts as {@code 's}).
 * java.util.regex on that pattern is several times slower than this hand-written scanner, which
 * decides each piece from the character classes it reads. {@code PreTokenizerTest} checks the scanner
 * against {@code Pattern.compile(PATTERN, UNICODE_CHARACTER_CLASS)} on many random strings.
 *
 * <p>The scanner works on UTF-16 code units. An unpaired surrogate is classed as "other" (neither
 * letter, number nor space), exactly how U+FFFD, which it becomes when encoded to UTF-8, is classed.
 */
final class PreTokenizer {

    /** The GLM-4 pre-tokenizer regex, verbatim from ../shared/glm4/FACTS.md. */
    static final String PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    // Character classes as the regex sees them. CRLF is the part of \s that [\r\n] names.
    static final byte OTHER = 0, LETTER = 1, NUMBER = 2, SPACE = 3, CRLF = 4;

    private static final byte[] BMP_CLASS = new byte[65536];

    static {
        for (int c = 0; c < 65536; c++) BMP_CLASS[c] = classifySlow(c);
    }

    private PreTokenizer() {}

    private static byte classifySlow(int cp) {
        if (cp == '\r' || cp == '\n') return CRLF;
        if (isWhiteSpace(cp)) return SPACE;
        if (Character.isSurrogate((char) cp) && cp < 65536) return OTHER; // lone halves; pairs handled by classAt
        if (Character.isLetter(cp)) return LETTER;
        int type = Character.getType(cp);
        if (type == Character.DECIMAL_DIGIT_NUMBER || type == Character.LETTER_NUMBER
                || type == Character.OTHER_NUMBER) return NUMBER;
        return OTHER;
    }

    /** The Unicode White_Space property (what {@code \s} means in tiktoken and with UNICODE_CHARACTER_CLASS). */
    static boolean isWhiteSpace(int cp) {
        return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680
                || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F
                || cp == 0x205F || cp == 0x3000;
    }

    /** Class of the code point starting at {@code i} (a surrogate pair is one code point). */
    static byte classAt(char[] s, int i, int end) {
        char c = s[i];
        if (Character.isHighSurrogate(c) && i + 1 < end && Character.isLowSurrogate(s[i + 1])) {
            return classifySlow(Character.toCodePoint(c, s[i + 1]));
        }
        return BMP_CLASS[c];
    }

    /** Width in chars of the code point starting at {@code i}. */
    static int widthAt(char[] s, int i, int end) {
        return Character.isHighSurrogate(s[i]) && i + 1 < end && Character.isLowSurrogate(s[i + 1]) ? 2 : 1;
    }

    /**
     * End (exclusive) of the piece that starts at {@code i}. Every position starts a piece (each code
     * point is a letter, number, space or "other", and some alternative accepts each), so pieces tile
     * the text. The branches follow the regex alternatives in their order.
     */
    static int nextPieceEnd(char[] s, int i, int end) {
        char c = s[i];
        // 1: (?i:'s|'t|'re|'ve|'m|'ll|'d)
        if (c == '\'' && i + 1 < end) {
            int contraction = contractionEnd(s, i + 1, end);
            if (contraction > 0) return contraction;
        }
        byte cls = classAt(s, i, end);
        int w = widthAt(s, i, end);
        switch (cls) {
            case LETTER:                                   // 2: \p{L}+ (the optional prefix cannot be a letter)
                return lettersEnd(s, i, end);
            case NUMBER:                                   // 3: \p{N}{1,3}
                return numbersEnd(s, i, end);
            case OTHER:
                if (i + w < end && classAt(s, i + w, end) == LETTER) return lettersEnd(s, i + w, end); // 2
                return crlfEnd(s, othersEnd(s, i, end), end);                                            // 4
            default: // SPACE or CRLF
                if (cls == SPACE && i + 1 < end) {
                    byte next = classAt(s, i + 1, end);
                    if (next == LETTER) return lettersEnd(s, i + 1, end);                       // 2
                    if (c == ' ' && next == OTHER) return crlfEnd(s, othersEnd(s, i + 1, end), end); // 4
                }
                return whitespaceEnd(s, i, end);
        }
    }

    /** Alternatives 5, 6, 7 on the whitespace run starting at {@code i} (every White_Space char is one UTF-16 unit). */
    private static int whitespaceEnd(char[] s, int i, int end) {
        int j = i;
        int lastCrlf = -1;
        while (j < end) {
            byte k = BMP_CLASS[s[j]];
            if (k == CRLF) lastCrlf = j;
            else if (k != SPACE) break;
            j++;
        }
        if (lastCrlf >= 0) return lastCrlf + 1;     // 5: \s*[\r\n]+ backtracks to the run's last CR/LF
        if (j == end || j - i == 1) return j;       // 6 at the text's end, else 7 for a single space
        return j - 1;                               // 6: \s+(?!\S) leaves the last space for the next piece
    }

    private static int contractionEnd(char[] s, int j, int end) {
        char a = s[j];
        if (a == 's' || a == 'S' || a == '\u017F' || a == 't' || a == 'T' || a == 'm' || a == 'M'
                || a == 'd' || a == 'D') return j + 1;
        if (j + 1 < end) {
            char b = s[j + 1];
            if ((a == 'r' || a == 'R' || a == 'v' || a == 'V') && (b == 'e' || b == 'E')) return j + 2;
            if ((a == 'l' || a == 'L') && (b == 'l' || b == 'L')) return j + 2;
        }
        return -1;
    }

    private static int lettersEnd(char[] s, int i, int end) {
        while (i < end) {
            char c = s[i];
            if (c < 0xD800) {               // fast path: no surrogate
                if (BMP_CLASS[c] != LETTER) return i;
                i++;
            } else {
                if (classAt(s, i, end) != LETTER) return i;
                i += widthAt(s, i, end);
            }
        }
        return i;
    }

    private static int numbersEnd(char[] s, int i, int end) {
        for (int n = 0; n < 3 && i < end && classAt(s, i, end) == NUMBER; n++) i += widthAt(s, i, end);
        return i;
    }

    private static int othersEnd(char[] s, int i, int end) {
        while (i < end && classAt(s, i, end) == OTHER) i += widthAt(s, i, end);
        return i;
    }

    private static int crlfEnd(char[] s, int i, int end) {
        while (i < end && (s[i] == '\r' || s[i] == '\n')) i++;
        return i;
    }

    /**
     * Whether the text may be cut at {@code p} (0 < p < end) without changing any piece: the pieces of
     * {@code s[0, p)} and {@code s[p, end)}, each scanned alone, are exactly the pieces of the whole text.
     *
     * <p>Rule A: {@code s[p-1]} is CR or LF and {@code s[p]} is not White_Space. Proof: no piece can
     * contain a CR/LF and continue past it into a non-space: alternatives 1-3 contain no CR/LF and 2's
     * optional first char excludes them; 4's {@code [\r\n]*} tail stops at a non-CR/LF; a piece that
     * starts inside the whitespace run ending at p-1 is 5 (2 needs a letter right after a non-CR/LF
     * space, 4 a non-space right after a space, and inside the run the next char is a space, while
     * s[p-1] is a CR/LF), which ends right after the run's last CR/LF, at p. So p is a piece boundary.
     * Scanning {@code s[0, p)} alone: every decision above only read chars before p, or read s[p] and
     * found "not CR/LF, not space" where the cut text finds "end of text", which every alternative
     * treats alike here (4's tail stops, the run ends, 5 ends at its last CR/LF); 6, the only
     * alternative whose result differs at the end of the text, is never reached because 5 matched.
     * The pieces from p on read only chars at or after p (the regex has no look-behind).
     *
     * <p>Rule B: {@code s[p-1]} is a letter, {@code s[p]} is U+0020 and {@code s[p+1]} is a letter.
     * Proof: the piece holding s[p-1] is 1 or 2 (the only ones that hold letters); 2's {@code \p{L}+}
     * stops at the space; 1 ends at most 3 chars after its quote and only on letters, so it ends by p.
     * From p, " x" is alternative 2. Cut alone, 2 stops at the end of text as it stopped at the space,
     * and 1 fails on a missing char as it failed on the space.
     *
     * <p>{@code PreTokenizerTest.cutsAtSafeSplitsKeepEveryPiece} checks both rules on random texts.
     */
    static boolean isSafeSplit(char[] s, int p, int end) {
        if (p <= 0 || p >= end) return false;
        char before = s[p - 1];
        if (before == '\n' || before == '\r') return !isWhiteSpace(s[p]);
        return s[p] == ' ' && p + 1 < end && BMP_CLASS[before] == LETTER && classAt(s, p + 1, end) == LETTER
                && !Character.isSurrogate(before);
    }

    /** The first safe split at or after {@code from}, or {@code end} when there is none before {@code limit}. */
    static int nextSafeSplit(char[] s, int from, int limit, int end) {
        for (int p = Math.max(from, 1); p < Math.min(limit, end); p++) {
            if (isSafeSplit(s, p, end)) return p;
        }
        return end;
    }
}
