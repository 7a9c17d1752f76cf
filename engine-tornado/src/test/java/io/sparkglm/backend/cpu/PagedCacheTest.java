package io.sparkglm.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.sparkglm.backend.Backend.Step;
import io.sparkglm.backend.BackendOptions;
import io.sparkglm.backend.SequenceCache;
import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.ModelLoader;
import io.sparkglm.testing.SharedFiles;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The KV cache grows page by page; page boundaries and chunking never change the numbers. */
class PagedCacheTest {

    @ParameterizedTest(name = "kv {0}")
    @ValueSource(strings = {"f32", "f16", "q8_0"})
    void pageSizeAndChunkingDoNotChangeLogits(String kv) {
        int[] prompt = new Random(3).ints(300, 0, 384).toArray();
        try (Checkpoint ckpt = ModelLoader.open(SharedFiles.tinyF32());
             CpuBackend backend = new CpuBackend(ckpt, new BackendOptions(2, kv, -1))) {
            float[] onePage;
            try (SequenceCache cache = backend.newSequence(prompt.length, 1024)) {
                onePage = backend.forward(List.of(new Step(cache, prompt, true))).getFirst();
            }
            for (int page : new int[] {1, 7, 256}) {
                try (SequenceCache cache = backend.newSequence(prompt.length, page)) {
                    float[] all = new float[onePage.length];
                    int vocab = ckpt.config().vocabSize();
                    for (int from = 0; from < prompt.length; from += 37) {
                        int[] part = Arrays.copyOfRange(prompt, from, Math.min(prompt.length, from + 37));
                        float[] rows = backend.forward(List.of(new Step(cache, part, true))).getFirst();
                        System.arraycopy(rows, 0, all, from * vocab, rows.length);
                    }
                    assertArrayEquals(onePage, all, "page " + page + ", chunks of 37");
                    assertEquals(prompt.length, cache.length());
                }
            }
        }
    }

    @ParameterizedTest(name = "kv {0}")
    @ValueSource(strings = {"f32", "q8_0"})
    void aHugeCapacityReservesNothingUpFront(String kv) {
        try (Checkpoint ckpt = ModelLoader.open(SharedFiles.tinyF32());
             CpuBackend backend = new CpuBackend(ckpt, new BackendOptions(1, kv, -1));
             SequenceCache cache = backend.newSequence(Integer.MAX_VALUE)) {
            float[] logits = backend.forward(List.of(new Step(cache, new int[] {1, 2, 3}, false))).getFirst();
            assertEquals(384, logits.length);
            cache.truncate(1);
            assertEquals(1, cache.length());
            assertThrows(IllegalArgumentException.class, () -> cache.truncate(2));
        }
    }
}
