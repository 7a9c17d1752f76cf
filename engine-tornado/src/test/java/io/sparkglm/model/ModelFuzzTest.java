package io.sparkglm.model;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A few hundred cases of the seeded model fuzz corpus ({@link ModelFuzzer}; the full corpus is
 * {@code bin/fuzz-models}): every mutated GGUF file and Hugging Face folder loads or is rejected with a
 * {@link ModelFormatException}, within the time limit and without allocating beyond its own size plus
 * {@link ModelFuzzer#ALLOWANCE}. A failure prints the case's mutation and the command that replays it.
 */
class ModelFuzzTest {

    private static final long SEED = 20_250_601L;

    @TempDir
    static Path dir;

    private static ModelFuzzer fuzzer;

    @BeforeAll
    static void seeds() throws Exception {
        fuzzer = new ModelFuzzer(dir, SEED, ModelFuzzer.DEFAULT_TIMEOUT_MS);
    }

    @AfterAll
    static void close() {
        if (fuzzer != null) fuzzer.close();
    }

    private static ModelFuzzer.Summary run(int gguf, int safetensors) {
        List<ModelFuzzer.Outcome> outcomes = new ArrayList<>();
        ModelFuzzer.Summary summary = fuzzer.runCorpus(gguf, safetensors, outcomes::add);
        assertEquals(gguf + safetensors, outcomes.size());
        if (!summary.failures.isEmpty()) {
            StringBuilder report = new StringBuilder(summary.failures.size() + " fuzz case(s) failed:\n");
            for (ModelFuzzer.Outcome o : summary.failures) report.append(o).append('\n');
            fail(report.toString());
        }
        return summary;
    }

    @Test
    void mutatedGgufFilesLoadOrFailCleanly() {
        ModelFuzzer.Summary s = run(400, 0);
        int[] c = s.counts.get(ModelFuzzer.Kind.GGUF);
        assertEquals(400, c[0]);
        // the mutations reach deep into the format: many distinct rejections, and some harmless mutations load
        assertTrue(c[2] > 200, "most mutations must be rejected: " + c[2]);
        assertTrue(c[1] > 0, "harmless mutations (shuffled keys, extra data) still load");
        assertTrue(s.categories.size() > 25, "rejections should be varied: " + s.categories.keySet());
        assertTrue(s.tokenizerLoaded > 0 && s.tokenizerRejected > 0);
        assertTrue(s.slowest.nanos() < ModelFuzzer.DEFAULT_TIMEOUT_MS * 1_000_000);
    }

    @Test
    void mutatedSafetensorsFoldersLoadOrFailCleanly() {
        ModelFuzzer.Summary s = run(0, 200);
        int[] c = s.counts.get(ModelFuzzer.Kind.SAFETENSORS);
        assertEquals(200, c[0]);
        assertTrue(c[2] > 100, "most mutations must be rejected: " + c[2]);
        assertTrue(s.categories.size() > 15, "rejections should be varied: " + s.categories.keySet());
    }

    @Test
    void casesAreReproducible() {
        for (int i : new int[] {0, 7, 123}) {
            assertEquals(fuzzer.run(ModelFuzzer.Kind.GGUF, i).mutation(), fuzzer.run(ModelFuzzer.Kind.GGUF, i).mutation());
            assertArrayEquals(fuzzer.files(ModelFuzzer.Kind.GGUF, i).get("case.gguf"), fuzzer.files(ModelFuzzer.Kind.GGUF, i).get("case.gguf"));
            var a = fuzzer.run(ModelFuzzer.Kind.SAFETENSORS, i);
            var b = fuzzer.run(ModelFuzzer.Kind.SAFETENSORS, i);
            assertEquals(a.mutation(), b.mutation());
            assertEquals(a.rejection(), b.rejection());
        }
    }
}
