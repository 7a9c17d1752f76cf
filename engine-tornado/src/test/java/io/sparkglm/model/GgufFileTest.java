package io.sparkglm.model;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.testing.SharedFiles;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GgufFileTest {

    @Test
    void readsTheOracleF32Metadata() {
        try (GgufFile gguf = GgufFile.open(SharedFiles.tinyF32())) {
            assertEquals(3, gguf.version());
            assertEquals("chatglm", gguf.getString("general.architecture"));
            assertEquals(128, gguf.getLong("chatglm.embedding_length"));
            assertEquals(3, gguf.getLong("chatglm.block_count"));
            assertEquals(288, gguf.getLong("chatglm.feed_forward_length"));
            assertEquals(4, gguf.getLong("chatglm.attention.head_count"));
            assertEquals(2, gguf.getLong("chatglm.attention.head_count_kv"));
            assertEquals(16, gguf.getLong("chatglm.rope.dimension_count"));
            assertEquals(5_000_000f, gguf.getFloat("chatglm.rope.freq_base"));
            assertEquals(1.5625e-7f, gguf.getFloat("chatglm.attention.layer_norm_rms_epsilon"));
            assertEquals(131072, gguf.getLong("chatglm.context_length"));

            List<String> tokens = gguf.getStringList("tokenizer.ggml.tokens");
            assertEquals(384, tokens.size());
            assertEquals("[gMASK]", tokens.get(358));
            assertEquals("<|endoftext|>", tokens.get(356));
            assertEquals("gpt2", gguf.getString("tokenizer.ggml.model"));
            assertEquals("chatglm-bpe", gguf.getString("tokenizer.ggml.pre"));
            assertEquals(100, gguf.getStringList("tokenizer.ggml.merges").size());
            int[] tokenTypes = gguf.getIntArray("tokenizer.ggml.token_type");
            assertEquals(384, tokenTypes.length);
            assertEquals(3, tokenTypes[358], "[gMASK] is CONTROL");
            assertEquals(356, gguf.getLong("tokenizer.ggml.eos_token_id"));
            assertThrows(UnsupportedOperationException.class, () -> tokens.set(0, "x"));
        }
    }

    @Test
    void gettersNameTheKeyWhenMissingOrMistyped() {
        try (GgufFile gguf = GgufFile.open(SharedFiles.tinyF32())) {
            var missing = assertThrows(ModelFormatException.class, () -> gguf.getString("no.such.key"));
            assertTrue(missing.getMessage().contains("no.such.key"), missing.getMessage());
            var mistyped = assertThrows(ModelFormatException.class, () -> gguf.getLong("general.architecture"));
            assertTrue(mistyped.getMessage().contains("general.architecture"), mistyped.getMessage());
            assertThrows(ModelFormatException.class, () -> gguf.getStringList("tokenizer.ggml.token_type"));
            assertThrows(ModelFormatException.class, () -> gguf.getFloatArray("tokenizer.ggml.tokens"));
            assertTrue(gguf.get("no.such.key").isEmpty());
        }
    }

    @Test
    void mapsFilesFarOver2GiBWithoutCopying(@TempDir Path dir) throws Exception {
        // a sparse file: one F32 tensor of 2^30 values (4 GiB), then the file is extended without writing data
        Path file = dir.resolve("big.gguf");
        long elements = 1L << 30;
        new GgufWriter().addTensor("big", GgmlType.F32, new long[] {elements / 1024, 1024}, new TensorBytes() {
            @Override
            public long byteSize() { return elements * 4; }

            @Override
            public void writeTo(java.nio.channels.WritableByteChannel out) throws java.io.IOException {
                ((java.nio.channels.FileChannel) out).position(((java.nio.channels.FileChannel) out).position() + elements * 4 - 4);
                TensorBytes.writeFully(out, java.nio.ByteBuffer.wrap(Quantization.encode(GgmlType.F32, new float[] {42.5f})));
            }
        }).write(file);
        assertTrue(Files.size(file) > 4L << 30);
        try (GgufFile gguf = GgufFile.open(file)) {
            var data = gguf.tensorData(gguf.tensorInfo("big").orElseThrow());
            assertEquals(elements * 4, data.byteSize());
            assertEquals(42.5f, data.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), elements - 1));
            assertEquals(0f, data.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), elements / 2));
        }
    }

    @Test
    void mapsTensorsWithNumpyShapes() {
        try (GgufFile gguf = GgufFile.open(SharedFiles.tinyF32())) {
            GgufTensorInfo qkv = gguf.tensorInfo("blk.0.attn_qkv.weight").orElseThrow();
            assertEquals(GgmlType.F32, qkv.type());
            assertArrayEquals(new long[] {256, 128}, qkv.shape());
            assertArrayEquals(new long[] {128, 256}, qkv.ne());
            assertEquals(256L * 128 * 4, gguf.tensorData(qkv).byteSize());
            assertEquals(0, gguf.dataStart() % gguf.alignment());
            // norm weights are 1 + N(0, 0.05)
            GgufTensorInfo norm = gguf.tensorInfo("output_norm.weight").orElseThrow();
            var data = gguf.tensorData(norm);
            double sum = 0;
            for (int i = 0; i < 128; i++) sum += data.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i);
            assertEquals(1.0, sum / 128, 0.05);
            assertEquals(3 * 7 + 3, gguf.tensors().size(), "7 tensors per block + embd, final norm, output");
        }
    }
}
