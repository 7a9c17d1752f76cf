package io.sparkglm.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/**
 * The one place tests find {@code ../shared} (the oracle models and logits, the real GLM-4 tokenizer).
 * It is always there in CI; on a machine without it the test is skipped with a loud message, never
 * passed silently.
 */
public final class SharedFiles {

    private SharedFiles() {}

    /** The shared folder: -Dglm.shared.dir, else the first ancestor of the working directory with a sibling "shared". */
    public static Path root() {
        String prop = System.getProperty("glm.shared.dir");
        if (prop != null && Files.isDirectory(Path.of(prop, "oracle"))) return Path.of(prop).toAbsolutePath().normalize();
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolveSibling("shared");
            if (Files.isDirectory(candidate.resolve("oracle"))) return candidate.normalize();
        }
        String message = "SKIPPED: ../shared (oracle models, GLM-4 tokenizer) not found; set -Dglm.shared.dir";
        System.err.println("!!!!! " + message + " !!!!!");
        Assumptions.abort(message);
        throw new AssertionError("unreachable");
    }

    public static Path oracle() { return root().resolve("oracle"); }

    public static Path glm4() { return root().resolve("glm4"); }

    public static Path tinyF32() { return oracle().resolve("tiny-glm4-f32.gguf"); }

    public static Path tinyQ8() { return oracle().resolve("tiny-glm4-q8_0.gguf"); }

    public static Path golden() { return oracle().resolve("golden"); }

    public static Path realTokenizer() { return glm4().resolve("tokenizer.model"); }
}
