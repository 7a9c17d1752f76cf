package io.sparkglm.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.sparkglm.backend.Backend;
import io.sparkglm.backend.Backend.Step;
import io.sparkglm.backend.BackendOptions;
import io.sparkglm.backend.SequenceCache;
import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.ModelLoader;
import io.sparkglm.testing.Oracle;
import io.sparkglm.testing.SharedFiles;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Batching must never change a sequence's numbers: the contract continuous batching rests on. */
class BatchInvarianceTest {

    /** A sequence's logits never depend on what shares its step: batched == alone, bit for bit. */
    @ParameterizedTest(name = "{0} weights, kv {1}")
    @CsvSource({"f32, f32", "q8_0, f32", "f32, q8_0", "q8_0, q8_0", "f32, f16"})
    void batchedStepsGiveBitIdenticalLogits(String variant, String kv) {
        try (Checkpoint ckpt = ModelLoader.open(model(variant));
             Backend backend = new CpuBackend(ckpt, new BackendOptions(2, kv, -1))) {
            List<int[]> seqs = Oracle.sequences();
            List<float[]> alone = new ArrayList<>();
            for (int[] ids : seqs) {
                try (SequenceCache cache = backend.newSequence(ids.length)) {
                    alone.add(backend.forward(List.of(new Step(cache, ids, true))).getFirst());
                }
            }
            List<SequenceCache> caches = new ArrayList<>();
            List<Step> steps = new ArrayList<>();
            for (int[] ids : seqs) {
                SequenceCache c = backend.newSequence(ids.length);
                caches.add(c);
                steps.add(new Step(c, ids, true));
            }
            List<float[]> together = backend.forward(steps);
            for (int s = 0; s < seqs.size(); s++) {
                assertArrayEquals(alone.get(s), together.get(s), "seq" + s + " batched vs alone");
            }
            caches.forEach(SequenceCache::close);
        }
    }

    private static Path model(String variant) {
        return variant.startsWith("q8_0") ? SharedFiles.tinyQ8() : SharedFiles.tinyF32();
    }
}
