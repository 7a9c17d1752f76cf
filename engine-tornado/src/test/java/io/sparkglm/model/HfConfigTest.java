package io.sparkglm.model;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.testing.SharedFiles;
import org.junit.jupiter.api.Test;

class HfConfigTest {

    @Test
    void the1MModelHasFourKvGroupsAndBase1e8() {
        ModelConfig c = HfConfig.read(SharedFiles.config1M());
        assertEquals(40, c.layers());
        assertEquals(4096, c.hidden());
        assertEquals(13696, c.ffnHidden());
        assertEquals(32, c.heads());
        assertEquals(4, c.kvHeads());
        assertEquals(128, c.headDim());
        assertEquals(64, c.ropeDims());
        assertEquals(1e8, c.ropeBase());
        assertEquals(1_048_576, c.contextLength());
        assertEquals(151_552, c.vocabSize());
        assertEquals(1.5625e-07f, c.rmsEps());
        assertTrue(c.qkvBias());
        assertEquals(5120, c.qkvDim());
    }

    @Test
    void glm4ChatHasTwoKvGroupsAndBase5e6() {
        ModelConfig c = HfConfig.read(SharedFiles.configChat());
        assertEquals(2, c.kvHeads());
        assertEquals(5e6, c.ropeBase());
        assertEquals(131_072, c.contextLength());
    }

    @Test
    void transformersNativeNamingGivesTheSameConfig() {
        String json = """
                {"model_type": "glm", "num_hidden_layers": 40, "hidden_size": 4096, "intermediate_size": 13696,
                 "num_attention_heads": 32, "num_key_value_heads": 4, "head_dim": 128, "partial_rotary_factor": 0.5,
                 "rope_theta": 100000000.0, "max_position_embeddings": 1048576, "vocab_size": 151552,
                 "rms_norm_eps": 1.5625e-07, "attention_bias": true}""";
        ModelConfig expected = HfConfig.read(SharedFiles.config1M());
        assertEquals(expected, HfConfig.parse(json, "native"));
    }

    @Test
    void badFieldsAreNamed() {
        var missing = assertThrows(ModelFormatException.class, () -> HfConfig.parse("{\"model_type\":\"chatglm\"}", "c.json"));
        assertTrue(missing.getMessage().contains("hidden_size"), missing.getMessage());
        var negative = assertThrows(ModelFormatException.class, () -> HfConfig.parse("""
                {"num_layers": -1, "hidden_size": 64, "num_attention_heads": 2, "multi_query_group_num": 1,
                 "ffn_hidden_size": 8, "seq_length": 8, "padded_vocab_size": 8}""", "c.json"));
        assertTrue(negative.getMessage().contains("num_layers"), negative.getMessage());
        var inconsistent = assertThrows(ModelFormatException.class, () -> HfConfig.parse("""
                {"num_layers": 1, "hidden_size": 64, "num_attention_heads": 3, "multi_query_group_num": 2,
                 "ffn_hidden_size": 8, "seq_length": 8, "padded_vocab_size": 8}""", "c.json"));
        assertTrue(inconsistent.getMessage().contains("kvHeads"), inconsistent.getMessage());
        var notJson = assertThrows(ModelFormatException.class, () -> HfConfig.parse("{nope", "c.json"));
        assertTrue(notJson.getMessage().contains("invalid JSON"), notJson.getMessage());
        var dup = assertThrows(ModelFormatException.class, () -> HfConfig.parse("{\"hidden_size\":1,\"hidden_size\":2}", "c.json"));
        assertTrue(dup.getMessage().contains("hidden_size"), dup.getMessage());
    }
}
