package io.sparkglm.backend.tornado;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkglm.backend.Backend;
import io.sparkglm.backend.Backend.Step;
import io.sparkglm.backend.BackendOptions;
import io.sparkglm.backend.Backends;
import io.sparkglm.backend.SequenceCache;
import io.sparkglm.generate.Sampler;
import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.ModelLoader;
import io.sparkglm.testing.Oracle;
import io.sparkglm.testing.SharedFiles;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The TornadoVM forward pass against llama.cpp's logits for the tiny random GLM-4 models: every prefill
 * position of the three oracle sequences, then incremental decode along the greedy path with the 20 greedy
 * ids exactly. Q8_0 reaches llama.cpp's numbers because activations are quantized to Q8_0 as ggml does.
 *
 * <p>The {@code f32-kvf16-fa} variant runs the f32 model with an f16 KV cache against llama.cpp's run with an f16
 * cache and flash attention, held to 5e-3 as the CPU backend is ({@code CpuBackendOracleTest}).
 *
 * <p>Q8_0 rounding ties: testdata/oracle/README.md documents two rows (a seq1 decode row, a seq2 prefill row)
 * where {@code x * 127 / amax} lands on a tie like -53.49999, so a last-bit difference in {@code x} flips one
 * int8 activation and moves the logits by 1.6e-2 / 2.6e-2 even for an exact float64 reference. Such rows are
 * allowed (at most two, each within 3e-2) and reported; every other row must be within the tolerance.
 */
class TornadoBackendOracleTest {

    @ParameterizedTest(name = "{0}: prefill rows, greedy ids and decode rows within {1}")
    @CsvSource({"f32, 1e-4, 0", "q8_0, 1e-3, 2", "f32-kvf16-fa, 5e-3, 2"})
    void matchesLlamaCpp(String variant, double tolerance, int allowedTieRows) {
        List<String> tieRows = new java.util.ArrayList<>();
        Path model = variant.equals("q8_0") ? SharedFiles.tinyQ8() : SharedFiles.tinyF32();
        String kvCache = variant.contains("kvf16") ? "f16" : "f32";     // llama.cpp with an f16 cache (and flash attention)
        try (Checkpoint checkpoint = ModelLoader.open(model);
             Backend backend = Backends.open("tornado", checkpoint, new BackendOptions(0, kvCache, -1))) {
            assertEquals("tornado", backend.name());
            int vocab = backend.config().vocabSize();
            List<int[]> sequences = Oracle.sequences();
            for (int s = 0; s < sequences.size(); s++) {
                int[] ids = sequences.get(s);
                float[][] golden = Oracle.logits(variant, s, "prefill");
                int[] expected = Oracle.greedy(variant, s);
                float[][] decodeRows = Oracle.logits(variant, s, "decode");
                try (SequenceCache cache = backend.newSequence(ids.length + expected.length)) {
                    float[] all = backend.forward(List.of(new Step(cache, ids, true))).getFirst();
                    for (int p = 0; p < ids.length; p++) {
                        double diff = Oracle.maxAbsDiff(Arrays.copyOfRange(all, p * vocab, (p + 1) * vocab), golden[p]);
                        check(diff, tolerance, variant + " seq" + s + " prefill position " + p, tieRows);
                    }
                    float[] last = Arrays.copyOfRange(all, (ids.length - 1) * vocab, ids.length * vocab);
                    int[] got = new int[expected.length];
                    for (int i = 0; i < expected.length; i++) {
                        got[i] = Sampler.argmax(last);
                        last = backend.forward(List.of(Step.decode(cache, got[i]))).getFirst();
                        check(Oracle.maxAbsDiff(last, decodeRows[i]), tolerance, variant + " seq" + s + " decode row " + i, tieRows);
                    }
                    assertArrayEquals(expected, got, variant + " seq" + s + " greedy ids");
                    assertEquals(ids.length + expected.length, cache.length());

                    // truncate back to the prompt: the first decode row must come out again
                    cache.truncate(ids.length);
                    float[] again = backend.forward(List.of(Step.decode(cache, got[0]))).getFirst();
                    check(Oracle.maxAbsDiff(again, decodeRows[0]), tolerance, variant + " seq" + s + " after truncate", tieRows);
                }
            }
        }
        if (!tieRows.isEmpty()) System.err.println("rounding-tie rows beyond " + tolerance + ": " + tieRows);
        assertTrue(tieRows.size() <= allowedTieRows, variant + ": rows beyond " + tolerance + ": " + tieRows);
    }

    private static void check(double diff, double tolerance, String row, List<String> tieRows) {
        if (diff <= tolerance) return;
        assertTrue(diff <= 3e-2, row + ": max |diff| " + diff);
        tieRows.add(row + " (" + diff + ")");
    }
}
