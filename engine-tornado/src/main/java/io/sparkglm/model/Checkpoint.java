package io.sparkglm.model;

import java.nio.file.Path;
import java.util.Map;

/**
 * An opened GLM-4 checkpoint (a GGUF file or a Hugging Face folder): its config and its tensors under
 * one logical naming, whatever the file format. Tensors are slices of memory-mapped files that stay
 * valid until {@link #close()}.
 *
 * <p>Logical names are llama.cpp's "chatglm" GGUF names: {@code token_embd.weight},
 * {@code blk.N.attn_norm.weight}, {@code blk.N.attn_qkv.weight} and {@code .bias} (or separate
 * {@code blk.N.attn_q/attn_k/attn_v.weight} and {@code .bias}), {@code blk.N.attn_output.weight},
 * {@code blk.N.ffn_norm.weight}, {@code blk.N.ffn_up.weight} (fused [gate ; up], 2*ffn rows),
 * {@code blk.N.ffn_down.weight}, {@code output_norm.weight}, {@code output.weight}.
 */
public interface Checkpoint extends AutoCloseable {

    ModelConfig config();

    /** Every tensor by logical name. */
    Map<String, WeightTensor> tensors();

    /** The tensor with this logical name; throws {@link ModelFormatException} naming it when absent. */
    default WeightTensor tensor(String name) {
        WeightTensor t = tensors().get(name);
        if (t == null) throw new ModelFormatException(source() + ": missing tensor " + name);
        return t;
    }

    /** The file or folder this checkpoint was opened from. */
    Path source();

    /** Total bytes of the files behind it. */
    long fileBytes();

    @Override
    void close();
}
