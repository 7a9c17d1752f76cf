package io.sparkglm.spark.conf;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.generate.EngineOptions;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

class GlmConfTest {

    @Test
    void defaultsAreGreedyNullOnErrorAndErrorOnLongDocuments() {
        GlmConf c = GlmConf.parse(Map.of("spark.master", "local", "spark.glm.model", "/m.gguf"));
        assertEquals("/m.gguf", c.model());
        assertEquals("cpu", c.backend());
        assertTrue(c.sampling().greedy());
        assertEquals(GlmConf.OnError.NULL, c.onError());
        assertEquals(GlmConf.LongDocumentPolicy.ERROR, c.longDocumentPolicy());
        assertEquals(256, c.maxNewTokens());
        assertEquals(16, c.batchSize());
        assertEquals(0, c.kvCacheMemory(), "auto");
        assertEquals(30 * 60_000, c.stepTimeoutMillis());
    }

    @Test
    void everyKeyIsParsed() {
        GlmConf c = GlmConf.parse(Map.ofEntries(
                Map.entry("spark.glm.model", " /models/x.gguf "), Map.entry("spark.glm.backend", "TORNADO"),
                Map.entry("spark.glm.threads", "3"), Map.entry("spark.glm.maxContext", "4096"),
                Map.entry("spark.glm.maxNewTokens", "77"), Map.entry("spark.glm.temperature", "0.7"),
                Map.entry("spark.glm.topP", "0.9"), Map.entry("spark.glm.topK", "40"), Map.entry("spark.glm.seed", "-5"),
                Map.entry("spark.glm.batchSize", "8"), Map.entry("spark.glm.prefillChunk", "128"),
                Map.entry("spark.glm.kvCacheType", "f16"), Map.entry("spark.glm.longDocumentPolicy", "MapReduce"),
                Map.entry("spark.glm.chunkOverlap", "64"),
                Map.entry("spark.glm.kvCacheMemory", "6g"), Map.entry("spark.glm.stepTimeout", "90s"),
                Map.entry("spark.glm.onError", "fail"), Map.entry("spark.glm.batchSql", "FALSE")));
        assertEquals(new GlmConf("/models/x.gguf", "tornado", 3, 4096, 77, 0.7f, 0.9f, 40, -5, 8, 128, "f16",
                6L << 30, 90_000, GlmConf.LongDocumentPolicy.MAPREDUCE, 64, GlmConf.OnError.FAIL, false), c);
        EngineOptions o = c.engineOptions(Path.of("/models/x.gguf"), 1);
        assertEquals(new EngineOptions(Path.of("/models/x.gguf"), "tornado", 3, 4096, "f16", 128, 8, 1, 6L << 30, 90_000), o);
        assertEquals(0.7f, c.sampling().temperature());
        assertEquals(40, c.sampling().topK());
        assertEquals(-5, c.sampling().seed());
    }

    @Test
    void kvCacheTypesQ8_0AndAutoAreAccepted() {
        for (String t : new String[] {"q8_0", "Q8_0", "auto", "AUTO", "f32"}) {
            GlmConf c = GlmConf.parse(Map.of("spark.glm.kvCacheType", t));
            assertEquals(t.toLowerCase(java.util.Locale.ROOT), c.kvCacheType());
            assertEquals(t.toLowerCase(java.util.Locale.ROOT), c.engineOptions(Path.of("/m.gguf"), 1).kvCacheType());
        }
    }

    @Test
    void unknownKeyIsNamedWithTheKnownOnes() {
        var e = assertThrows(GlmConfException.class, () -> GlmConf.parse(Map.of("spark.glm.modle", "x")));
        assertTrue(e.getMessage().contains("spark.glm.modle"), e.getMessage());
        assertTrue(e.getMessage().contains("spark.glm.model,"), e.getMessage());
    }

    @Test
    void badValuesNameTheKeyTheValueAndWhatIsAllowed() {
        assertBad("backend", "gpu", "cpu, tornado, auto");
        assertBad("threads", "-1", ">= 0");
        assertBad("threads", "two", ">= 0");
        assertBad("maxNewTokens", "0", ">= 1");
        assertBad("temperature", "-0.5", ">= 0");
        assertBad("temperature", "NaN", ">= 0");
        assertBad("topP", "0", "(0, 1]");
        assertBad("topP", "1.5", "(0, 1]");
        assertBad("batchSize", "0", ">= 1");
        assertBad("kvCacheType", "q8", "f32, f16, q8_0 or auto");
        assertBad("kvCacheType", "q4_0", "f32, f16, q8_0 or auto");
        assertBad("longDocumentPolicy", "drop", "error, truncate or mapreduce");
        assertBad("chunkOverlap", "-1", "0..65536");
        assertBad("chunkOverlap", "100000", "0..65536");
        assertBad("chunkOverlap", "a little", "0..65536");
        assertBad("onError", "skip", "null or fail");
        assertBad("batchSql", "yes", "true or false");
        assertBad("seed", "1.5", "integer");
        assertBad("kvCacheMemory", "lots", "8g");
        assertBad("kvCacheMemory", "-1g", "8g");
        assertBad("stepTimeout", "soon", "30min");
        assertBad("stepTimeout", "-5s", "30min");
    }

    private static void assertBad(String key, String value, String allowed) {
        var e = assertThrows(GlmConfException.class, () -> GlmConf.parse(Map.of("spark.glm." + key, value)), key);
        assertTrue(e.getMessage().contains("spark.glm." + key), e.getMessage());
        assertTrue(e.getMessage().contains(value), e.getMessage());
        assertTrue(e.getMessage().contains(allowed), e.getMessage());
    }

    @Test
    void missingModelIsReportedOnlyWhenNeeded() {
        GlmConf c = GlmConf.parse(Map.of());
        assertNull(c.model());
        var e = assertThrows(GlmConfException.class, c::requireModel);
        assertTrue(e.getMessage().contains("spark.glm.model is not set"), e.getMessage());
    }
}
