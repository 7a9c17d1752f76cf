package io.sparkglm.spark.sql;

import io.sparkglm.spark.task.Summarizer;
import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.generate.Engine;
import io.sparkglm.generate.EngineOptions;
import io.sparkglm.generate.GenerationRequest;
import io.sparkglm.generate.GenerationResult;
import io.sparkglm.generate.SamplingParams;
import io.sparkglm.spark.testing.SharedSpark;
import io.sparkglm.testing.SharedFiles;
import io.sparkglm.tokenizer.ChatMessage;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** SQL on local[2] gives exactly what the engine gives when called directly (tiny random model, greedy). */
class RealEngineSqlTest {

    // Looked up per test: the local-cluster test stops the shared session, and it is restarted on demand.
    private final SparkSession spark = SharedSpark.session();
    static final List<String> DOCS = List.of(
            "The contract starts on 1 March and runs for two years unless either party ends it.",
            "Manual: press the red button, wait for the light, then turn the dial to position three.",
            "Transcript. A: are we ready? B: almost, the slides are missing. A: then we wait.",
            "Short.", "Numbers 12345 and symbols #@! mixed with \u00e9t\u00e9 and \u4e2d\u6587 text.");

    @BeforeAll
    static void conf() {
        SparkSession spark = SharedSpark.session();
        spark.conf().set("spark.glm.model", SharedFiles.tinyQ8().toString());
        spark.conf().set("spark.glm.maxNewTokens", "12");
        spark.conf().set("spark.glm.maxContext", "512");
        spark.conf().set("spark.glm.threads", "1");
    }

    @AfterAll
    static void unset() {
        SparkSession spark = SharedSpark.session();
        for (String k : List.of("spark.glm.model", "spark.glm.maxNewTokens", "spark.glm.maxContext", "spark.glm.threads")) {
            spark.conf().unset(k);
        }
    }

    static List<GenerationResult> direct(List<GenerationRequest> requests) {
        EngineOptions options = EngineOptions.defaults(SharedFiles.tinyQ8().toAbsolutePath().normalize())
                .withThreads(1).withMaxContext(512);
        try (Engine engine = Engine.load(options)) {
            return engine.generate(requests);
        }
    }

    @Test
    void summariesEqualTheEngineCalledDirectly() {
        spark.createDataset(DOCS, org.apache.spark.sql.Encoders.STRING()).toDF("doc").repartition(2).createOrReplaceTempView("docs");
        List<Row> rows = spark.sql("SELECT doc, glm_summarize_result(doc, 20) AS r FROM docs").collectAsList();
        assertEquals(DOCS.size(), rows.size());
        List<GenerationRequest> requests = new ArrayList<>();
        for (Row row : rows) {
            requests.add(GenerationRequest.chat(List.of(ChatMessage.system(Summarizer.SYSTEM),
                    ChatMessage.user(Summarizer.instruction(20) + "\n\n" + row.getString(0))),
                    Summarizer.maxTokens(20, 12), SamplingParams.GREEDY));
        }
        List<GenerationResult> expected = direct(requests);
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i).getStruct(1);
            GenerationResult e = expected.get(i);
            assertTrue(e.ok(), e.error());
            assertEquals(e.text(), r.getString(0), "row " + i);
            assertEquals(e.finishReason().sqlName(), r.getString(1));
            assertEquals(e.promptTokens(), r.getInt(2));
            assertEquals(e.completionTokens(), r.getInt(3));
            assertTrue(e.completionTokens() > 0);
        }
    }

    @Test
    void generateWithOptionsEqualsTheEngineAndIsReproducible() {
        // A real (repartitioned) table, not VALUES: the function and its options are serialized to tasks.
        spark.createDataset(java.util.Arrays.asList("What is a contract?", "Say hello.", null),
                org.apache.spark.sql.Encoders.STRING()).toDF("p").repartition(2).createOrReplaceTempView("prompts");
        String sql = "SELECT p, glm_generate(p, map('system', 'Answer briefly.', 'max_tokens', '6')) AS a "
                + "FROM prompts ORDER BY p";
        List<Row> first = spark.sql(sql).collectAsList();
        assertEquals(first, spark.sql(sql).collectAsList(), "same input, same output");
        assertTrue(first.get(0).isNullAt(1));
        List<GenerationRequest> requests = new ArrayList<>();
        for (Row row : first.subList(1, 3)) {
            requests.add(GenerationRequest.chat(List.of(ChatMessage.system("Answer briefly."), ChatMessage.user(row.getString(0))),
                    6, SamplingParams.GREEDY));
        }
        List<GenerationResult> expected = direct(requests);
        assertEquals(expected.get(0).text(), first.get(1).getString(1));
        assertEquals(expected.get(1).text(), first.get(2).getString(1));
    }

    @Test
    void tooLongPromptFailsOnlyItsRow() {
        String huge = "lorem ipsum dolor sit amet ".repeat(400); // far beyond the 512-token context
        spark.createDataset(List.of(huge, "fine"), org.apache.spark.sql.Encoders.STRING()).toDF("p").createOrReplaceTempView("long_prompts");
        List<Row> rows = spark.sql("SELECT p = 'fine', glm_generate_result(p) FROM long_prompts ORDER BY 1").collectAsList();
        Row tooLong = rows.get(0).getStruct(1);
        assertEquals("error", tooLong.getString(1));
        assertTrue(tooLong.getString(5).contains("longDocumentPolicy=mapreduce to read it in parts, truncate"), tooLong.getString(5));
        assertEquals("length", rows.get(1).getStruct(1).getString(1));
    }
}
