package io.sparkglm.backend.cpu;

import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.ModelTensors;
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
        ModelTensors t = ModelTensors.of(checkpoint);
        Layer[] layers = t.layers().stream().map(l -> new Layer(
                vector(l.attnNorm()),
                l.qkv().size() == 1 ? WeightMatrix.of(l.qkv().getFirst())
                                    : WeightMatrix.stack(l.qkv().stream().map(WeightMatrix::of).toList()),
                l.qkvBias().isEmpty() ? null : concat(l.qkvBias()),
                WeightMatrix.of(l.attnOutput()),
                vector(l.ffnNorm()),
                WeightMatrix.of(l.ffnGateUp()),
                WeightMatrix.of(l.ffnDown()))).toArray(Layer[]::new);
        return new CpuWeights(WeightMatrix.of(t.tokenEmbedding()), layers, vector(t.outputNorm()), WeightMatrix.of(t.output()));
    }

    /** A 1-D tensor (any storage type) as floats. */
    private static float[] vector(WeightTensor t) {
        WeightMatrix m = WeightMatrix.of(t.type(), t.data(), 1, Math.toIntExact(t.elementCount()));
        float[] out = new float[m.cols()];
        m.dequantizeRow(0, out, 0);
        return out;
    }

    private static float[] concat(List<WeightTensor> parts) {
        float[][] vectors = parts.stream().map(CpuWeights::vector).toArray(float[][]::new);
        int n = 0;
        for (float[] v : vectors) n += v.length;
        float[] out = new float[n];
        int at = 0;
        for (float[] v : vectors) {
            System.arraycopy(v, 0, out, at, v.length);
            at += v.length;
        }
        return out;
    }
}
