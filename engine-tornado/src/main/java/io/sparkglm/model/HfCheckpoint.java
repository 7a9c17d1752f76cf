package io.sparkglm.model;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Hugging Face GLM-4 folder as a {@link Checkpoint}: config.json (ChatGLM or transformers-native naming),
 * one {@code model.safetensors} or shards listed in {@code model.safetensors.index.json}, every shard
 * memory-mapped. Tensor names (THUDM's or transformers') are mapped to the logical GGUF names; shapes are
 * already in numpy order.
 */
public final class HfCheckpoint implements Checkpoint {

    static final String INDEX = "model.safetensors.index.json";
    static final String SINGLE = "model.safetensors";
    private static final long MAX_INDEX_BYTES = 64L << 20;
    /** Shards a checkpoint may have: GLM-4's have 10 to 14; each mapped shard costs a few KB of objects. */
    static final int MAX_SHARDS = 256;
    /** Tokens of an index: two per tensor name, and a little metadata. */
    static final int MAX_INDEX_TOKENS = 2 * SafetensorsFile.MAX_TENSORS + 256;

    private final Path folder;
    private final Arena arena;
    private final ModelConfig config;
    private final Map<String, WeightTensor> tensors;
    private final long fileBytes;

    private HfCheckpoint(Path folder, Arena arena) {
        this.folder = folder;
        this.arena = arena;
        this.config = HfConfig.read(folder.resolve("config.json"));
        Map<String, WeightTensor> byName = new LinkedHashMap<>();
        Map<String, String> origin = new LinkedHashMap<>();
        long bytes = 0;
        for (Path shard : shardFiles(folder)) {
            // the tensor cap holds for the checkpoint, not per shard: many shards of small entries cost as much as one
            SafetensorsFile file = SafetensorsFile.open(shard, arena, SafetensorsFile.MAX_TENSORS - byName.size());
            bytes += file.fileSize();
            for (SafetensorsFile.Entry e : file.entries().values()) {
                String logical = logicalName(e.name());
                if (logical == null) continue; // a buffer the forward pass recomputes
                String previous = origin.putIfAbsent(logical, e.name());
                if (previous != null) {
                    throw new ModelFormatException(folder + ": tensors " + previous + " and " + e.name()
                            + " both map to " + logical);
                }
                byName.put(logical, new WeightTensor(logical, e.type(), e.shape(), file.data(e)));
            }
        }
        this.tensors = Collections.unmodifiableMap(byName);
        this.fileBytes = bytes;
    }

