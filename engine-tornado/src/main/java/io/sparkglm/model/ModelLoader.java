package io.sparkglm.model;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Opens a GLM-4 checkpoint whatever its format, and checks every tensor against the config before any
 * forward pass sees it: a wrong shape fails here, naming the tensor, not later as a silent garbage logit.
 */
public final class ModelLoader {

    private ModelLoader() {}

    /** A {@code .gguf} file or a Hugging Face folder (config.json + safetensors), validated. */
    public static Checkpoint open(Path path) {
        Checkpoint checkpoint = openUnvalidated(path);
        try {
            validate(checkpoint);
            return checkpoint;
        } catch (RuntimeException e) {
            checkpoint.close();
            throw e;
        }
    }

    static Checkpoint openUnvalidated(Path path) {
        if (Files.isDirectory(path)) {
            if (!Files.isRegularFile(path.resolve("config.json"))) {
                throw new ModelFormatException(path + ": a model folder needs config.json (a Hugging Face GLM-4 checkpoint)");
            }
            return HfCheckpoint.open(path);
        }
        if (Files.isRegularFile(path)) {
            if (GgufFile.looksLikeGguf(path)) return GgufCheckpoint.open(path);
            throw new ModelFormatException(path + ": not a GGUF file (no \"GGUF\" magic); expected a .gguf file "
                    + "or a Hugging Face folder with config.json and *.safetensors");
        }
        throw new ModelFormatException(path + ": no such file or folder; expected a .gguf file or a Hugging Face "
                + "folder with config.json and *.safetensors");
    }

    /** Every tensor the forward pass needs is present with the shape the config implies. */
    public static void validate(Checkpoint checkpoint) {
        ModelConfig c = checkpoint.config();
        // a hostile layer count must not make us list millions of missing tensors
        long perLayer = c.qkvBias() ? 7 : 6;
        if (c.layers() * perLayer > checkpoint.tensors().size()) {
            throw new ModelFormatException(checkpoint.source() + ": the config says " + c.layers() + " layers, but "
                    + checkpoint.tensors().size() + " tensors cannot hold " + perLayer + " per layer");
        }
        List<String> problems = new ArrayList<>();
        Shapes shapes = new Shapes(checkpoint, problems);
        long h = c.hidden();
        shapes.expect("token_embd.weight", c.vocabSize(), h);
        for (int l = 0; l < c.layers() && problems.size() < 100; l++) {
            String b = "blk." + l + ".";
            shapes.expect(b + "attn_norm.weight", h);
            if (checkpoint.tensors().containsKey(b + "attn_qkv.weight") || !checkpoint.tensors().containsKey(b + "attn_q.weight")) {
                shapes.expect(b + "attn_qkv.weight", c.qkvDim(), h);
                if (c.qkvBias()) shapes.expect(b + "attn_qkv.bias", c.qkvDim());
            } else {
                shapes.expect(b + "attn_q.weight", c.qDim(), h);
                shapes.expect(b + "attn_k.weight", c.kvDim(), h);
                shapes.expect(b + "attn_v.weight", c.kvDim(), h);
                if (c.qkvBias()) {
                    shapes.expect(b + "attn_q.bias", c.qDim());
                    shapes.expect(b + "attn_k.bias", c.kvDim());
                    shapes.expect(b + "attn_v.bias", c.kvDim());
                }
            }
            shapes.expect(b + "attn_output.weight", h, c.qDim());
            shapes.expect(b + "ffn_norm.weight", h);
            shapes.expect(b + "ffn_up.weight", 2L * c.ffnHidden(), h);
            shapes.expect(b + "ffn_down.weight", h, c.ffnHidden());
        }
        shapes.expect("output_norm.weight", h);
        shapes.expect("output.weight", c.vocabSize(), h);
        if (!problems.isEmpty()) {
            throw new ModelFormatException(checkpoint.source() + ": " + problems.size() + " tensor problem(s): "
                    + String.join("; ", problems.subList(0, Math.min(problems.size(), 10)))
                    + (problems.size() > 10 ? "; ..." : ""));
        }
    }

    private record Shapes(Checkpoint checkpoint, List<String> problems) {
        void expect(String name, long... shape) {
            WeightTensor t = checkpoint.tensors().get(name);
            if (t == null) {
                problems.add("missing tensor " + name + " (expected shape " + Arrays.toString(shape) + ")");
            } else if (!Arrays.equals(t.shape(), shape)) {
                problems.add("tensor " + name + " has shape " + Arrays.toString(t.shape()) + ", expected " + Arrays.toString(shape));
            }
        }
    }
}
