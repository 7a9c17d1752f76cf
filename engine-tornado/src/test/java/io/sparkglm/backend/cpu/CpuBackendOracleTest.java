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
 */
class CpuBackendOracleTest {

    @ParameterizedTest(name = "{0} prefill, threads={2}")
    @CsvSource({"f32, 1e-4, 2", "q8_0, 1e-3, 2", "f32, 1e-4, 1", "f32-kvf16-fa, 5e-3, 2"})
    void prefillLogitsMatchEveryPosition(String variant, double tolerance, int threads) {
        String kv = variant.contains("kvf16") ? "f16" : "f32";
        try (Checkpoint ckpt = ModelLoader.open(model(variant));
             Backend backend = new CpuBackend(ckpt, new BackendOptions(threads, kv, -1))) {
            List<int[]> seqs = Oracle.sequences();
            for (int s = 0; s < seqs.size(); s++) {
                int[] ids = seqs.get(s);
                float[][] golden = Oracle.logits(variant, s, "prefill");
                try (SequenceCache cache = backend.newSequence(ids.length)) {
                    float[] all = backend.forward(List.of(new Step(cache, ids, true))).getFirst();
                    int vocab = backend.config().vocabSize();
                    for (int p = 0; p < ids.length; p++) {
                        float[] row = Arrays.copyOfRange(all, p * vocab, (p + 1) * vocab);
                        double diff = Oracle.maxAbsDiff(row, golden[p]);
                        assertTrue(diff <= tolerance, variant + " seq" + s + " position " + p + ": max |diff| " + diff);
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0} greedy + decode rows, prefill chunk {2}")
    @CsvSource({"f32, 1e-4, 0", "f32, 1e-4, 1", "q8_0, 1e-3, 0", "q8_0, 1e-3, 3"})
    void greedyIdsAndDecodeLogitsMatch(String variant, double tolerance, int prefillChunk) {
        try (Checkpoint ckpt = ModelLoader.open(model(variant));
             Backend backend = new CpuBackend(ckpt, new BackendOptions(2, "f32", -1))) {
            List<int[]> seqs = Oracle.sequences();
            for (int s = 0; s < seqs.size(); s++) {
                int[] ids = seqs.get(s);
                int[] expected = Oracle.greedy(variant, s);
                float[][] decodeRows = Oracle.logits(variant, s, "decode");
                try (SequenceCache cache = backend.newSequence(ids.length + expected.length)) {
                    float[] last = prefill(backend, cache, ids, prefillChunk);
                    int[] got = new int[expected.length];
                    for (int i = 0; i < expected.length; i++) {
                        got[i] = Sampler.argmax(last);
                        last = backend.forward(List.of(new Step(cache, new int[] {got[i]}, false))).getFirst();
                        double diff = Oracle.maxAbsDiff(last, decodeRows[i]);
                        assertTrue(diff <= tolerance, variant + " seq" + s + " decode row " + i + ": max |diff| " + diff);
                    }
                    assertArrayEquals(expected, got, variant + " seq" + s + " greedy ids");
                }
            }
        }
    }

    private static float[] prefill(Backend backend, SequenceCache cache, int[] ids, int chunk) {
        if (chunk <= 0) return backend.forward(List.of(new Step(cache, ids, false))).getFirst();
        float[] last = null;
        for (int from = 0; from < ids.length; from += chunk) {
            int[] part = Arrays.copyOfRange(ids, from, Math.min(ids.length, from + chunk));
            last = backend.forward(List.of(new Step(cache, part, false))).getFirst();
        }
        assertEquals(ids.length, cache.length());
        return last;
    }

    private static Path model(String variant) {
        return variant.startsWith("q8_0") ? SharedFiles.tinyQ8() : SharedFiles.tinyF32();
    }
}
