package io.sparkglm.model;

import java.util.ArrayList;
import java.util.List;

/**
 * A checkpoint's tensors grouped by their role in the GLM-4 forward pass, shapes validated against the
 * config: what every backend turns into its own weight representation. Separate Q, K, V projections
 * (transformers-native checkpoints, some GGUFs) are listed as three parts of the QKV matrix, stacked by
 * rows; a fused one as one part.
 */
public record ModelTensors(WeightTensor tokenEmbedding, List<Layer> layers, WeightTensor outputNorm, WeightTensor output) {

    /**
     * @param qkv     the QKV projection's row blocks: [attn_qkv] or [attn_q, attn_k, attn_v]
     * @param qkvBias the matching bias vectors, empty when the model has no QKV bias
     */
    public record Layer(WeightTensor attnNorm, List<WeightTensor> qkv, List<WeightTensor> qkvBias,
                        WeightTensor attnOutput, WeightTensor ffnNorm, WeightTensor ffnGateUp, WeightTensor ffnDown) {}

    public static ModelTensors of(Checkpoint checkpoint) {
        ModelLoader.validate(checkpoint);
        ModelConfig c = checkpoint.config();
        List<Layer> layers = new ArrayList<>(c.layers());
        for (int i = 0; i < c.layers(); i++) {
            String p = "blk." + i + ".";
            List<String> parts = checkpoint.tensors().containsKey(p + "attn_qkv.weight")
                    ? List.of("attn_qkv") : List.of("attn_q", "attn_k", "attn_v");
            List<WeightTensor> qkv = new ArrayList<>(), bias = new ArrayList<>();
            for (String part : parts) {
                qkv.add(checkpoint.tensor(p + part + ".weight"));
                if (c.qkvBias()) bias.add(checkpoint.tensor(p + part + ".bias"));
            }
            layers.add(new Layer(checkpoint.tensor(p + "attn_norm.weight"), List.copyOf(qkv), List.copyOf(bias),
                    checkpoint.tensor(p + "attn_output.weight"), checkpoint.tensor(p + "ffn_norm.weight"),
                    checkpoint.tensor(p + "ffn_up.weight"), checkpoint.tensor(p + "ffn_down.weight")));
        }
        return new ModelTensors(checkpoint.tensor("token_embd.weight"), List.copyOf(layers),
                checkpoint.tensor("output_norm.weight"), checkpoint.tensor("output.weight"));
    }
}
