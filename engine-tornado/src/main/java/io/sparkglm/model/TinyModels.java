package io.sparkglm.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Random GLM-4 models of any size, for tests and demos, laid out like the oracle's tiny model:
 * weights N(0, s) with the oracle's scales, norm weights 1 + N(0, 0.05); 2-D weights in the chosen type,
 * norms and biases F32. Also converts a GGUF into a Hugging Face folder with the same weights.
 */
public final class TinyModels {

    /** GLM-4's special tokens, in GLM-4 order (ids follow the regular tokens). */
    public static final List<String> SPECIAL_TOKENS = List.of("<|endoftext|>", "[MASK]", "[gMASK]", "[sMASK]", "<sop>",
            "<eop>", "<|system|>", "<|user|>", "<|assistant|>", "<|observation|>", "<|begin_of_image|>",
            "<|end_of_image|>", "<|begin_of_video|>", "<|end_of_video|>");

    private static final int TOKEN_NORMAL = 1, TOKEN_CONTROL = 3, TOKEN_UNUSED = 5;

    /** What to generate. {@code type} applies to the 2-D weights. */
    public record Spec(int hidden, int layers, int heads, int kvHeads, int ffn, int vocab, double ropeBase,
                       GgmlType type, long seed, int contextLength) {

        public static Spec oracleShaped() {
            return new Spec(128, 3, 4, 2, 288, 384, 5e6, GgmlType.F32, 1, 131072);
        }

        public ModelConfig config() {
            if (hidden % heads != 0) throw new IllegalArgumentException("hidden " + hidden + " is not a multiple of heads " + heads);
            int headDim = hidden / heads;
            if (headDim % 4 != 0) throw new IllegalArgumentException("head dim " + headDim + " must be a multiple of 4");
            if (type.blockSize() > 1 && (hidden % type.blockSize() != 0 || ffn % type.blockSize() != 0)) {
                throw new IllegalArgumentException(type + " needs hidden and ffn to be multiples of " + type.blockSize());
            }
            return new ModelConfig("chatglm", layers, hidden, ffn, heads, kvHeads, headDim, headDim / 2, ropeBase,
                    contextLength, vocab, 1.5625e-07f, true);
        }
    }

    private TinyModels() {}

    // ---- random weights ----

    /** One tensor to generate: N(mean, sigma) values, drawn from the model's one Random when the tensor is written. */
    private record Weights(String name, long[] shape, double sigma, double mean, boolean matrix) {

