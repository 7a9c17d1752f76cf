package io.sparkglm.model;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.testing.SharedFiles;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelLoaderTest {

    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    static void assertOracleConfig(ModelConfig c) {
        assertEquals(3, c.layers());
        assertEquals(128, c.hidden());
        assertEquals(288, c.ffnHidden());
        assertEquals(4, c.heads());
        assertEquals(2, c.kvHeads());
        assertEquals(32, c.headDim());
        assertEquals(16, c.ropeDims());
        assertEquals(5e6, c.ropeBase());
        assertEquals(131072, c.contextLength());
        assertEquals(384, c.vocabSize());
        assertEquals(1.56249996e-07f, c.rmsEps());
        assertTrue(c.qkvBias());
    }

    @Test
    void loadsTheF32Oracle() {
        try (Checkpoint cp = ModelLoader.open(SharedFiles.tinyF32())) {
            assertOracleConfig(cp.config());
            assertEquals("chatglm", cp.config().architecture());
            assertEquals(Files.size(SharedFiles.tinyF32()), cp.fileBytes());
            WeightTensor qkv = cp.tensor("blk.1.attn_qkv.weight");
            assertEquals(GgmlType.F32, qkv.type());
            assertArrayEquals(new long[] {256, 128}, qkv.shape());
            for (String norm : new String[] {"output_norm.weight", "blk.0.attn_norm.weight", "blk.2.ffn_norm.weight"}) {
                assertEquals(1.0, mean(cp.tensor(norm)), 0.03, norm + " is 1 + N(0, 0.05)");
            }
            // qkv weights are N(0, 0.08): a sanity check that the slice is the right one
            assertEquals(0.08, rms(cp.tensor("blk.0.attn_qkv.weight")), 0.01);
            assertEquals(0.5, rms(cp.tensor("token_embd.weight")), 0.05);
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void q8OracleRowsMatchTheF32WeightsWithinQuantizationError() {
        try (Checkpoint f32 = ModelLoader.open(SharedFiles.tinyF32()); Checkpoint q8 = ModelLoader.open(SharedFiles.tinyQ8())) {
            assertOracleConfig(q8.config());
            assertEquals(GgmlType.F32, q8.tensor("blk.0.attn_qkv.bias").type());
            assertEquals(GgmlType.F32, q8.tensor("output_norm.weight").type());
            for (String name : new String[] {"token_embd.weight", "blk.0.attn_qkv.weight", "blk.2.ffn_down.weight", "output.weight"}) {
                WeightTensor q = q8.tensor(name), f = f32.tensor(name);
                assertEquals(GgmlType.Q8_0, q.type(), name);
                assertArrayEquals(f.shape(), q.shape());
                int cols = q.cols();
                for (int row : new int[] {0, 1, q.rows() / 2, q.rows() - 1}) {
                    // dequantize by hand: per 32-block, an fp16 scale d then 32 int8 q; x = d * q
                    long rowBytes = (long) cols / 32 * 34;
                    for (int b = 0; b < cols / 32; b++) {
                        long at = row * rowBytes + b * 34L;
                        float d = Float.float16ToFloat(q.data().get(I16, at));
                        float amax = 0;
                        for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(f.data().getAtIndex(F32, (long) row * cols + b * 32 + j)));
                        assertEquals(amax / 127, d, amax / 127 * 1e-3 + 1e-8, name + " block scale");
                        for (int j = 0; j < 32; j++) {
                            float x = d * q.data().get(ValueLayout.JAVA_BYTE, at + 2 + j);
                            float ref = f.data().getAtIndex(F32, (long) row * cols + b * 32 + j);
                            // half a step of rounding, plus the fp16 rounding of d (2^-11 relative) times |q| <= 127
                            assertEquals(ref, x, d * (0.5f + 127f / 2048) + 1e-6f, name + " row " + row + " col " + (b * 32 + j));
                        }
                    }
                }
            }
        }
    }

    @Test
    void rejectsWhatIsNotAModel(@TempDir Path dir) throws Exception {
        var missing = assertThrows(ModelFormatException.class, () -> ModelLoader.open(dir.resolve("nothing.gguf")));
        assertTrue(missing.getMessage().contains("expected a .gguf file"), missing.getMessage());
        Path text = Files.writeString(dir.resolve("x.gguf"), "hello world, not a model");
        var notGguf = assertThrows(ModelFormatException.class, () -> ModelLoader.open(text));
        assertTrue(notGguf.getMessage().contains("GGUF"), notGguf.getMessage());
        var noConfig = assertThrows(ModelFormatException.class, () -> ModelLoader.open(dir));
        assertTrue(noConfig.getMessage().contains("config.json"), noConfig.getMessage());
    }

    static double mean(WeightTensor t) {
        double s = 0;
        for (long i = 0; i < t.elementCount(); i++) s += t.data().getAtIndex(F32, i);
        return s / t.elementCount();
    }

    static double rms(WeightTensor t) {
        double s = 0;
        for (long i = 0; i < t.elementCount(); i++) {
            double v = t.data().getAtIndex(F32, i);
            s += v * v;
        }
        return Math.sqrt(s / t.elementCount());
    }

}
