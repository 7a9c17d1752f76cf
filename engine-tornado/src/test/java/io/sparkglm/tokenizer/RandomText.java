package io.sparkglm.tokenizer;

import java.util.SplittableRandom;

/** Seeded random text that hits every branch of the pre-tokenizer: mixed scripts, spaces, digits, quotes. */
final class RandomText {

    // letters (ASCII, Latin-1, long s, Greek, Cyrillic, CJK, Hangul, Arabic, a supplementary letter),
    // numbers (ASCII, superscript, Roman, Arabic-Indic, a supplementary digit), White_Space of every
    // kind, apostrophes and contraction letters, punctuation, symbols, combining marks, NUL, emoji.
    private static final int[][] GROUPS = {
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".codePoints().toArray(),
            "éüßçÅñøſΩαβЖжд你好世界中文字汉語한국어مرحبا".codePoints().toArray(),
            {0x1D400, 0x20000, 0x2F800},
            "0123456789".codePoints().toArray(),
            {0xB2, 0xBD, 0x2163, 0x0663, 0x1D7D9},
            {' ', ' ', ' ', '\t', '\n', '\r', 0x0B, 0x0C, 0x85, 0xA0, 0x1680, 0x2003, 0x2028, 0x2029, 0x202F, 0x3000},
            "'''sStTrReEvVmMlLdD".codePoints().toArray(),
            "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~，。！？「」—…".codePoints().toArray(),
            {0x0301, 0x0308, 0x200D, 0xFE0F, 0, 0xFFFD, 0x1F600, 0x1F468, 0x1F3FD, 0x00AD},
    };

    private RandomText() {}

    /** Random valid UTF-16 text of {@code length} code points. */
    static String of(SplittableRandom random, int length) {
        StringBuilder sb = new StringBuilder(length * 2);
        int[] group = GROUPS[0];
        for (int i = 0; i < length; i++) {
            if (random.nextInt(4) == 0) group = GROUPS[random.nextInt(GROUPS.length)];  // runs within a script
            sb.appendCodePoint(group[random.nextInt(group.length)]);
        }
        return sb.toString();
    }

    /** Like {@link #of}, but sometimes with an unpaired surrogate. */
    static String withLoneSurrogates(SplittableRandom random, int length) {
        StringBuilder sb = new StringBuilder(of(random, length));
        for (int k = random.nextInt(3); k >= 0; k--) {
            sb.insert(random.nextInt(sb.length() + 1), random.nextBoolean() ? '\uD83D' : '\uDE00');
        }
        return sb.toString();
    }

    /** A realistic multilingual document: prose, code, numbers, Chinese paragraphs, blank lines. */
    static String document(SplittableRandom random, int approxChars) {
        String[] paragraphs = {
                "The quick brown fox jumps over the lazy dog. It's 12:45 and the price is $3,141.59 (incl. 20% VAT).\n",
                "GLM-4 是智谱AI推出的新一代预训练模型。在语义、数学、推理、代码和知识等多方面的数据集测评中表现出较高的性能。\n",
                "    def main():\n        print(\"hello, world\")  # I'M DONE, DON'T WAIT\r\n        return 0\n\n",
                "Grüße aus München — naïve café, señor. Привет, мир! Γειά σου κόσμε. こんにちは世界。\n",
                "   \n\t\n" + " ".repeat(40) + "indented after blank lines 😀👍🏽 emoji and 1234567890 digits\n",
                "长文本测试：北京是中华人民共和国的首都，也是全国的政治中心、文化中心。上海是中国最大的城市。\n",
        };
        StringBuilder sb = new StringBuilder(approxChars + 256);
        while (sb.length() < approxChars) {
            if (random.nextInt(10) == 0) sb.append(of(random, 30)).append('\n');
            else sb.append(paragraphs[random.nextInt(paragraphs.length)]);
        }
        return sb.toString();
    }
}
