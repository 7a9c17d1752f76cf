package io.sparkglm.model;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.testing.SharedFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WritersTest {

    @Test
    void everyMetadataTypeRoundTrips(@TempDir Path dir) throws Exception {
        GgufWriter w = new GgufWriter()
                .put("u8", GgufValueType.UINT8, 250)
                .put("i8", GgufValueType.INT8, -7)
                .put("u16", GgufValueType.UINT16, 65000)
                .put("i16", GgufValueType.INT16, -30000)
                .put("u32", GgufValueType.UINT32, 4_000_000_000L)
                .put("i32", GgufValueType.INT32, -2_000_000_000)
                .put("f32", GgufValueType.FLOAT32, 1.5625e-7f)
                .put("bool", GgufValueType.BOOL, true)
                .put("string", GgufValueType.STRING, "héllo ✓")
                .put("u64", GgufValueType.UINT64, 1L << 40)
                .put("i64", GgufValueType.INT64, -(1L << 50))
                .put("f64", GgufValueType.FLOAT64, Math.PI)
                .putArray("floats", GgufValueType.FLOAT32, List.of(1f, -2.5f))
                .putArray("strings", GgufValueType.STRING, List.of("a", "", "ü"))
                .putArray("bools", GgufValueType.BOOL, List.of(true, false))
                .putArray("u16s", GgufValueType.UINT16, List.of(1, 65535))
                .putArray("nested", GgufValueType.ARRAY, List.of(
                        new GgufWriter.Array(GgufValueType.INT32, List.of(1, 2, 3)),
                        new GgufWriter.Array(GgufValueType.STRING, List.of("x"))))
                .putArray("empty", GgufValueType.INT64, List.of());
        Path file = dir.resolve("types.gguf");
        w.write(file);
        try (GgufFile g = GgufFile.open(file)) {
            Map<String, Object> m = g.metadata();
            assertEquals(250, m.get("u8"));
            assertEquals(-7, m.get("i8"));
            assertEquals(65000, m.get("u16"));
            assertEquals(-30000, m.get("i16"));
            assertEquals(4_000_000_000L, m.get("u32"));
            assertEquals(-2_000_000_000, m.get("i32"));
            assertEquals(1.5625e-7f, m.get("f32"));
            assertEquals(true, m.get("bool"));
            assertEquals("héllo ✓", g.getString("string"));
            assertEquals(1L << 40, m.get("u64"));
            assertEquals(-(1L << 50), m.get("i64"));
            assertEquals(Math.PI, m.get("f64"));
            assertArrayEquals(new float[] {1f, -2.5f}, g.getFloatArray("floats"));
            assertEquals(List.of("a", "", "ü"), g.getStringList("strings"));
            assertEquals(List.of(true, false), m.get("bools"));
            assertArrayEquals(new int[] {1, 65535}, g.getIntArray("u16s"));
            @SuppressWarnings("unchecked")
            List<Object> nested = (List<Object>) m.get("nested");
            assertEquals(List.of(1, 2, 3), nested.get(0));
            assertEquals(List.of("x"), nested.get(1));
            assertEquals(List.of(), m.get("empty"));
            assertEquals(GgufValueType.UINT16, g.typeOf("u16").orElseThrow());
            assertEquals(4_000_000_000L, g.getLong("u32"));
            assertThrows(ModelFormatException.class, () -> g.getInt("u32"), "does not fit in an int");
            assertEquals(0, g.tensors().size());
        }
        // a copy through the writer keeps every type exactly: the files are byte-identical
        Path copy = dir.resolve("copy.gguf");
        try (GgufFile g = GgufFile.open(file)) {
            GgufWriter c = new GgufWriter();
            for (String key : g.metadata().keySet()) c.copy(g, key);
            c.write(copy);
        }
        assertArrayEquals(Files.readAllBytes(file), Files.readAllBytes(copy));
    }

    @Test
    void tensorsAreAlignedAndReadBack(@TempDir Path dir) throws Exception {
        Random random = new Random(3);
        float[] a = new float[3 * 5], b = new float[7];
        for (int i = 0; i < a.length; i++) a[i] = (float) random.nextGaussian();
        for (int i = 0; i < b.length; i++) b[i] = (float) random.nextGaussian();
        Path file = dir.resolve("t.gguf");
        new GgufWriter().putU32("general.alignment", 64)
                .addTensor("a", GgmlType.F32, new long[] {3, 5}, TensorBytes.of(Quantization.encode(GgmlType.F32, a)))
                .addTensor("b", GgmlType.F16, new long[] {7}, TensorBytes.of(Quantization.encode(GgmlType.F16, b)))
                .write(file);
        try (GgufFile g = GgufFile.open(file)) {
            assertEquals(64, g.alignment());
            assertEquals(0, g.dataStart() % 64);
            GgufTensorInfo ta = g.tensorInfo("a").orElseThrow(), tb = g.tensorInfo("b").orElseThrow();
            assertArrayEquals(new long[] {3, 5}, ta.shape());
            assertArrayEquals(new long[] {5, 3}, ta.ne());
            assertEquals(0, tb.offset() % 64);
            assertArrayEquals(a, Quantization.dequantize(GgmlType.F32, g.tensorData(ta), 0, 15));
            float[] back = Quantization.dequantize(GgmlType.F16, g.tensorData(tb), 0, 7);
            for (int i = 0; i < 7; i++) assertEquals(b[i], back[i], Math.abs(b[i]) * 1e-3);
        }
    }

    @Test
    void q8_0EncodingIsBitExactWithLlamaQuantize() {
        // llama-quantize made the Q8_0 oracle from the F32 oracle: our encoder must produce the same bytes
        try (Checkpoint f32 = ModelLoader.open(SharedFiles.tinyF32()); Checkpoint q8 = ModelLoader.open(SharedFiles.tinyQ8())) {
            int compared = 0;
            for (WeightTensor q : q8.tensors().values()) {
                if (q.type() != GgmlType.Q8_0) continue;
                WeightTensor f = f32.tensor(q.name());
                float[] values = Quantization.dequantize(GgmlType.F32, f.data(), 0, Math.toIntExact(f.elementCount()));
                assertArrayEquals(q.data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), Quantization.encode(GgmlType.Q8_0, values), q.name());
                compared++;
            }
            assertEquals(2 + 3 * 4, compared, "token_embd, output and four matrices per layer");
        }
    }

    @Test
    void halfPrecisionEncodingRoundsToNearestEven() {
        Random random = new Random(9);
        for (int i = 0; i < 10_000; i++) {
            float x = (float) (random.nextGaussian() * Math.pow(10, random.nextInt(8) - 4));
            float bf = Quantization.fromBf16(Quantization.toBf16(x));
            // reference in float64: the nearest bf16 neighbour (ties to even mantissa)
            int bits = Float.floatToRawIntBits(x);
            float down = Float.intBitsToFloat(bits & 0xffff0000), up = Float.intBitsToFloat((bits & 0xffff0000) + 0x10000);
            double dDown = Math.abs((double) x - down), dUp = Math.abs((double) x - up);
            float expected = dDown < dUp ? down : dUp < dDown ? up : (((bits >>> 16) & 1) == 0 ? down : up);
            assertEquals(expected, bf, "bf16 of " + x);
        }
        assertTrue(Float.isNaN(Quantization.fromBf16(Quantization.toBf16(Float.NaN))));
    }

    @Test
    void safetensorsShardsWithAnIndex(@TempDir Path dir) throws Exception {
        List<SafetensorsWriter.Tensor> tensors = new ArrayList<>();
        Random random = new Random(5);
        List<float[]> values = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            float[] v = new float[8 * (i + 1)];
            for (int j = 0; j < v.length; j++) v[j] = (float) random.nextGaussian();
            values.add(v);
            GgmlType type = i % 2 == 0 ? GgmlType.F32 : GgmlType.BF16;
            tensors.add(new SafetensorsWriter.Tensor("t" + i, type, new long[] {i + 1, 8}, TensorBytes.of(Quantization.encode(type, v))));
        }
        SafetensorsWriter.write(dir, tensors, 3);
        assertTrue(Files.exists(dir.resolve("model.safetensors.index.json")));
        assertTrue(Files.exists(dir.resolve("model-00003-of-00003.safetensors")));
        var shards = HfCheckpoint.shardFiles(dir);
        assertEquals(3, shards.size());
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            int found = 0;
            for (Path shard : shards) {
                SafetensorsFile f = SafetensorsFile.open(shard, arena);
                assertFalse(f.entries().isEmpty(), shard + " holds at least one tensor");
                for (var e : f.entries().values()) {
                    int i = Integer.parseInt(e.name().substring(1));
                    float[] back = Quantization.dequantize(e.type(), f.data(e), 0, values.get(i).length);
                    float[] expected = Quantization.dequantize(e.type(), java.lang.foreign.MemorySegment.ofArray(
                            Quantization.encode(e.type(), values.get(i))), 0, values.get(i).length);
                    assertArrayEquals(expected, back);
                    found++;
                }
            }
            assertEquals(5, found);
        }
    }
}
