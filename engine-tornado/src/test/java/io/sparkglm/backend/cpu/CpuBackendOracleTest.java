package io.sparkglm.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkglm.backend.Backend;
import io.sparkglm.backend.Backend.Step;
import io.sparkglm.backend.BackendOptions;
import io.sparkglm.backend.SequenceCache;
import io.sparkglm.generate.Sampler;
import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.ModelLoader;
import io.sparkglm.testing.Oracle;
import io.sparkglm.testing.SharedFiles;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The CPU forward pass against llama.cpp's logits for the tiny random GLM-4 models: every prefill
 * position, incremental decode along the greedy path, and the 20 greedy ids exactly.
 *
 * <p>Each case names the kernel the prompt goes through: "decode" computes the prompt tokens as generated
 * tokens are (the decode kernel: per-block integer sums in float lanes, then lane sums), "panels" by the
 * prompt kernel (a float GEMM on unpacked weights). F32 stays within 1e-4 either way. With Q8_0 both kernels
 * round differently from llama.cpp (its AVX2 lanes sum four adjacent columns; ours pair two, and the panel
 * kernel has no lanes at all; emulating ggml's lanes exactly measured 50% slower decode), and a difference of
 * one ulp can move an activation across a rounding tie of its int8 quantization (x * 127/amax at .5), which
 * shifts that position's logits by ~1e-2 (and, through its KV entry, later positions a little). Such ties are
 * rare, so Q8_0 cases allow them in at most one row in five and never beyond {@link #TIE} (measured: seq1's
 * decode rows 9, 12 and 19 at 0.016, 0.005 and 0.020, seq2's prefill row 26 at 0.026; every other row within
 * 5e-7); greedy ids must still match exactly.
 */
class CpuBackendOracleTest {

    /** Largest logit shift one flipped int8 activation rounding may cause in these tiny models. */
    private static final double TIE = 0.05;

    @ParameterizedTest(name = "{0} prefill by {3}, threads={2}")
    @CsvSource({"f32, 1e-4, 2, panels", "f32, 1e-4, 1, panels", "f32, 1e-4, 2, decode", "q8_0, 1e-3, 2, decode",
            "q8_0, 1e-3, 2, panels", "f32-kvf16-fa, 5e-3, 2, panels"})
    void prefillLogitsMatchEveryPosition(String variant, double tolerance, int threads, String kernel) {
        String kv = variant.contains("kvf16") ? "f16" : "f32";
        try (Checkpoint ckpt = ModelLoader.open(model(variant));
             Backend backend = new CpuBackend(ckpt, new BackendOptions(threads, kv, -1))) {
            List<int[]> seqs = Oracle.sequences();
            for (int s = 0; s < seqs.size(); s++) {
                int[] ids = seqs.get(s);
                float[][] golden = Oracle.logits(variant, s, "prefill");
                try (SequenceCache cache = backend.newSequence(ids.length)) {
                    float[] all = backend.forward(List.of(new Step(cache, ids, true, kernel.equals("panels")))).getFirst();
                    int vocab = backend.config().vocabSize();
                    List<float[]> rows = new ArrayList<>();
                    for (int p = 0; p < ids.length; p++) rows.add(Arrays.copyOfRange(all, p * vocab, (p + 1) * vocab));
                    assertRowsMatch(variant + " seq" + s + " prefill", rows, golden, tolerance, allowsTies(variant, kernel));
                }
            }
        }
    }

    @ParameterizedTest(name = "{0} greedy + decode rows, prefill chunk {2} by {3}")
    @CsvSource({"f32, 1e-4, 0, panels", "f32, 1e-4, 1, panels", "q8_0, 1e-3, 0, decode", "q8_0, 1e-3, 3, decode",
            "q8_0, 1e-3, 0, panels", "q8_0, 1e-3, 3, panels"})
    void greedyIdsAndDecodeLogitsMatch(String variant, double tolerance, int prefillChunk, String kernel) {
        try (Checkpoint ckpt = ModelLoader.open(model(variant));
             Backend backend = new CpuBackend(ckpt, new BackendOptions(2, "f32", -1))) {
            List<int[]> seqs = Oracle.sequences();
            for (int s = 0; s < seqs.size(); s++) {
                int[] ids = seqs.get(s);
                int[] expected = Oracle.greedy(variant, s);
                float[][] decodeRows = Oracle.logits(variant, s, "decode");
                try (SequenceCache cache = backend.newSequence(ids.length + expected.length)) {
                    float[] last = prefill(backend, cache, ids, prefillChunk, kernel.equals("panels"));
                    int[] got = new int[expected.length];
                    List<float[]> rows = new ArrayList<>();
                    for (int i = 0; i < expected.length; i++) {
                        got[i] = Sampler.argmax(last);
                        last = backend.forward(List.of(Step.decode(cache, got[i]))).getFirst();
                        rows.add(last);
                    }
                    assertArrayEquals(expected, got, variant + " seq" + s + " greedy ids");
                    assertRowsMatch(variant + " seq" + s + " decode", rows, decodeRows, tolerance, allowsTies(variant, kernel));
                }
            }
        }
    }

    private static boolean allowsTies(String variant, String kernel) {
        return variant.startsWith("q8_0");
    }

    /** Every row within {@code tolerance}; with {@code ties}, up to one row in five may be off by a flipped int8 rounding. */
    private static void assertRowsMatch(String what, List<float[]> rows, float[][] golden, double tolerance, boolean ties) {
        int over = 0;
        for (int p = 0; p < rows.size(); p++) {
            double diff = Oracle.maxAbsDiff(rows.get(p), golden[p]);
            if (diff <= tolerance) continue;
            over++;
            assertTrue(ties && diff <= TIE, what + " row " + p + ": max |diff| " + diff);
        }
        assertTrue(over <= rows.size() / 5, what + ": " + over + " of " + rows.size() + " rows beyond " + tolerance);
    }

    private static float[] prefill(Backend backend, SequenceCache cache, int[] ids, int chunk, boolean panels) {
        if (chunk <= 0) return backend.forward(List.of(new Step(cache, ids, false, panels))).getFirst();
        float[] last = null;
        for (int from = 0; from < ids.length; from += chunk) {
            int[] part = Arrays.copyOfRange(ids, from, Math.min(ids.length, from + chunk));
            last = backend.forward(List.of(new Step(cache, part, false, panels))).getFirst();
        }
        assertEquals(ids.length, cache.length());
        return last;
    }

    private static Path model(String variant) {
        return variant.startsWith("q8_0") ? SharedFiles.tinyQ8() : SharedFiles.tinyF32();
    }
}
