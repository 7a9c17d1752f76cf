package io.sparkglm.model;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A GLM-4 GGUF file (llama.cpp architecture "chatglm") as a {@link Checkpoint}: the config comes from
 * the {@code chatglm.*} metadata, the tensors keep their GGUF names (which are the logical names) with
 * {@code ne} reversed into numpy order.
 */
public final class GgufCheckpoint implements Checkpoint {

    public static final String ARCHITECTURE = "chatglm";

    private final GgufFile gguf;
    private final ModelConfig config;
    private final Map<String, WeightTensor> tensors;

    private GgufCheckpoint(GgufFile gguf) {
        this.gguf = gguf;
        Map<String, WeightTensor> byName = new LinkedHashMap<>();
        for (GgufTensorInfo info : gguf.tensors()) {
            byName.put(info.name(), new WeightTensor(info.name(), info.type(), info.shape(), gguf.tensorData(info)));
        }
        this.tensors = Collections.unmodifiableMap(byName);
        this.config = readConfig(gguf, tensors);
    }

    /** Opens a GGUF file; the caller closes the checkpoint. */
    public static GgufCheckpoint open(Path path) {
        GgufFile gguf = GgufFile.open(path);
        try {
            return new GgufCheckpoint(gguf);
        } catch (RuntimeException e) {
            gguf.close();
            throw e;
        }
    }

    /** The underlying file, for its metadata (the tokenizer vocabulary lives there). */
    public GgufFile gguf() { return gguf; }

    @Override
    public ModelConfig config() { return config; }

    @Override
    public Map<String, WeightTensor> tensors() { return tensors; }

    @Override
    public Path source() { return gguf.path(); }

    @Override
    public long fileBytes() { return gguf.fileSize(); }

    @Override
    public void close() { gguf.close(); }

    /** The architecture numbers from {@code chatglm.*} metadata; vocab size from the embedding rows. */
    static ModelConfig readConfig(GgufFile gguf, Map<String, WeightTensor> tensors) {
        String arch = gguf.getString("general.architecture");
        if (!ARCHITECTURE.equals(arch)) {
            throw new ModelFormatException(gguf.path() + ": general.architecture is \"" + arch
                    + "\", expected \"" + ARCHITECTURE + "\" (GLM-4 as llama.cpp names it)");
        }
        String p = arch + ".";
        int hidden = positiveInt(gguf, p + "embedding_length");
        int heads = positiveInt(gguf, p + "attention.head_count");
        int kvHeads = gguf.get(p + "attention.head_count_kv").isPresent() ? positiveInt(gguf, p + "attention.head_count_kv") : heads;
        int headDim;
        if (gguf.get(p + "attention.key_length").isPresent()) {
            headDim = positiveInt(gguf, p + "attention.key_length");
        } else {
            if (hidden % heads != 0) {
                throw new ModelFormatException(gguf.path() + ": " + p + "embedding_length " + hidden
                        + " is not a multiple of " + p + "attention.head_count " + heads);
            }
            headDim = hidden / heads;
        }
        WeightTensor embedding = tensors.get("token_embd.weight");
        if (embedding == null) throw new ModelFormatException(gguf.path() + ": missing tensor token_embd.weight");
        if (embedding.shape().length != 2) {
            throw new ModelFormatException(gguf.path() + ": tensor token_embd.weight has shape "
                    + java.util.Arrays.toString(embedding.shape()) + ", expected [vocab, " + hidden + "]");
        }
        long rows = embedding.shape()[0];
        if (rows > Integer.MAX_VALUE) { // a zero column count lets a file claim any row count in no bytes
            throw new ModelFormatException(gguf.path() + ": tensor token_embd.weight has " + rows
                    + " rows, more vocabulary entries than an int holds");
        }
        int vocab = (int) rows;
        boolean qkvBias = tensors.containsKey("blk.0.attn_qkv.bias") || tensors.containsKey("blk.0.attn_q.bias");
        // llama.cpp's default base when the key is absent
        double ropeBase = gguf.get(p + "rope.freq_base").isPresent() ? gguf.getFloat(p + "rope.freq_base") : 10000.0;
        try {
            return new ModelConfig(arch,
                    positiveInt(gguf, p + "block_count"),
                    hidden,
                    positiveInt(gguf, p + "feed_forward_length"),
                    heads, kvHeads, headDim,
                    positiveInt(gguf, p + "rope.dimension_count"),
                    ropeBase,
                    positiveInt(gguf, p + "context_length"),
                    vocab,
                    gguf.getFloat(p + "attention.layer_norm_rms_epsilon"),
                    qkvBias);
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(gguf.path() + ": inconsistent model config: " + e.getMessage(), e);
        }
    }

    private static int positiveInt(GgufFile gguf, String key) {
        long v = gguf.getLong(key);
        if (v <= 0 || v > Integer.MAX_VALUE) throw new ModelFormatException(gguf.path() + ": metadata " + key + " = " + v + " is out of range");
        return (int) v;
    }
}
