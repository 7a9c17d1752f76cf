package io.sparkglm.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkglm.backend.Backend;
import io.sparkglm.backend.Backend.Step;
import io.sparkglm.backend.BackendOptions;
import io.sparkglm.backend.SequenceCache;
import io.sparkglm.generate.Sampler;
import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.ModelLoader;
import io.sparkglm.model.TinyModels;
import io.sparkglm.testing.Oracle;
import io.sparkglm.testing.SharedFiles;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The oracle model rewritten as a sharded Hugging Face safetensors folder ({@code make-tiny --from})
 * computes the same logits as the GGUF, bit for bit, and so matches llama.cpp the same way.
 */
class HfCheckpointOracleTest {

    @Test
    void hfFolderGivesTheGgufLogitsAndTheOracleGreedyIds(@TempDir Path dir) throws Exception {
        Path folder = dir.resolve("tiny-hf");
        TinyModels.ggufToHf(SharedFiles.tinyF32(), folder, 2, null);
        try (Checkpoint gguf = ModelLoader.open(SharedFiles.tinyF32());
             Checkpoint hf = ModelLoader.open(folder);
             Backend fromGguf = new CpuBackend(gguf, new BackendOptions(2, "f32", -1));
             Backend fromHf = new CpuBackend(hf, new BackendOptions(2, "f32", -1))) {
            List<int[]> seqs = Oracle.sequences();
            for (int s = 0; s < seqs.size(); s++) {
                int[] ids = seqs.get(s);
                float[] a = prefill(fromGguf, ids);
                float[] b = prefill(fromHf, ids);
                assertArrayEquals(a, b, "seq" + s + ": HF folder vs GGUF logits");
                float[][] golden = Oracle.logits("f32", s, "prefill");
                int vocab = hf.config().vocabSize();
                for (int p = 0; p < ids.length; p++) {
                    double diff = Oracle.maxAbsDiff(java.util.Arrays.copyOfRange(b, p * vocab, (p + 1) * vocab), golden[p]);
                    assertTrue(diff <= 1e-4, "seq" + s + " position " + p + ": " + diff);
                }
                assertArrayEquals(Oracle.greedy("f32", s), greedy(fromHf, ids, 20), "seq" + s + " greedy ids via HF");
            }
        }
    }

    private static float[] prefill(Backend backend, int[] ids) {
        try (SequenceCache cache = backend.newSequence(ids.length)) {
            return backend.forward(List.of(new Step(cache, ids, true))).getFirst();
        }
    }

    private static int[] greedy(Backend backend, int[] ids, int n) {
        int[] out = new int[n];
        try (SequenceCache cache = backend.newSequence(ids.length + n)) {
            float[] logits = backend.forward(List.of(new Step(cache, ids, false))).getFirst();
            for (int i = 0; i < n; i++) {
                out[i] = Sampler.argmax(logits);
                logits = backend.forward(List.of(Step.decode(cache, out[i]))).getFirst();
            }
        }
        return out;
    }
}