        long elements() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }
    }

    /**
     * The tensors of a random model, generated while they are written, row by row: a GLM-4-9B-shaped slice holds
     * two 151,552 x 4096 matrices, more floats than a default heap holds at once. All values come from one Random
     * in tensor order (the order writers write them), so a seed gives the same model as when they were drawn up front.
     */
    private static final class RandomWeights {
        final List<Weights> tensors = new ArrayList<>();
        private final Random random;
        private int next;

        RandomWeights(Spec spec) {
            ModelConfig c = spec.config();
            random = new Random(spec.seed());
            int h = c.hidden();
            add("token_embd.weight", 0.5, 0, c.vocabSize(), h);
            for (int l = 0; l < c.layers(); l++) {
                String b = "blk." + l + ".";
                add(b + "attn_norm.weight", 0.05, 1, h);
                add(b + "attn_qkv.weight", 0.08, 0, c.qkvDim(), h);
                add(b + "attn_qkv.bias", 0.1, 0, c.qkvDim());
                add(b + "attn_output.weight", 0.05, 0, h, c.qDim());
                add(b + "ffn_norm.weight", 0.05, 1, h);
                add(b + "ffn_up.weight", 0.08, 0, 2 * c.ffnHidden(), h);
                add(b + "ffn_down.weight", 0.08, 0, h, c.ffnHidden());
            }
            add("output_norm.weight", 0.05, 1, h);
            add("output.weight", 0.08, 0, c.vocabSize(), h);
        }

        private void add(String name, double sigma, double mean, long... shape) {
            tensors.add(new Weights(name, shape, sigma, mean, shape.length == 2));
        }

        /** Tensor {@code index}'s bytes in {@code type}; rows are whole blocks (Spec.config checks the widths). */
        TensorBytes bytes(int index, GgmlType type) {
            Weights t = tensors.get(index);
            return new TensorBytes() {
                @Override
                public long byteSize() { return type.byteSize(t.elements()); }

                @Override
                public void writeTo(WritableByteChannel out) throws IOException {
                    // another order would draw other values for the same seed
                    if (index != next) throw new IllegalStateException("random tensor " + t.name() + " written out of order");
                    next++;
                    int cols = Math.toIntExact(t.shape()[t.shape().length - 1]);
                    float[] row = new float[cols];
                    for (long r = 0, rows = t.elements() / cols; r < rows; r++) {
                        for (int i = 0; i < cols; i++) row[i] = (float) (t.mean() + t.sigma() * random.nextGaussian());
                        TensorBytes.writeFully(out, ByteBuffer.wrap(Quantization.encode(type, row)));
                    }
                }
            };
        }
    }

    // ---- GGUF ----

    /**
     * A random model as GGUF; the vocabulary is copied from {@code vocabFrom} when given (its token list kept as it is,
     * possibly shorter than the embedding, as the real model's tokenizer.model is), else generated.
     */
    public static void writeGguf(Spec spec, Path out, Path vocabFrom) throws IOException {
        writeGguf(spec, out, vocabFrom, false);
    }

    /** As {@link #writeGguf(Spec, Path, Path)}; {@code padVocabulary} pads a copied token list to the embedding's rows. */
    public static void writeGguf(Spec spec, Path out, Path vocabFrom, boolean padVocabulary) throws IOException {
        ModelConfig c = spec.config();
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", "chatglm").putString("general.name", "tiny-glm4-random-seed" + spec.seed());
        putConfig(w, c);
        w.putU32("general.file_type", fileType(spec.type()));
        if (vocabFrom != null) {
            try (GgufFile source = GgufFile.open(vocabFrom)) {
                int tokens = source.getStringList("tokenizer.ggml.tokens").size();
                if (tokens > c.vocabSize()) {
                    throw new IllegalArgumentException("--vocab " + c.vocabSize() + " is smaller than the " + tokens
                            + " tokens of " + vocabFrom);
                }
                for (String key : source.metadata().keySet()) {
                    if (key.startsWith("tokenizer.")) w.copy(source, key);
                }
                if (padVocabulary) padVocabulary(w, source, c.vocabSize());
            }
        } else {
            putByteVocabulary(w, c.vocabSize());
        }
        RandomWeights weights = new RandomWeights(spec);
        for (int i = 0; i < weights.tensors.size(); i++) {
            Weights t = weights.tensors.get(i);
            GgmlType type = t.matrix() ? spec.type() : GgmlType.F32;
            w.addTensor(t.name(), type, t.shape(), weights.bytes(i, type));
        }
        w.write(out);
    }

    /**
     * {@code source} with some tensors stored in another type, as llama-quantize mixes types (a Q4_K_M file keeps
     * GLM-4's ffn_down in Q5_0): each tensor for which {@code typeOf} names a type other than its own is decoded
     * ({@link Quantization#dequantize}) and encoded again in that type; every other tensor and all metadata are
     * copied as they are. Decoding to F32 is exact, so a quantized tensor made F32 holds the very values its blocks did.
     */
    public static void retype(Path source, Path out, java.util.function.Function<String, GgmlType> typeOf) throws IOException {
        try (GgufCheckpoint checkpoint = GgufCheckpoint.open(source)) {
            GgufFile file = checkpoint.gguf();
            GgufWriter w = new GgufWriter();
            for (String key : file.metadata().keySet()) {
                w.copy(file, key);
            }
            for (WeightTensor t : checkpoint.tensors().values()) {
                GgmlType type = typeOf.apply(t.name());
                if (type == null || type == t.type()) {
                    w.addTensor(t.name(), t.type(), t.shape(), TensorBytes.of(t.data()));
                    continue;
                }
                if (!Quantization.canDequantize(t.type())) {
                    throw new IllegalArgumentException("tensor " + t.name() + ": decoding " + t.type() + " is not implemented");
                }
                w.addTensor(t.name(), type, t.shape(), new TensorBytes() {
                    @Override
                    public long byteSize() { return type.byteSize(t.elementCount()); }

                    @Override
                    public void writeTo(WritableByteChannel channel) throws IOException {
                        int cols = t.cols();
                        for (long row = 0; row < t.elementCount() / cols; row++) {
                            float[] values = Quantization.dequantize(t.type(), t.data(), row * cols, cols);
                            TensorBytes.writeFully(channel, ByteBuffer.wrap(Quantization.encode(type, values)));
                        }
                    }
                });
            }
            w.write(out);
        }
    }

    /**
     * Pads a copied vocabulary with {@code [PADn]} tokens of type UNUSED up to the embedding's rows, as llama.cpp's
     * converter pads GLM-4's 151,343 tokens to 151,552: llama.cpp takes its vocabulary size from the token list and
     * refuses a token_embd with more rows ("wrong shape").
     */
    private static void padVocabulary(GgufWriter w, GgufFile source, int rows) {
        List<String> tokens = new ArrayList<>(source.getStringList("tokenizer.ggml.tokens"));
        if (tokens.size() == rows) return;
        int[] sourceTypes = source.get("tokenizer.ggml.token_type").isPresent() ? source.getIntArray("tokenizer.ggml.token_type") : null;
        List<Integer> types = new ArrayList<>(rows);
        for (int i = 0; i < tokens.size(); i++) types.add(sourceTypes != null && i < sourceTypes.length ? sourceTypes[i] : TOKEN_NORMAL);
        while (tokens.size() < rows) {
            tokens.add("[PAD" + tokens.size() + "]");
            types.add(TOKEN_UNUSED);
        }
        w.putArray("tokenizer.ggml.tokens", GgufValueType.STRING, tokens);
        w.putArray("tokenizer.ggml.token_type", GgufValueType.INT32, types);
        if (source.get("tokenizer.ggml.scores").isPresent()) {
            float[] sourceScores = source.getFloatArray("tokenizer.ggml.scores");
            List<Float> scores = new ArrayList<>(rows);
            for (int i = 0; i < rows; i++) scores.add(i < sourceScores.length ? sourceScores[i] : 0f);
            w.putArray("tokenizer.ggml.scores", GgufValueType.FLOAT32, scores);
        }
    }

    static void putConfig(GgufWriter w, ModelConfig c) {
        w.putU32("chatglm.context_length", c.contextLength())
                .putU32("chatglm.embedding_length", c.hidden())
                .putU32("chatglm.feed_forward_length", c.ffnHidden())
                .putU32("chatglm.block_count", c.layers())
                .putU32("chatglm.attention.head_count", c.heads())
                .putU32("chatglm.attention.head_count_kv", c.kvHeads())
                .putF32("chatglm.attention.layer_norm_rms_epsilon", c.rmsEps())
                .putU32("chatglm.rope.dimension_count", c.ropeDims())
                .putF32("chatglm.rope.freq_base", (float) c.ropeBase());
        if (c.headDim() * c.heads() != c.hidden()) w.putU32("chatglm.attention.key_length", c.headDim());
    }

    /**
     * The oracle's vocabulary layout without merges: ids 0..255 the bytes (GPT-2 byte-to-unicode spelling),
     * then the 14 GLM-4 specials (CONTROL), then [PADn] (UNUSED) up to {@code vocab}.
     */
    static void putByteVocabulary(GgufWriter w, int vocab) {
        int needed = 256 + SPECIAL_TOKENS.size();
        if (vocab < needed) throw new IllegalArgumentException("a vocabulary needs at least " + needed + " entries, not " + vocab);
        List<String> tokens = new ArrayList<>(vocab);
        List<Integer> types = new ArrayList<>(vocab);
        String[] byteSpelling = gpt2ByteSpelling();
        for (int b = 0; b < 256; b++) {
            tokens.add(byteSpelling[b]);
            types.add(TOKEN_NORMAL);
        }
        for (String s : SPECIAL_TOKENS) {
            tokens.add(s);
            types.add(TOKEN_CONTROL);
        }
        while (tokens.size() < vocab) {
            tokens.add("[PAD" + tokens.size() + "]");
            types.add(TOKEN_UNUSED);
        }
        int eos = 256; // <|endoftext|>
        w.putBool("tokenizer.ggml.add_bos_token", false)
                .putString("tokenizer.ggml.model", "gpt2")
                .putString("tokenizer.ggml.pre", "chatglm-bpe")
                .putArray("tokenizer.ggml.tokens", GgufValueType.STRING, tokens)
                .putArray("tokenizer.ggml.token_type", GgufValueType.INT32, types)
                .putArray("tokenizer.ggml.merges", GgufValueType.STRING, List.of())
                .putU32("tokenizer.ggml.eos_token_id", eos)
                .putU32("tokenizer.ggml.padding_token_id", eos)
                .putU32("tokenizer.ggml.unknown_token_id", eos)
                .putU32("tokenizer.ggml.eot_token_id", 256 + SPECIAL_TOKENS.indexOf("<|user|>"));
    }

    /** GPT-2's bytes_to_unicode: printable bytes spell themselves, the others map to U+0100 upwards. */
    static String[] gpt2ByteSpelling() {
        String[] out = new String[256];
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            out[b] = Character.toString(printable ? b : next++);
        }
        return out;
    }

    private static int fileType(GgmlType type) {
        return switch (type) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q8_0 -> 7;
            case Q5_0 -> 8;
            case Q5_1 -> 9;
            case BF16 -> 32;
            default -> throw new IllegalArgumentException("no file type for " + type);
        };
    }

    // ---- Hugging Face ----

    /** A random model as a Hugging Face folder (ChatGLM naming); {@code type} must be F32, F16 or BF16. */
    public static void writeHf(Spec spec, Path folder, int shards, Path tokenizer) throws IOException {
        ModelConfig c = spec.config();
        if (spec.type() != GgmlType.F32 && spec.type() != GgmlType.F16 && spec.type() != GgmlType.BF16) {
            throw new IllegalArgumentException("a Hugging Face folder holds F32, F16 or BF16, not " + spec.type());
        }
        List<SafetensorsWriter.Tensor> tensors = new ArrayList<>();
        RandomWeights weights = new RandomWeights(spec);
        for (int i = 0; i < weights.tensors.size(); i++) {
            Weights t = weights.tensors.get(i);
            GgmlType type = t.matrix() ? spec.type() : GgmlType.F32;
            tensors.add(new SafetensorsWriter.Tensor(thudmName(t.name()), type, t.shape(), weights.bytes(i, type)));
        }
        finishHf(folder, c, tensors, shards, tokenizer, spec.type());
    }

    /**
     * The weights of a GGUF as a Hugging Face folder: F32, F16 and BF16 tensors are copied byte for byte,
     * quantized ones are dequantized to F32 (exact: every quantized value is a float32).
     */
    public static void ggufToHf(Path gguf, Path folder, int shards, Path tokenizer) throws IOException {
        try (GgufCheckpoint checkpoint = GgufCheckpoint.open(gguf)) {
            ModelLoader.validate(checkpoint);
            ModelConfig c = checkpoint.config();
            List<SafetensorsWriter.Tensor> tensors = new ArrayList<>();
            GgmlType widest = GgmlType.F16;
            for (WeightTensor t : checkpoint.tensors().values()) {
                String name = thudmName(t.name());
                GgmlType type = t.type();
                TensorBytes data;
                if (type == GgmlType.F32 || type == GgmlType.F16 || type == GgmlType.BF16) {
                    data = TensorBytes.of(t.data());
                } else if (Quantization.canDequantize(type)) {
                    data = dequantized(t);
                    type = GgmlType.F32;
                } else {
                    throw new ModelFormatException(gguf + ": tensor " + t.name() + " is " + t.type()
                            + "; converting it to safetensors is not implemented");
                }
                if (type == GgmlType.F32) widest = GgmlType.F32;
                tensors.add(new SafetensorsWriter.Tensor(name, type, t.shape(), data));
            }
            finishHf(folder, c, tensors, shards, tokenizer, widest);
        }
    }

    /** A quantized tensor decoded to F32 row by row while it is written: bounded memory for any size. */
    private static TensorBytes dequantized(WeightTensor t) {
        return new TensorBytes() {
            @Override
            public long byteSize() { return t.elementCount() * 4; }

            @Override
            public void writeTo(WritableByteChannel out) throws IOException {
                int cols = t.cols();
                for (long row = 0; row < t.elementCount() / cols; row++) {
                    float[] values = Quantization.dequantize(t.type(), t.data(), row * cols, cols);
                    TensorBytes.writeFully(out, ByteBuffer.wrap(Quantization.encode(GgmlType.F32, values)));
                }
            }
        };
    }

    private static void finishHf(Path folder, ModelConfig c, List<SafetensorsWriter.Tensor> tensors, int shards,
                                 Path tokenizer, GgmlType dtype) throws IOException {
        Files.createDirectories(folder);
        SafetensorsWriter.write(folder, tensors, shards);
        Files.writeString(folder.resolve("config.json"), chatGlmConfigJson(c, dtype));
        if (tokenizer != null) Files.copy(tokenizer, folder.resolve("tokenizer.model"), StandardCopyOption.REPLACE_EXISTING);
    }

    /** config.json in THUDM's ChatGLM naming. */
    public static String chatGlmConfigJson(ModelConfig c, GgmlType dtype) throws IOException {
        if (c.ropeDims() * 2 != c.headDim()) {
            throw new IllegalArgumentException("ChatGLM's config rotates half of each head; ropeDims " + c.ropeDims()
                    + " with headDim " + c.headDim() + " cannot be expressed");
        }
        ObjectNode json = HfConfig.JSON.createObjectNode();
        json.put("model_type", "chatglm");
        json.putArray("architectures").add("ChatGLMModel");
        json.put("add_bias_linear", false);
        json.put("add_qkv_bias", c.qkvBias());
        json.put("ffn_hidden_size", c.ffnHidden());
        json.put("hidden_size", c.hidden());
        json.put("kv_channels", c.headDim());
        json.put("layernorm_epsilon", (double) c.rmsEps());
        json.put("multi_query_attention", true);
        json.put("multi_query_group_num", c.kvHeads());
        json.put("num_attention_heads", c.heads());
        json.put("num_layers", c.layers());
        json.put("padded_vocab_size", c.vocabSize());
        json.put("post_layer_norm", true);
        json.put("rmsnorm", true);
        json.put("rope_ratio", c.ropeBase() / 10000.0);
        json.put("seq_length", c.contextLength());
        json.put("tie_word_embeddings", false);
        json.put("torch_dtype", switch (dtype) {
            case F16 -> "float16";
            case BF16 -> "bfloat16";
            default -> "float32";
        });
        return HfConfig.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(json);
    }

    private static final Map<String, String> THUDM_GLOBAL = Map.of(
            "token_embd.weight", "transformer.embedding.word_embeddings.weight",
            "output_norm.weight", "transformer.encoder.final_layernorm.weight",
            "output.weight", "transformer.output_layer.weight");

    private static final Map<String, String> THUDM_LAYER = new LinkedHashMap<>();

    static {
        THUDM_LAYER.put("attn_norm.weight", "input_layernorm.weight");
        THUDM_LAYER.put("attn_qkv.weight", "self_attention.query_key_value.weight");
        THUDM_LAYER.put("attn_qkv.bias", "self_attention.query_key_value.bias");
        THUDM_LAYER.put("attn_output.weight", "self_attention.dense.weight");
        THUDM_LAYER.put("ffn_norm.weight", "post_attention_layernorm.weight");
        THUDM_LAYER.put("ffn_up.weight", "mlp.dense_h_to_4h.weight");
        THUDM_LAYER.put("ffn_down.weight", "mlp.dense_4h_to_h.weight");
    }

    /** The THUDM checkpoint name of a logical tensor name. */
    static String thudmName(String logical) {
        String global = THUDM_GLOBAL.get(logical);
        if (global != null) return global;
        if (logical.startsWith("blk.")) {
            int dot = logical.indexOf('.', 4);
            String suffix = THUDM_LAYER.get(logical.substring(dot + 1));
            if (suffix != null) return "transformer.encoder.layers." + logical.substring(4, dot) + "." + suffix;
        }
        throw new ModelFormatException("tensor " + logical + " has no ChatGLM checkpoint name (split attn_q/k/v are "
                + "not converted to the ChatGLM layout)");
    }

}