    /** Opens the folder; the caller closes the checkpoint. */
    public static HfCheckpoint open(Path folder) {
        Arena arena = Arena.ofShared();
        try {
            return new HfCheckpoint(folder, arena);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    @Override
    public ModelConfig config() { return config; }

    @Override
    public Map<String, WeightTensor> tensors() { return tensors; }

    @Override
    public Path source() { return folder; }

    @Override
    public long fileBytes() { return fileBytes; }

    @Override
    public void close() {
        if (arena.scope().isAlive()) arena.close();
    }

    /** The shards: those the index names (each a plain file name inside the folder), else model.safetensors. */
    static Set<Path> shardFiles(Path folder) {
        Path index = folder.resolve(INDEX);
        Set<Path> shards = new LinkedHashSet<>();
        if (Files.isRegularFile(index)) {
            JsonNode map = readIndex(index).get("weight_map");
            if (map == null || !map.isObject() || map.isEmpty()) {
                throw new ModelFormatException(index + ": weight_map is missing or empty");
            }
            for (Map.Entry<String, JsonNode> e : map.properties()) {
                String file = e.getValue().asText("");
                if (!e.getValue().isTextual() || file.isEmpty() || file.contains("/") || file.contains("\\") || file.startsWith(".")) {
                    throw new ModelFormatException(index + ": tensor " + e.getKey() + " maps to \"" + e.getValue()
                            + "\", expected a shard file name in the same folder");
                }
                Path shard;
                try {
                    if (file.chars().anyMatch(Character::isISOControl)) throw new java.nio.file.InvalidPathException(file, "control character");
                    shard = folder.resolve(file);
                } catch (java.nio.file.InvalidPathException ex) {
                    throw new ModelFormatException(index + ": tensor " + e.getKey() + " maps to \"" + file.replace("\0", "\\0")
                            + "\", which is not a valid file name (" + ex.getReason() + ")");
                }
                if (!Files.isRegularFile(shard)) {
                    throw new ModelFormatException(index + ": shard " + file + " (holding " + e.getKey() + ") does not exist");
                }
                if (shards.add(shard) && shards.size() > MAX_SHARDS) {
                    throw new ModelFormatException(index + ": names more than " + MAX_SHARDS + " shards; GLM-4's checkpoints have at most 14");
                }
            }
            return shards;
        }
        Path single = folder.resolve(SINGLE);
        if (Files.isRegularFile(single)) return Set.of(single);
        throw new ModelFormatException(folder + ": no " + SINGLE + " and no " + INDEX + " (only safetensors weights are supported)");
    }

    private static JsonNode readIndex(Path index) {
        try {
            long size = Files.size(index);
            if (size > MAX_INDEX_BYTES) throw new ModelFormatException(index + ": " + size + " bytes is too large for an index");
            byte[] json = Files.readAllBytes(index);
            JsonLimits.checkTokens(json, MAX_INDEX_TOKENS, index.toString(), "a GLM-4 index has about 2 per tensor, under 2,000");
            JsonNode root = HfConfig.JSON.readTree(json);
            if (root == null || !root.isObject()) throw new ModelFormatException(index + ": not a JSON object");
            return root;
        } catch (JacksonException e) {
            throw new ModelFormatException(index + ": invalid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new ModelFormatException(index + ": cannot read: " + e.getMessage(), e);
        }
    }

    // ---- name mapping: THUDM ChatGLM and transformers-native GLM to llama.cpp's chatglm names ----

    private static final Pattern THUDM_LAYER = Pattern.compile("transformer\\.encoder\\.layers\\.(\\d+)\\.(.+)");
    private static final Pattern NATIVE_LAYER = Pattern.compile("model\\.layers\\.(\\d+)\\.(.+)");

    private static final Map<String, String> GLOBAL = Map.of(
            "transformer.embedding.word_embeddings.weight", "token_embd.weight",
            "transformer.encoder.final_layernorm.weight", "output_norm.weight",
            "transformer.output_layer.weight", "output.weight",
            "model.embed_tokens.weight", "token_embd.weight",
            "model.norm.weight", "output_norm.weight",
            "lm_head.weight", "output.weight");

    private static final Map<String, String> THUDM_IN_LAYER = Map.of(
            "input_layernorm.weight", "attn_norm.weight",
            "self_attention.query_key_value.weight", "attn_qkv.weight",
            "self_attention.query_key_value.bias", "attn_qkv.bias",
            "self_attention.dense.weight", "attn_output.weight",
            "post_attention_layernorm.weight", "ffn_norm.weight",
            "mlp.dense_h_to_4h.weight", "ffn_up.weight",
            "mlp.dense_4h_to_h.weight", "ffn_down.weight");

    private static final Map<String, String> NATIVE_IN_LAYER = Map.ofEntries(
            Map.entry("input_layernorm.weight", "attn_norm.weight"),
            Map.entry("self_attn.qkv_proj.weight", "attn_qkv.weight"),
            Map.entry("self_attn.qkv_proj.bias", "attn_qkv.bias"),
            Map.entry("self_attn.q_proj.weight", "attn_q.weight"),
            Map.entry("self_attn.q_proj.bias", "attn_q.bias"),
            Map.entry("self_attn.k_proj.weight", "attn_k.weight"),
            Map.entry("self_attn.k_proj.bias", "attn_k.bias"),
            Map.entry("self_attn.v_proj.weight", "attn_v.weight"),
            Map.entry("self_attn.v_proj.bias", "attn_v.bias"),
            Map.entry("self_attn.o_proj.weight", "attn_output.weight"),
            Map.entry("post_attention_layernorm.weight", "ffn_norm.weight"),
            Map.entry("mlp.gate_up_proj.weight", "ffn_up.weight"),
            Map.entry("mlp.down_proj.weight", "ffn_down.weight"));

    /**
     * The logical name of a checkpoint tensor; null for buffers to ignore (rotary inv_freq);
     * a {@link ModelFormatException} for a name that is no part of GLM-4.
     */
    public static String logicalName(String hfName) {
        if (hfName.endsWith("rotary_pos_emb.inv_freq") || hfName.endsWith("rotary_emb.inv_freq")) return null;
        String global = GLOBAL.get(hfName);
        if (global != null) return global;
        for (var rule : new Object[][] {{THUDM_LAYER, THUDM_IN_LAYER}, {NATIVE_LAYER, NATIVE_IN_LAYER}}) {
            Matcher m = ((Pattern) rule[0]).matcher(hfName);
            if (m.matches()) {
                @SuppressWarnings("unchecked")
                String suffix = ((Map<String, String>) rule[1]).get(m.group(2));
                if (suffix != null) return "blk." + layerIndex(hfName, m.group(1)) + "." + suffix;
            }
        }
        throw new ModelFormatException("tensor " + hfName + " is not part of a GLM-4 checkpoint (unknown name)");
    }

    /** The layer number of a tensor name; digits beyond an int are a hostile name, not a NumberFormatException. */
    private static int layerIndex(String hfName, String digits) {
        String significant = digits.replaceFirst("^0+(?=.)", "");
        if (significant.length() > 9) {
            throw new ModelFormatException("tensor " + hfName + " has layer number " + digits + ", which is out of range");
        }
        return Integer.parseInt(significant);
    }
}
