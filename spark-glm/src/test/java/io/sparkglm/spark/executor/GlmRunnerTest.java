package io.sparkglm.spark.executor;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.spark.conf.GlmConfException;
import io.sparkglm.spark.testing.ScriptedEngine;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.spark.resource.ResourceInformation;
import org.junit.jupiter.api.Test;

/** The runner's pure parts, without Spark: GPU address mapping, UTF-8 bound, truncation, model lookup. */
class GlmRunnerTest {

    private static Map<String, ResourceInformation> gpus(String... addresses) {
        return Map.of("gpu", new ResourceInformation("gpu", addresses));
    }

    @Test
    void theTasksGpuBecomesTheDeviceForTornadoAndAutoOnly() {
        assertEquals(1, GlmRunner.assignedDevice("tornado", gpus("1")));
        assertEquals(3, GlmRunner.assignedDevice("auto", gpus("3", "4")));
        assertEquals(-1, GlmRunner.assignedDevice("cpu", gpus("1")));
        assertEquals(-1, GlmRunner.assignedDevice("tornado", Map.of()));
        var e = assertThrows(IllegalStateException.class, () -> GlmRunner.assignedDevice("tornado", gpus("GPU-7f3a")));
        assertTrue(e.getMessage().contains("'GPU-7f3a'"), e.getMessage());
    }

    @Test
    void utf8LengthMatchesTheEncoderOnRandomText() {
        SplittableRandom random = new SplittableRandom(42);
        for (int round = 0; round < 200; round++) {
            StringBuilder s = new StringBuilder();
            for (int i = random.nextInt(50); i > 0; i--) {
                int cp = switch (random.nextInt(4)) {
                    case 0 -> random.nextInt(0x80);
                    case 1 -> 0x80 + random.nextInt(0x780);
                    case 2 -> 0x800 + random.nextInt(0xD000 - 0x800);
                    default -> 0x10000 + random.nextInt(0x10000);
                };
                s.appendCodePoint(cp);
            }
            assertEquals(s.toString().getBytes(StandardCharsets.UTF_8).length, GlmRunner.utf8Length(s.toString()), s.toString());
        }
    }

    @Test
    void cutToFitKeepsTheLongestPrefixItFindsWithinTheBudget() {
        ScriptedEngine engine = new ScriptedEngine(100); // four characters a token
        String text = "0123456789".repeat(500);
        for (int budget : new int[] {1, 10, 77, 1000}) {
            String cut = GlmRunner.cutToFit(engine, text, engine.countTokens(text), budget);
            assertTrue(text.startsWith(cut));
            int tokens = engine.countTokens(cut);
            assertTrue(tokens <= budget && tokens >= budget * 0.9 - 1, tokens + " tokens for budget " + budget);
        }
        String pairs = "\uD83D\uDE00".repeat(100); // never split a surrogate pair
        String cut = GlmRunner.cutToFit(engine, pairs, engine.countTokens(pairs), 7);
        assertFalse(Character.isHighSurrogate(cut.charAt(cut.length() - 1)));
    }

    @Test
    void aMissingModelIsAClearError() {
        var e = assertThrows(GlmConfException.class, () -> ModelLocator.resolve("/no/such/model.gguf"));
        assertTrue(e.getMessage().contains("/no/such/model.gguf") && e.getMessage().contains("--files"), e.getMessage());
    }
}
