package io.sparkglm.model;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A Hugging Face {@code config.json} of GLM-4, in either naming:
 * <ul>
 *   <li>THUDM's ChatGLM ({@code model_type "chatglm"}): num_layers, ffn_hidden_size, kv_channels,
 *       multi_query_group_num, rope_ratio (base = 10000 * rope_ratio), seq_length, padded_vocab_size,
 *       layernorm_epsilon, add_qkv_bias; RoPE on half of each head.</li>
 *   <li>transformers-native GlmForCausalLM ({@code model_type "glm"}): num_hidden_layers, intermediate_size,
 *       num_key_value_heads, head_dim, partial_rotary_factor, rope_theta, max_position_embeddings,
 *       vocab_size, rms_norm_eps, attention_bias.</li>
 * </ul>
 */
public final class HfConfig {

    /** Duplicate keys are an error: a hostile header could otherwise name a tensor twice. */
    static final ObjectMapper JSON = JsonMapper.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();
    /** A config.json is a few KB; anything far larger is not one. */
    static final long MAX_CONFIG_BYTES = 1 << 20;
    /** Tokens of a config.json (a GLM-4 config has about 100): its tree costs up to 30 times its bytes. */
    static final int MAX_CONFIG_TOKENS = 4096;

    private HfConfig() {}

    public static ModelConfig read(Path configJson) {
        try {
            long size = Files.size(configJson);
            if (size > MAX_CONFIG_BYTES) throw new ModelFormatException(configJson + ": " + size + " bytes is too large for a config.json");
            return parse(Files.readString(configJson), configJson.toString());
        } catch (IOException e) {
            throw new ModelFormatException(configJson + ": cannot read config: " + e.getMessage(), e);
        }
    }

    /**
     * The storage type the checkpoint's config.json declares ({@code torch_dtype}: bfloat16, float16, float32), or
     * null when it names none or another one: a plan can estimate the weights' size before they are downloaded.
     */
    public static GgmlType torchDtype(Path configJson) {
        try {
            JsonNode root = JSON.readTree(Files.readString(configJson));
            String dtype = root == null ? "" : root.path("torch_dtype").asText("");
            return switch (dtype) {
                case "bfloat16" -> GgmlType.BF16;
                case "float16" -> GgmlType.F16;
                case "float32" -> GgmlType.F32;
                default -> null;
            };
        } catch (IOException e) {
            throw new ModelFormatException(configJson + ": cannot read config: " + e.getMessage(), e);
        }
    }

    /** Parses config.json text; {@code source} names it in errors. */
    public static ModelConfig parse(String json, String source) {
        JsonNode root;
        try {
            JsonLimits.checkTokens(json, MAX_CONFIG_TOKENS, source, "a GLM-4 config.json has about 100");
            root = JSON.readTree(json);
        } catch (JacksonException e) {
            throw new ModelFormatException(source + ": invalid JSON: " + e.getOriginalMessage(), e);
        } catch (java.io.IOException e) {
            throw new ModelFormatException(source + ": cannot read JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) throw new ModelFormatException(source + ": config.json is not a JSON object");
        Fields f = new Fields(root, source);
        try {
            return isChatGlmNaming(root) ? chatGlm(f) : glmNative(f);
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(source + ": inconsistent model config: " + e.getMessage(), e);
        }
    }

    private static boolean isChatGlmNaming(JsonNode root) {
        return "chatglm".equals(root.path("model_type").asText())
                || root.has("num_layers") || root.has("ffn_hidden_size") || root.has("multi_query_group_num");
    }

    private static ModelConfig chatGlm(Fields f) {
        int hidden = f.positiveInt("hidden_size");
        int heads = f.positiveInt("num_attention_heads");
        int headDim = f.has("kv_channels") ? f.positiveInt("kv_channels") : hidden / heads;
        boolean multiQuery = f.bool("multi_query_attention", true);
        int kvHeads = multiQuery ? f.positiveInt("multi_query_group_num") : heads;
        double ropeBase = 10000.0 * f.positiveDouble("rope_ratio", 1.0);
        f.rejectRopeScaling();
        return new ModelConfig("glm",
                f.positiveInt(f.has("num_layers") ? "num_layers" : "num_hidden_layers"),
                hidden,
                f.positiveInt("ffn_hidden_size"),
                heads, kvHeads, headDim,
                headDim / 2, // ChatGLM's RotaryEmbedding(kv_channels // 2): the first half of each head rotates
                ropeBase,
                f.positiveInt("seq_length"),
                f.positiveInt("padded_vocab_size"),
                (float) f.positiveDouble("layernorm_epsilon", 1e-5),
                f.bool("add_qkv_bias", false));
    }

    private static ModelConfig glmNative(Fields f) {
        int hidden = f.positiveInt("hidden_size");
        int heads = f.positiveInt("num_attention_heads");
        int headDim = f.has("head_dim") ? f.positiveInt("head_dim") : hidden / heads;
        double partial = f.positiveDouble("partial_rotary_factor", 0.5);
        if (partial > 1) throw new ModelFormatException(f.source + ": partial_rotary_factor " + partial + " is above 1");
        f.rejectRopeScaling();
        return new ModelConfig("glm",
                f.positiveInt("num_hidden_layers"),
                hidden,
                f.positiveInt("intermediate_size"),
                heads,
                f.has("num_key_value_heads") ? f.positiveInt("num_key_value_heads") : heads,
                headDim,
                (int) (headDim * partial),
                f.positiveDouble("rope_theta", 10000.0),
                f.positiveInt("max_position_embeddings"),
                f.positiveInt("vocab_size"),
                (float) f.positiveDouble("rms_norm_eps", 1.5625e-07),
                f.bool("attention_bias", true));
    }

    /** Typed, named access to config fields: every error names the field and the file. */
    private record Fields(JsonNode root, String source) {
        boolean has(String key) { return root.hasNonNull(key); }

        int positiveInt(String key) {
            JsonNode n = root.get(key);
            if (n == null || n.isNull()) throw new ModelFormatException(source + ": config field " + key + " is missing");
            if (!n.isIntegralNumber() || !n.canConvertToInt() || n.intValue() <= 0) {
                throw new ModelFormatException(source + ": config field " + key + " = " + n + " is not a positive int");
            }
            return n.intValue();
        }

        double positiveDouble(String key, double fallback) {
            JsonNode n = root.get(key);
            if (n == null || n.isNull()) return fallback;
            if (!n.isNumber() || !(n.doubleValue() > 0) || Double.isInfinite(n.doubleValue())) {
                throw new ModelFormatException(source + ": config field " + key + " = " + n + " is not a positive number");
            }
            return n.doubleValue();
        }

        boolean bool(String key, boolean fallback) {
            JsonNode n = root.get(key);
            if (n == null || n.isNull()) return fallback;
            if (!n.isBoolean()) throw new ModelFormatException(source + ": config field " + key + " = " + n + " is not a boolean");
            return n.booleanValue();
        }

        void rejectRopeScaling() {
            if (has("rope_scaling")) {
                throw new ModelFormatException(source + ": rope_scaling " + root.get("rope_scaling")
                        + " is not supported (GLM-4 uses plain RoPE with a larger base)");
            }
        }
    }
}
