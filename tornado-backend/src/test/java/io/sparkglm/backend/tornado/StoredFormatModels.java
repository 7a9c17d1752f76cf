package io.sparkglm.backend.tornado;

import io.sparkglm.model.GgmlType;
import io.sparkglm.model.GgufFile;
import io.sparkglm.model.GgufTensorInfo;
import io.sparkglm.model.GgufWriter;
import io.sparkglm.model.ModelConfig;
import io.sparkglm.model.Quantization;
import io.sparkglm.model.TensorBytes;
import io.sparkglm.model.TinyModels;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.function.Function;

/**
 * Random GLM-4 models with a chosen stored type per weight matrix (mixtures as llama.cpp's Q4_K_M writes them),
 * as GGUF: a {@link TinyModels} F32 model is written first; F32, F16, BF16 and Q8_0 matrices are its values
 * encoded, Q4_0 and the K-quants random blocks ({@link QuantBlocks}) of the same spread (no K-quant encoder
 * exists in the engine). Norms and biases stay F32.
 */
final class StoredFormatModels {

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private StoredFormatModels() {}

    /**
     * Writes the model of {@code spec} (its type is ignored) with {@code typeOf(name)} for each 2-D tensor; with
     * {@code splitQkv} each layer's QKV (and bias) is written as attn_q, attn_k, attn_v, as Hugging Face has them.
     */
    static void write(TinyModels.Spec spec, Path out, Function<String, GgmlType> typeOf, boolean splitQkv) throws IOException {
        Path f32 = out.resolveSibling(out.getFileName() + ".f32.gguf");
        TinyModels.writeGguf(new TinyModels.Spec(spec.hidden(), spec.layers(), spec.heads(), spec.kvHeads(), spec.ffn(),
                spec.vocab(), spec.ropeBase(), GgmlType.F32, spec.seed(), spec.contextLength()), f32, null);
        ModelConfig c = spec.config();
        Random random = new Random(spec.seed() * 31 + 7);
        try (GgufFile source = GgufFile.open(f32)) {
            GgufWriter w = new GgufWriter();
            for (String key : source.metadata().keySet()) w.copy(source, key);
            for (GgufTensorInfo info : source.tensors()) {
                String name = info.name();
                float[] values = source.tensorData(info).toArray(F32);
                long[] shape = info.shape();
                boolean qkv = name.endsWith("attn_qkv.weight") || name.endsWith("attn_qkv.bias");
                if (splitQkv && qkv) {
                    String prefix = name.substring(0, name.indexOf("attn_qkv"));
                    String suffix = name.substring(name.lastIndexOf('.'));
                    int[] rows = {c.qDim(), c.kvDim(), c.kvDim()};
                    String[] parts = {"attn_q", "attn_k", "attn_v"};
                    int cols = shape.length == 2 ? (int) shape[1] : 1;
                    for (int p = 0, from = 0; p < 3; from += rows[p], p++) {
                        float[] slice = java.util.Arrays.copyOfRange(values, from * cols, (from + rows[p]) * cols);
                        String part = prefix + parts[p] + suffix;
                        if (shape.length == 1) w.addTensor(part, GgmlType.F32, new long[] {rows[p]}, TensorBytes.of(Quantization.encode(GgmlType.F32, slice)));
                        else add(w, part, typeOf.apply(part), slice, rows[p], cols, random);
                    }
                } else if (shape.length == 1) {
                    w.addTensor(name, GgmlType.F32, shape, TensorBytes.of(Quantization.encode(GgmlType.F32, values)));
                } else {
                    add(w, name, typeOf.apply(name), values, (int) shape[0], (int) shape[1], random);
                }
            }
            w.write(out);
        }
        Files.delete(f32);
    }

    private static void add(GgufWriter w, String name, GgmlType type, float[] values, int rows, int cols, Random random) {
        byte[] bytes = switch (type) {
            case F32, F16, BF16, Q8_0, Q5_0, Q5_1 -> Quantization.encode(type, values);
            case Q4_0, Q4_K, Q5_K, Q6_K -> {
                double squares = 0;
                for (float v : values) squares += (double) v * v;
                yield QuantBlocks.random(type, rows, cols, Math.sqrt(squares / values.length), random).bytes();
            }
        };
        w.addTensor(name, type, new long[] {rows, cols}, TensorBytes.of(bytes));
    }
}
