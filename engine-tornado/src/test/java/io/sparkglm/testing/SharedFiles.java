package io.sparkglm.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/**
 * The one place tests find their data files.
 * <ul>
 *   <li>In the project, {@code testdata/}: the oracle (tiny GLM-4 models checked against llama.cpp, and llama.cpp's
 *       logits for them) and GLM-4's configs, so a clone runs the suite on any machine.</li>
 *   <li>Outside it: the real GLM-4 tokenizer ({@code tokenizer.model}, {@code tokenizer_config.json}), which the
 *       project may not redistribute. It is read from the {@code glm4/} folder under the one setting
 *       {@code -Dglm.shared.dir} (default: {@code shared/} beside the checkout); where it is absent the tests that
 *       need it are skipped with a loud message, never passed silently.</li>
 * </ul>
 */
public final class SharedFiles {

    private SharedFiles() {}

    private static Path testdata;

    /**
     * The project's {@code testdata/} folder: the first ancestor of the working directory holding it, since
     * Maven runs tests in the module's folder and IDEs or bin/gpu-check in the project's.
     */
    public static synchronized Path testdata() {
        if (testdata == null) {
            for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
                Path candidate = dir.resolve("testdata");
                if (Files.isRegularFile(candidate.resolve("oracle/tiny-glm4-f32.gguf"))) {
                    testdata = candidate.normalize();
                    break;
                }
            }
            if (testdata == null) {
                throw new IllegalStateException("testdata/oracle not found above " + Path.of("").toAbsolutePath()
                        + ": run the tests from inside the project");
            }
        }
        return testdata;
    }

    public static Path oracle() { return testdata().resolve("oracle"); }

    public static Path tinyF32() { return oracle().resolve("tiny-glm4-f32.gguf"); }

    public static Path tinyQ8() { return oracle().resolve("tiny-glm4-q8_0.gguf"); }

    public static Path golden() { return oracle().resolve("golden"); }

    /** The project's config.json of glm-4-9b-chat-1m (4 KV groups, RoPE base 1e8, 1M context). */
    public static Path config1M() { return testdata().resolve("glm4-configs/glm-4-9b-chat-1m.json"); }

    /** The project's config.json of glm-4-9b-chat (2 KV groups, RoPE base 5e6, 128K context). */
    public static Path configChat() { return testdata().resolve("glm4-configs/glm-4-9b-chat.json"); }

    /** The folder holding the real GLM-4 tokenizer.model and tokenizer_config.json; skips the test when absent. */
    public static Path glm4() {
        String setting = System.getProperty("glm.shared.dir");
        Path shared = setting != null && !setting.isBlank() ? Path.of(setting) : testdata().getParent().resolveSibling("shared");
        Path glm4 = shared.resolve("glm4").toAbsolutePath().normalize();
        if (!Files.isRegularFile(glm4.resolve("tokenizer.model"))) {
            String message = "SKIPPED: the real GLM-4 tokenizer (" + glm4.resolve("tokenizer.model") + ") is absent; "
                    + "it cannot ship with the project (licence): point -Dglm.shared.dir at a folder whose glm4/ holds "
                    + "glm-4-9b-chat-1m's tokenizer.model and tokenizer_config.json";
            System.err.println("!!!!! " + message + " !!!!!");
            Assumptions.abort(message);
        }
        return glm4;
    }

    public static Path realTokenizer() { return glm4().resolve("tokenizer.model"); }
}
