package io.sparkglm.backend.cpu;

import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.ModelConfig;
import io.sparkglm.model.ModelFormatException;
import io.sparkglm.model.WeightTensor;
import io.sparkglm.tensor.WeightMatrix;
import java.util.List;

/**
 * The model's weights as the CPU forward pass uses them: big matrices stay in the mapped file (wrapped,
 * not copied); norms and biases (a few KB each) are read into float arrays.
 */
record CpuWeights(WeightMatrix tokenEmbedding, Layer[] layers, float[] outputNorm, WeightMatrix output) {

    record Layer(float[] attnNorm, WeightMatrix qkv, float[] qkvBias, WeightMatrix attnOutput,
                 float[] ffnNorm, WeightMatrix ffnGateUp, WeightMatrix ffnDown) {}

    static CpuWeights from(Checkpoint checkpoint) {
        ModelConfig c = checkpoint.config();
        Layer[] layers = new Layer[c.layers()];
        for (int i = 0; i < c.layers(); i++) {
            String p = "blk." + i + ".";
            boolean fused = checkpoint.tensors().containsKey(p + "attn_qkv.weight");
            WeightMatrix qkv = fused
                    ? matrix(checkpoint, p + "attn_qkv.weight")
                    : WeightMatrix.stack(List.of(matrix(checkpoint, p + "attn_q.weight"),
                            matrix(checkpoint, p + "attn_k.weight"), matrix(checkpoint, p + "attn_v.weight")));
            float[] bias = null;
            if (c.qkvBias()) {
                bias = fused ? vector(checkpoint, p + "attn_qkv.bias")
                             : concat(vector(checkpoint, p + "attn_q.bias"), vector(checkpoint, p + "attn_k.bias"),
                                      vector(checkpoint, p + "attn_v.bias"));
                requireLength(p + "attn_qkv.bias", bias, c.qkvDim());
            }
            layers[i] = new Layer(
                    requireLength(p + "attn_norm.weight", vector(checkpoint, p + "attn_norm.weight"), c.hidden()),
                    requireShape(p + "attn_qkv", qkv, c.qkvDim(), c.hidden()),
                    bias,
                    requireShape(p + "attn_output.weight", matrix(checkpoint, p + "attn_output.weight"), c.hidden(), c.qDim()),
                    requireLength(p + "ffn_norm.weight", vector(checkpoint, p + "ffn_norm.weight"), c.hidden()),
                    requireShape(p + "ffn_up.weight", matrix(checkpoint, p + "ffn_up.weight"), 2 * c.ffnHidden(), c.hidden()),
                    requireShape(p + "ffn_down.weight", matrix(checkpoint, p + "ffn_down.weight"), c.hidden(), c.ffnHidden()));
        }
        return new CpuWeights(
                requireShape("token_embd.weight", matrix(checkpoint, "token_embd.weight"), c.vocabSize(), c.hidden()),
                layers,
                requireLength("output_norm.weight", vector(checkpoint, "output_norm.weight"), c.hidden()),
                requireShape("output.weight", matrix(checkpoint, "output.weight"), c.vocabSize(), c.hidden()));
    }

    private static WeightMatrix matrix(Checkpoint checkpoint, String name) {
        return WeightMatrix.of(checkpoint.tensor(name));
    }

    private static float[] vector(Checkpoint checkpoint, String name) {
        WeightTensor t = checkpoint.tensor(name);
        WeightMatrix m = WeightMatrix.of(t.type(), t.data(), 1, Math.toIntExact(t.elementCount()));
        float[] out = new float[m.cols()];
        m.dequantizeRow(0, out, 0);
        return out;
    }

    private static float[] concat(float[]... parts) {
        int n = 0;
        for (float[] p : parts) n += p.length;
        float[] out = new float[n];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    private static WeightMatrix requireShape(String name, WeightMatrix m, int rows, int cols) {
        if (m.rows() != rows || m.cols() != cols) {
            throw new ModelFormatException(name + " is [" + m.rows() + ", " + m.cols() + "], the config needs ["
                    + rows + ", " + cols + "]");
        }
        return m;
    }

    private static float[] requireLength(String name, float[] v, int n) {
        if (v.length != n) throw new ModelFormatException(name + " has " + v.length + " values, the config needs " + n);
        return v;
    }
}
