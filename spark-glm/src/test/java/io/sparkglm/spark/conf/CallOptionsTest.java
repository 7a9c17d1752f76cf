package io.sparkglm.spark.conf;

import static org.junit.jupiter.api.Assertions.*;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CallOptionsTest {

    private final GlmConf conf = GlmConf.parse(Map.of("spark.glm.model", "m", "spark.glm.maxNewTokens", "99",
            "spark.glm.seed", "7"));

    @Test
    void emptyMapGivesTheSessionDefaults() {
        CallOptions o = CallOptions.parse(Map.of(), conf);
        assertEquals(CallOptions.defaults(conf), o);
        assertEquals(99, o.maxTokens());
        assertTrue(o.sampling().greedy());
        assertEquals(7, o.sampling().seed());
        assertNull(o.system());
    }

    @Test
    void everyOptionOverridesTheDefault() {
        CallOptions o = CallOptions.parse(Map.of("system", "Be brief.", "max_tokens", "12", "temperature", "0.8",
                "top_p", "0.95", "top_k", "20", "seed", "42", "stop", "\n\n"), conf);
        assertEquals("Be brief.", o.system());
        assertEquals(12, o.maxTokens());
        assertEquals(0.8f, o.sampling().temperature());
        assertEquals(0.95f, o.sampling().topP());
        assertEquals(20, o.sampling().topK());
        assertEquals(42, o.sampling().seed());
        assertEquals(List.of("\n\n"), o.stop());
    }

    @Test
    void nullValuesAreIgnored() {
        Map<String, String> m = new HashMap<>();
        m.put("max_tokens", null);
        assertEquals(99, CallOptions.parse(m, conf).maxTokens());
    }

    @Test
    void unknownOptionListsTheAllowedOnes() {
        var e = assertThrows(GlmConfException.class, () -> CallOptions.parse(Map.of("temprature", "1"), conf));
        assertTrue(e.getMessage().contains("'temprature'"), e.getMessage());
        assertTrue(e.getMessage().contains("max_tokens, temperature"), e.getMessage());
    }

    @Test
    void badValuesAreNamed() {
        for (var bad : List.of(Map.of("max_tokens", "0"), Map.of("max_tokens", "x"), Map.of("temperature", "-1"),
                Map.of("top_p", "2"), Map.of("top_k", "-3"), Map.of("seed", "s"))) {
            var e = assertThrows(GlmConfException.class, () -> CallOptions.parse(bad, conf), bad.toString());
            String key = bad.keySet().iterator().next();
            assertTrue(e.getMessage().contains("'" + key + "'") && e.getMessage().contains(bad.get(key)), e.getMessage());
        }
    }
}
