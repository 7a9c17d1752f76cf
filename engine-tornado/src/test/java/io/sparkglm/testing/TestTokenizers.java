package io.sparkglm.testing;

import io.sparkglm.model.GgufFile;
import io.sparkglm.tokenizer.GlmTokenizer;

/**
 * The two tokenizers tests use, loaded once per test JVM (GlmTokenizer is immutable and thread-safe):
 * the real GLM-4 vocabulary (SharedFiles.realTokenizer(), outside the project) and the oracle GGUF's tiny vocabulary.
 */
public final class TestTokenizers {

    private TestTokenizers() {}

    private static GlmTokenizer real, tiny;

    public static synchronized GlmTokenizer real() {
        if (real == null) real = GlmTokenizer.fromTiktoken(SharedFiles.realTokenizer());
        return real;
    }

    public static synchronized GlmTokenizer tiny() {
        if (tiny == null) {
            try (GgufFile gguf = GgufFile.open(SharedFiles.tinyF32())) {
                tiny = GlmTokenizer.fromGguf(gguf);
            }
        }
        return tiny;
    }
}
