package io.sparkglm.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkglm.backend.Backend;
import io.sparkglm.backend.Backend.Step;
import io.sparkglm.backend.BackendOptions;
import io.sparkglm.backend.SequenceCache;
import io.sparkglm.generate.Engine;
import io.sparkglm.generate.EngineOptions;
import io.sparkglm.generate.GenerationRequest;
import io.sparkglm.generate.GenerationResult;
import io.sparkglm.generate.Sampler;
import io.sparkglm.generate.SamplingParams;
import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.GgmlType;
import io.sparkglm.model.ModelLoader;
import io.sparkglm.model.TinyModels;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A tiny GLM-4 laid out as llama-quantize lays out GLM-4-9B: ffn_down, whose rows (here 288 columns, there
 * 13,696) are not whole 256-blocks, in Q5_0 (a Q4_K_M file's fallback) or Q5_1 (Q5_K_M's), every other matrix in
 * Q8_0. It must load, generate greedily through the engine, and give the logits of the same model with ffn_down
 * decoded to F32 (the very values its blocks hold, computed on exact F32 activations), by both kernels.
 *
 * <p>The two differ only by ffn_down's input rounding (Q8_0, or Q8_1 with its fp16 block sums, of the SwiGLU
 * output), which in this random 2-layer model then moves other matrices' int8 roundings too: measured 5.1e-2 to
 * 5.6e-2 on logits up to 3.5, and the same (5.5e-2) for ffn_down in Q8_0, the established kernel, run here as the
 * control. {@link #TOLERANCE} is 0.1. A wrong fifth bit would move values by 16 d, far beyond it; the exact
 * arithmetic of each block is WeightMatrixTest's. The 5-bit weights themselves must matter: quantizing ffn_down
 * (against the model with its original F32 ffn_down) moves logits by 1.6e-1 to 2e-1, more than twice the rounding.
 */
class Q5WeightsModelTest {

    private static final double TOLERANCE = 0.1;

    @ParameterizedTest(name = "ffn_down {0}")
    @CsvSource({"Q5_0", "Q5_1", "Q8_0"})
    void mixedQ5FfnDownModelGeneratesAndMatchesItsF32Decoding(GgmlType down, @TempDir Path dir) throws Exception {
        Path f32 = dir.resolve("f32.gguf"), mixed = dir.resolve("mixed.gguf"), decoded = dir.resolve("decoded.gguf"),
                rawDown = dir.resolve("raw-down.gguf");
        TinyModels.writeGguf(new TinyModels.Spec(128, 2, 4, 2, 288, 300, 1e6, GgmlType.F32, 23, 4096), f32, null);
        TinyModels.retype(f32, mixed, name -> name.endsWith("ffn_down.weight") ? down : matrix(name) ? GgmlType.Q8_0 : null);
        TinyModels.retype(mixed, decoded, name -> name.endsWith("ffn_down.weight") ? GgmlType.F32 : null);
        TinyModels.retype(f32, rawDown, name -> !name.endsWith("ffn_down.weight") && matrix(name) ? GgmlType.Q8_0 : null);

        int[] prompt = new Random(3).ints(24, 0, 300).toArray();
        int steps = 12;
        int[] generated;
        try (Engine engine = Engine.load(EngineOptions.defaults(mixed).withThreads(2))) {
            GenerationResult r = engine.generate(List.of(
                    GenerationRequest.ids(prompt, steps, SamplingParams.GREEDY).withIgnoreEos(true))).getFirst();
            assertTrue(r.ok(), r.error());
            generated = r.tokenIds();
            assertEquals(steps, generated.length);
        }

        try (Checkpoint q5 = ModelLoader.open(mixed); Checkpoint ref = ModelLoader.open(decoded);
             Checkpoint raw = ModelLoader.open(rawDown)) {
            assertEquals(down, q5.tensor("blk.1.ffn_down.weight").type());
            assertEquals(GgmlType.Q8_0, q5.tensor("blk.1.ffn_up.weight").type());
            assertEquals(GgmlType.F32, ref.tensor("blk.1.ffn_down.weight").type());
            int[] path = Arrays.copyOf(prompt, prompt.length + steps - 1);
            System.arraycopy(generated, 0, path, prompt.length, steps - 1);
            for (boolean panels : new boolean[] {false, true}) {
                float[] got = logits(q5, path, panels), expected = logits(ref, path, panels), unquantized = logits(raw, path, panels);
                int vocab = q5.config().vocabSize();
                double worst = 0, fromWeights = 0, spread = 0;
                for (int i = 0; i < got.length; i++) {
                    worst = Math.max(worst, Math.abs(got[i] - expected[i]));
                    fromWeights = Math.max(fromWeights, Math.abs(expected[i] - unquantized[i]));
                    spread = Math.max(spread, Math.abs(expected[i]));
                }
                System.out.printf("ffn_down %s (%s): max |logit - F32-decoded model's| = %.2e (max |logit| %.2f); "
                        + "quantizing ffn_down's weights moves logits by %.2e%n", down, panels ? "panels" : "decode", worst,
                        spread, fromWeights);
                assertTrue(worst < TOLERANCE, down + ": max |logit difference| " + worst);
                if (down != GgmlType.Q8_0) {
                    assertTrue(fromWeights > 2 * worst, down + ": the 5-bit weights moved logits by only " + fromWeights);
                }
                // the engine's greedy ids are the reference model's argmax along the path, but for near ties
                for (int i = 0; i < steps; i++) {
                    int p = prompt.length - 1 + i;
                    float[] row = Arrays.copyOfRange(expected, p * vocab, (p + 1) * vocab);
                    int best = Sampler.argmax(row);
                    assertTrue(best == generated[i] || row[best] - row[generated[i]] < 2 * worst,
                            down + " step " + i + ": generated " + generated[i] + ", the F32-decoded model prefers " + best);
                }
            }
            // The prompt kernel and the decode kernel compute the same product (ggml's, Q5_1's m * s included): rows
            // agree but for a row where a last-bit difference meets a Q8 rounding tie (before Q5_1's panel correction,
            // every row differed, by up to 4e-2)
            float[] byPanels = logits(q5, path, true), byDecode = logits(q5, path, false);
            int vocabSize = q5.config().vocabSize(), rowsApart = 0;
            double paths = 0;
            for (int p = 0; p < byPanels.length / vocabSize; p++) {
                double row = 0;
                for (int i = p * vocabSize; i < (p + 1) * vocabSize; i++) row = Math.max(row, Math.abs(byPanels[i] - byDecode[i]));
                if (row > 1e-4) rowsApart++;
                paths = Math.max(paths, row);
            }
            System.out.printf("ffn_down %s: prompt vs decode kernel: max |logit difference| %.2e, %d of %d rows beyond 1e-4%n",
                    down, paths, rowsApart, byPanels.length / vocabSize);
            assertTrue(rowsApart <= 2 && paths < 0.05, down + ": the prompt and decode kernels differ by " + paths + " on "
                    + rowsApart + " rows");
            assertNotEquals(0, generated[0] + generated[1] + generated[2]);
        }
    }

    /** A 2-D weight (the tensors llama-quantize quantizes). */
    private static boolean matrix(String name) {
        return name.endsWith(".weight") && !name.contains("norm");
    }

    /** Every position's logits for {@code tokens} as one prompt (by the decode kernel, or the prompt kernel). */
    private static float[] logits(Checkpoint ckpt, int[] tokens, boolean panels) {
        try (Backend backend = new CpuBackend(ckpt, new BackendOptions(2, "f32", -1));
             SequenceCache cache = backend.newSequence(tokens.length)) {
            return backend.forward(List.of(new Step(cache, tokens, true, panels))).getFirst();
        }
    }
}
