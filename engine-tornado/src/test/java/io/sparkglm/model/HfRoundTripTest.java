package io.sparkglm.model;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.testing.SharedFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A GGUF rewritten as a Hugging Face folder must load to the same config and bit-identical tensors. */
class HfRoundTripTest {

    @ParameterizedTest
    @CsvSource({"tiny-glm4-f32.gguf, 1", "tiny-glm4-f32.gguf, 4", "tiny-glm4-q8_0.gguf, 3"})
    void oracleAsHfFolderLoadsToIdenticalTensors(String oracle, int shards, @TempDir Path dir) throws Exception {
        Path gguf = SharedFiles.oracle().resolve(oracle);
        Path hf = dir.resolve("hf");
        TinyModels.ggufToHf(gguf, hf, shards, null);
        assertEquals(shards > 1, Files.exists(hf.resolve("model.safetensors.index.json")));
        try (Checkpoint a = ModelLoader.open(gguf); Checkpoint b = ModelLoader.open(hf)) {
            assertSameConfig(a.config(), b.config());
            assertEquals(a.tensors().keySet(), b.tensors().keySet());
            for (WeightTensor ta : a.tensors().values()) {
                WeightTensor tb = b.tensor(ta.name());
                assertArrayEquals(ta.shape(), tb.shape(), ta.name());
                if (ta.type() == tb.type()) {
                    assertEquals(-1, ta.data().mismatch(tb.data()), ta.name() + " bytes differ");
                } else {
                    assertEquals(GgmlType.Q8_0, ta.type());
                    assertEquals(GgmlType.F32, tb.type(), "quantized tensors become F32");
                    int n = Math.toIntExact(ta.elementCount());
                    float[] expected = Quantization.dequantize(ta.type(), ta.data(), 0, n);
                    float[] actual = tb.data().toArray(ModelLoaderTest.F32);
                    assertArrayEquals(expected, actual, 0f, ta.name() + " dequantized values differ");
                }
            }
        }
    }

    static void assertSameConfig(ModelConfig gguf, ModelConfig hf) {
        // architecture names differ by format ("chatglm" vs "glm"); every number must agree
        assertEquals(gguf, new ModelConfig(gguf.architecture(), hf.layers(), hf.hidden(), hf.ffnHidden(), hf.heads(),
                hf.kvHeads(), hf.headDim(), hf.ropeDims(), hf.ropeBase(), hf.contextLength(), hf.vocabSize(), hf.rmsEps(),
                hf.qkvBias()));
    }

    @Test
    void randomModelsAgreeAcrossFormatsForTheSameSeed(@TempDir Path dir) throws Exception {
        var spec = new TinyModels.Spec(64, 2, 4, 1, 96, 300, 1e8, GgmlType.BF16, 42, 4096);
        TinyModels.writeGguf(spec, dir.resolve("m.gguf"), null);
        TinyModels.writeHf(spec, dir.resolve("hf"), 2, null);
        try (Checkpoint a = ModelLoader.open(dir.resolve("m.gguf")); Checkpoint b = ModelLoader.open(dir.resolve("hf"))) {
            assertSameConfig(a.config(), b.config());
            assertEquals(1, a.config().kvHeads());
            assertEquals(1e8, a.config().ropeBase());
            for (WeightTensor ta : a.tensors().values()) {
                assertEquals(-1, ta.data().mismatch(b.tensor(ta.name()).data()), ta.name());
            }
            assertEquals(GgmlType.BF16, a.tensor("blk.1.ffn_up.weight").type());
            assertEquals(GgmlType.F32, a.tensor("blk.1.ffn_norm.weight").type());
        }
    }

    @ParameterizedTest
    @CsvSource({"F32", "F16", "BF16", "Q8_0"})
    void randomGgufOfEachTypeLoadsWithTheOracleLayout(GgmlType type, @TempDir Path dir) throws Exception {
        var spec = new TinyModels.Spec(128, 3, 4, 2, 288, 384, 5e6, type, 7, 131072);
        Path file = dir.resolve("m.gguf");
        TinyModels.writeGguf(spec, file, null);
        try (GgufCheckpoint cp = (GgufCheckpoint) ModelLoader.open(file); Checkpoint oracle = ModelLoader.open(SharedFiles.tinyF32())) {
            assertEquals(oracle.config(), cp.config());
            for (WeightTensor t : oracle.tensors().values()) {
                WeightTensor mine = cp.tensor(t.name());
                assertArrayEquals(t.shape(), mine.shape(), t.name());
                assertEquals(t.shape().length == 2 ? type : GgmlType.F32, mine.type(), t.name());
            }
            // the weights are random, not zeros: N(0, 0.08) after decoding
            WeightTensor up = cp.tensor("blk.2.ffn_up.weight");
            float[] v = Quantization.dequantize(up.type(), up.data(), 0, Math.toIntExact(up.elementCount()));
            double sq = 0;
            for (float x : v) sq += x * x;
            assertEquals(0.08, Math.sqrt(sq / v.length), 0.005);
            // the generated vocabulary: bytes, then GLM-4 specials as CONTROL, then padding
            GgufFile g = cp.gguf();
            var tokens = g.getStringList("tokenizer.ggml.tokens");
            assertEquals(384, tokens.size());
            assertEquals("Ġ", tokens.get(' '));
            assertEquals("A", tokens.get('A'));
            assertEquals("[gMASK]", tokens.get(258));
            assertEquals(3, g.getIntArray("tokenizer.ggml.token_type")[258]);
            assertEquals(256, g.getLong("tokenizer.ggml.eos_token_id"));
        }
    }

    @Test
    void vocabularyIsCopiedFromAnotherGguf(@TempDir Path dir) throws Exception {
        var spec = new TinyModels.Spec(64, 1, 2, 2, 64, 384, 5e6, GgmlType.Q8_0, 3, 2048);
        Path file = dir.resolve("m.gguf");
        TinyModels.writeGguf(spec, file, SharedFiles.tinyF32());
        try (GgufFile mine = GgufFile.open(file); GgufFile oracle = GgufFile.open(SharedFiles.tinyF32())) {
            for (String key : oracle.metadata().keySet()) {
                if (!key.startsWith("tokenizer.")) continue;
                assertEquals(oracle.metadata().get(key), mine.metadata().get(key), key);
                assertEquals(oracle.typeOf(key), mine.typeOf(key), key);
            }
        }
    }

}
