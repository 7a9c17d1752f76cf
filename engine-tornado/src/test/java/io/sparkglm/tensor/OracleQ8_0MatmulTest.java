package io.sparkglm.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkglm.model.GgmlType;
import io.sparkglm.model.GgufFile;
import io.sparkglm.model.GgufTensorInfo;
import io.sparkglm.testing.SharedFiles;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Q8_0 matmul on the oracle's real Q8_0 weights and llama.cpp's own intermediate activations (the seq1
 * tensor dump): our result against llama.cpp's MUL_MAT output, and against a float64 emulation of ggml's
 * Q8_0 activation quantization written here. Both must agree to float rounding.
 */
class OracleQ8_0MatmulTest {

    private static Map<String, float[][]> dump;

    static synchronized Map<String, float[][]> dump() throws IOException {
        if (dump != null) return dump;
        Map<String, float[][]> tensors = new HashMap<>();
        List<String> lines = Files.readAllLines(SharedFiles.golden().resolve("q8_0/out.seq1.tensors.txt"));
        for (int i = 0; i < lines.size(); i++) {
            String header = lines.get(i);
            if (!header.startsWith("# name=")) continue;
            String name = header.substring(7, header.indexOf(' ', 7));
            List<float[]> rows = new java.util.ArrayList<>();
            while (i + 1 < lines.size() && !lines.get(i + 1).startsWith("#")) {
                String[] parts = lines.get(++i).trim().split(" ");
                float[] row = new float[parts.length];
                for (int c = 0; c < parts.length; c++) row[c] = Float.parseFloat(parts[c]);
                rows.add(row);
            }
            tensors.put(name, rows.toArray(float[][]::new));
        }
        return dump = tensors;
    }

    @ParameterizedTest
    @CsvSource({
        "attn_norm-0, blk.0.attn_qkv.weight, wqkv-0",
        "ffn_norm-0, blk.0.ffn_up.weight, ffn_up-0",
        "ffn_swiglu-0, blk.0.ffn_down.weight, ffn_out-0",
        "ffn_norm-2, blk.2.ffn_up.weight, ffn_up-2",
        "result_norm, output.weight, result_output",
    })
    void q8_0MatmulMatchesLlamaCppAndAFloat64EmulationOfGgml(String input, String weight, String output) throws IOException {
        float[][] in = dump().get(input), expected = dump().get(output);
        assertTrue(in != null && expected != null, "dump lacks " + input + " or " + output);
        try (GgufFile gguf = GgufFile.open(SharedFiles.tinyQ8())) {
            GgufTensorInfo info = gguf.tensorInfo(weight).orElseThrow();
            assertEquals(GgmlType.Q8_0, info.type());
            int cols = (int) info.ne()[0], rows = (int) info.ne()[1];
            MemorySegment bytes = gguf.tensorData(info);
            WeightMatrix w = WeightMatrix.of(GgmlType.Q8_0, bytes, rows, cols);

            int n = in.length;
            float[] x = new float[n * cols];
            for (int t = 0; t < n; t++) System.arraycopy(in[t], 0, x, t * cols, cols);
            float[] out = new float[n * rows];
            w.matmul(Activations.prepare(ActivationFormat.Q8_0, x, 0, n, cols), out, rows, 0, rows);

            double worstLlama = 0, worstEmulation = 0;
            for (int t = 0; t < n; t++) {
                double[] xq = quantizeLikeGgml(in[t]);
                for (int r = 0; r < rows; r++) {
                    double emulated = 0, scale = 0;
                    for (int c = 0; c < cols; c++) {
                        long blk = (long) r * (cols / 32) * 34 + (c / 32) * 34L;
                        double d = Float.float16ToFloat(bytes.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), blk));
                        double wv = d * bytes.get(ValueLayout.JAVA_BYTE, blk + 2 + c % 32);
                        emulated += wv * xq[c];
                        scale += Math.abs(wv * xq[c]);
                    }
                    float got = out[t * rows + r];
                    worstLlama = Math.max(worstLlama, Math.abs(got - expected[t][r]) / scale);
                    worstEmulation = Math.max(worstEmulation, Math.abs(got - emulated) / scale);
                }
            }
            System.out.printf("%s x %s: worst |ours - llama.cpp| = %.2e, |ours - float64| = %.2e (relative to sum |w x|)%n",
                    weight, input, worstLlama, worstEmulation);
            assertTrue(worstEmulation < 1e-6, "vs float64 emulation: " + worstEmulation);
            assertTrue(worstLlama < 1e-6, "vs llama.cpp: " + worstLlama);
        }
    }

    /** ggml's x86 quantize_row_q8_0, dequantized: d = fp16(amax/127), q = rint(x * (127/amax)) in float. */
    static double[] quantizeLikeGgml(float[] x) {
        double[] out = new double[x.length];
        for (int b = 0; b < x.length; b += 32) {
            float amax = 0;
            for (int i = b; i < b + 32; i++) amax = Math.max(amax, Math.abs(x[i]));
            double d = Float.float16ToFloat(Float.floatToFloat16(amax / 127f));
            float id = amax == 0 ? 0 : 127f / amax;
            for (int i = b; i < b + 32; i++) out[i] = d * Math.rint(x[i] * id);
        }
        return out;
    }
}
