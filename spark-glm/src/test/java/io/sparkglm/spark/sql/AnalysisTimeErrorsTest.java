package io.sparkglm.spark.sql;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.spark.conf.GlmConfException;
import io.sparkglm.spark.executor.ExecutorEngines;
import io.sparkglm.spark.testing.SharedSpark;
import io.sparkglm.testing.SharedFiles;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Bad settings and bad literal options fail while spark.sql(...) analyzes the query: no task, no engine. */
class AnalysisTimeErrorsTest {

    // Looked up per test: the local-cluster test stops the shared session, and it is restarted on demand.
    private final SparkSession spark = SharedSpark.session();
    private int loadsBefore;

    @BeforeEach
    void setModel() {
        spark.conf().set("spark.glm.model", SharedFiles.tinyQ8().toString());
        loadsBefore = ExecutorEngines.loads();
    }

    @AfterEach
    void unset() {
        for (String k : new String[] {"spark.glm.model", "spark.glm.backend", "spark.glm.maxNewTokens", "spark.glm.temprature",
                                       "spark.glm.chunkOverlap", "spark.glm.longDocumentPolicy"}) {
            spark.conf().unset(k);
        }
        assertEquals(loadsBefore, ExecutorEngines.loads(), "analysis must not load an engine");
    }

    private String analysisError(String sql) {
        // spark.sql analyzes eagerly: the error comes from here, before any action.
        Throwable t = assertThrows(Throwable.class, () -> spark.sql(sql));
        while (!(t instanceof GlmConfException) && t.getCause() != null) t = t.getCause();
        assertInstanceOf(GlmConfException.class, t);
        return t.getMessage();
    }

    @Test
    void unknownSettingIsNamed() {
        spark.conf().set("spark.glm.temprature", "0.5");
        String m = analysisError("SELECT glm_generate('hi')");
        assertTrue(m.contains("Unknown setting spark.glm.temprature") && m.contains("spark.glm.temperature"), m);
    }

    @Test
    void badSettingValueIsNamedWithItsAllowedValues() {
        spark.conf().set("spark.glm.backend", "cuda");
        String m = analysisError("SELECT glm_summarize('doc')");
        assertTrue(m.contains("spark.glm.backend") && m.contains("'cuda'") && m.contains("cpu, tornado, auto"), m);
        spark.conf().set("spark.glm.backend", "cpu");
        spark.conf().set("spark.glm.maxNewTokens", "-3");
        m = analysisError("SELECT glm_count_tokens('doc')");
        assertTrue(m.contains("spark.glm.maxNewTokens") && m.contains("'-3'"), m);
    }

    @Test
    void missingModelIsReported() {
        spark.conf().unset("spark.glm.model");
        String m = analysisError("SELECT glm_summarize('doc')");
        assertTrue(m.contains("spark.glm.model is not set"), m);
    }

    @Test
    void badLiteralOptionsAreNamed() {
        String m = analysisError("SELECT glm_generate('hi', map('temprature', '0.5'))");
        assertTrue(m.contains("'temprature'") && m.contains("system, max_tokens, temperature, top_p, top_k, seed, stop"), m);
        m = analysisError("SELECT glm_generate_result('hi', map('max_tokens', 'many'))");
        assertTrue(m.contains("'max_tokens'") && m.contains("'many'") && m.contains(">= 1"), m);
        m = analysisError("SELECT glm_generate('hi', 'max_tokens=5')");
        assertTrue(m.contains("MAP<STRING,STRING>"), m);
        m = analysisError("SELECT glm_summarize('doc', 0)");
        assertTrue(m.contains("max_words must be in 1..10000"), m);
    }

    @Test
    void badMaxWordsAndOverlapForLongDocumentsAreRejected() {
        spark.sql("SELECT 'a' AS doc, 1 AS g, 7 AS words").createOrReplaceTempView("agg_docs");
        String m = analysisError("SELECT glm_summarize_agg(doc, 0) FROM agg_docs GROUP BY g");
        assertTrue(m.contains("glm_summarize_agg") && m.contains("max_words must be in 1..10000: 0"), m);
        m = analysisError("SELECT glm_summarize_agg_result(doc, 'many') FROM agg_docs GROUP BY g");
        assertTrue(m.contains("max_words must be an integer in 1..10000: 'many'"), m);
        m = analysisError("SELECT glm_summarize_agg(doc, words) FROM agg_docs GROUP BY g");
        assertTrue(m.contains("max_words must be a literal"), m);
        m = analysisError("SELECT glm_summarize_agg(doc, CAST(NULL AS INT)) FROM agg_docs GROUP BY g");
        assertTrue(m.contains("max_words must not be NULL"), m);
        m = analysisError("SELECT glm_summarize_agg(doc, 10, 2) FROM agg_docs GROUP BY g");
        assertTrue(m.contains("glm_summarize_agg(text [, max_words]) takes 1 or 2 arguments, got 3"), m);
        spark.conf().set("spark.glm.longDocumentPolicy", "mapreduce");
        spark.conf().set("spark.glm.chunkOverlap", "-8");
        m = analysisError("SELECT glm_summarize(doc) FROM agg_docs");
        assertTrue(m.contains("spark.glm.chunkOverlap") && m.contains("'-8'") && m.contains("0..65536"), m);
        spark.conf().set("spark.glm.chunkOverlap", "64");
        spark.conf().set("spark.glm.longDocumentPolicy", "map-reduce");
        m = analysisError("SELECT glm_extract(doc, 'a STRING') FROM agg_docs");
        assertTrue(m.contains("spark.glm.longDocumentPolicy") && m.contains("error, truncate or mapreduce"), m);
    }

    @Test
    void wrongArgumentCountsAreReported() {
        String m = analysisError("SELECT glm_summarize('a', 10, 'b')");
        assertTrue(m.contains("glm_summarize(doc [, max_words]) takes 1 or 2 arguments, got 3"), m);
        m = analysisError("SELECT glm_count_tokens()");
        assertTrue(m.contains("takes 1 argument, got 0"), m);
    }

    @Test
    void registerAddsTheFunctionsToASessionWithoutTheExtension() {
        SparkSession other = spark.newSession();
        GlmFunctions.register(other);
        other.conf().set("spark.glm.model", SharedFiles.tinyQ8().toString());
        assertEquals(1, other.sql("SELECT glm_count_tokens('hello world')").first().getInt(0) > 0 ? 1 : 0);
        String m = assertThrows(Throwable.class, () -> other.sql("SELECT glm_summarize('a', 1, 2)")).getMessage();
        assertTrue(m.contains("takes 1 or 2 arguments"), m);
        assertTrue(spark.sql("DESCRIBE FUNCTION glm_generate").collectAsList().toString().contains("max_tokens"));
    }
}
