package io.sparkglm.spark.sql;

import io.sparkglm.spark.task.Summarizer;
import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.spark.executor.ExecutorEngines;
import io.sparkglm.spark.executor.GlmMetrics;
import io.sparkglm.spark.executor.GlmRunner;
import io.sparkglm.spark.testing.ScriptedEngine;
import io.sparkglm.spark.testing.SharedSpark;
import io.sparkglm.testing.SharedFiles;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The SQL functions' row semantics (NULL, empty, failed, too long, options, metrics, no lost rows) on local[2]
 * with a scripted engine: the same code path as the real engine from the function down to engine.submit.
 */
class ScriptedEngineSqlTest {

    // Looked up per test: the local-cluster test stops the shared session, and it is restarted on demand.
    private final SparkSession spark = SharedSpark.session();
    private final AtomicReference<ScriptedEngine> engine = new AtomicReference<>();

    @BeforeEach
    void scriptTheEngine() {
        ScriptedEngine.install(spark, 400, engine);
    }

    @AfterEach
    void reset() {
        for (String key : List.of("spark.glm.model", "spark.glm.onError", "spark.glm.longDocumentPolicy", "spark.glm.seed")) {
            spark.conf().unset(key);
        }
    }

    @AfterAll
    static void realEngineAgain() {
        ExecutorEngines.replaceLoaderForTesting(null);
    }

    @Test
    void summarizeGivesOneAnswerPerRowAndNullForNull() {
        List<Row> rows = spark.sql("SELECT id, glm_summarize(doc) FROM VALUES (1, 'a short document'), (2, NULL), "
                + "(3, 'another one, longer than the first') AS t(id, doc) ORDER BY id").collectAsList();
        assertEquals(3, rows.size());
        assertEquals("answer[2 turns, user " + (Summarizer.instruction(100).length() + 2 + 16) + " chars, max 216, seed 0]",
                rows.get(0).getString(1));
        assertTrue(rows.get(1).isNullAt(1));
        assertTrue(rows.get(2).getString(1).startsWith("answer[2 turns"), rows.get(2).getString(1));
        assertEquals(2, engine.get().requests.size(), "NULL must not reach the engine");
    }

    /**
     * A literal document is not constant-folded: the model runs once, in a task, however often the query refers to
     * the result (folded, it ran on the driver while the query was optimized, once per reference).
     */
    @Test
    void aLiteralDocumentRunsOnceInATaskNotWhileTheQueryIsOptimized() {
        List<Row> rows = spark.sql("SELECT r.text, r.finish_reason, r.prompt_tokens, r.error "
                + "FROM (SELECT glm_summarize_result('A literal contract: the supplier delivers in March.', 10) AS r)").collectAsList();
        assertEquals(1, rows.size());
        assertTrue(rows.get(0).getString(0).startsWith("answer[2 turns"), rows.get(0).toString());
        assertEquals(1, engine.get().requests.size(), "one row, one request");
        assertFalse(engine.get().submitThreads.stream().anyMatch(t -> t.equals(Thread.currentThread().getName())),
                "submitted from " + engine.get().submitThreads + ", not from the thread that planned the query");
    }

    @Test
    void emptyDocumentGivesAnEmptySummaryWithoutInference() {
        Row r = spark.sql("SELECT glm_summarize(''), glm_summarize_result('   ')").first();
        assertEquals("", r.getString(0));
        assertEquals("stop", r.getStruct(1).getString(1));
        assertTrue(engine.get() == null || engine.get().requests.isEmpty());
    }

    @Test
    void failedRowIsNullCountedAndExplainedInTheResultStruct() {
        GlmMetrics m = GlmMetrics.of(spark.sparkContext());
        long failedBefore = m.failedRows.value();
        long rowsBefore = m.rows.value();
        List<Row> rows = spark.sql("SELECT p, glm_generate(p), glm_generate_result(p) FROM VALUES ('fine'), ('please FAIL_ME') "
                + "AS t(p) ORDER BY p").collectAsList();
        assertEquals("fine", rows.get(0).getString(0));
        assertNotNull(rows.get(0).getString(1));
        assertEquals("length", rows.get(0).getStruct(2).getString(1));
        assertTrue(rows.get(1).isNullAt(1));
        Row failed = rows.get(1).getStruct(2);
        assertTrue(failed.isNullAt(0));
        assertEquals("error", failed.getString(1));
        assertEquals("scripted failure", failed.getString(5));
        assertEquals(2, m.failedRows.value() - failedBefore, "two failed evaluations (text and struct)");
        assertEquals(4, m.rows.value() - rowsBefore);
    }

    @Test
    void onErrorFailFailsTheTask() {
        spark.conf().set("spark.glm.onError", "fail");
        var e = assertThrows(Exception.class, () -> spark.sql("SELECT glm_generate(p) FROM VALUES ('ok'), ('FAIL_ME') AS t(p)").collect());
        Throwable t = e;
        while (t.getCause() != null && !(t instanceof GlmRunner.GlmRowException)) t = t.getCause();
        assertInstanceOf(GlmRunner.GlmRowException.class, t, "the job fails because of the row");
        assertTrue(t.getMessage().contains("spark.glm.onError=fail") && t.getMessage().contains("scripted failure"), t.getMessage());
    }

    @Test
    void longDocumentIsAnErrorByDefaultAndCutWhenTruncating() {
        String huge = "word ".repeat(2000); // 2500 scripted tokens, context 400
        spark.createDataset(List.of(huge), Encoders.STRING()).toDF("doc").createOrReplaceTempView("huge");
        Row error = spark.sql("SELECT glm_summarize_result(doc, 50) FROM huge").first().getStruct(0);
        assertEquals("error", error.getString(1));
        assertTrue(error.getString(5).contains("2500 tokens") && error.getString(5).contains("longDocumentPolicy=mapreduce to read it in parts, truncate"),
                error.getString(5));

        spark.conf().set("spark.glm.longDocumentPolicy", "truncate");
        Row cut = spark.sql("SELECT glm_summarize_result(doc, 50) FROM huge").first().getStruct(0);
        assertEquals("length", cut.getString(1));
        assertTrue(cut.getBoolean(4), "truncation is visible");
        ScriptedEngine e = engine.get();
        String user = e.userTurns().getLast();
        int budget = 400 - 116 - 16 - e.countTokens(Summarizer.SYSTEM) - e.countTokens(Summarizer.instruction(50));
        int docTokens = e.countTokens(user.substring(Summarizer.instruction(50).length() + 2));
        assertTrue(docTokens <= budget && docTokens > budget - 20, docTokens + " tokens for a budget of " + budget);
        assertTrue(huge.startsWith(user.substring(Summarizer.instruction(50).length() + 2)), "keeps the beginning");
    }

    @Test
    void mapreduceSendsEveryChunkTogetherThenCombinesTheirAnswersInOrder() {
        spark.conf().set("spark.glm.longDocumentPolicy", "mapreduce");
        StringBuilder doc = new StringBuilder();
        for (int p = 0; p < 40; p++) doc.append("Paragraph ").append(p).append(" says something about the contract. ".repeat(3)).append("\n\n");
        spark.createDataset(List.of(doc.toString()), Encoders.STRING()).toDF("doc").createOrReplaceTempView("parts");
        Row r = spark.sql("SELECT glm_summarize_result(doc, 20) FROM parts").first().getStruct(0);
        assertNull(r.getString(5), r.toString());
        ScriptedEngine e = engine.get();
        List<String> turns = e.userTurns();
        int chunks = r.getInt(6);
        assertTrue(chunks >= 3, "chunks: " + chunks);
        assertTrue(e.maxInFlight.get() >= chunks, "a row's chunks are in the engine together: " + e.maxInFlight.get());
        for (int i = 0; i < chunks; i++) {
            assertTrue(turns.get(i).startsWith("Summarize the following part of a longer document in at most 20 words."), turns.get(i));
        }
        // Every part of the document is read, in order, each ending at a paragraph break.
        StringBuilder read = new StringBuilder();
        for (int i = 0; i < chunks; i++) read.append(turns.get(i).substring(turns.get(i).indexOf("\n\n") + 2));
        assertEquals(doc.toString().stripTrailing(), read.toString().stripTrailing());
        String combine = turns.get(chunks);
        assertTrue(combine.startsWith("The following are summaries of consecutive parts of one document, in order."), combine);
        assertTrue(combine.contains("answer[2 turns"), "the combining call reads the parts' answers: " + combine);
        assertTrue(r.getInt(7) >= 2, "levels: " + r);
        for (String t : turns.subList(chunks, turns.size())) {
            assertTrue(t.startsWith("The following are summaries of consecutive parts"), "after the map, only combining calls: " + t);
        }
        assertEquals(e.requests.size() * 3, r.getInt(3), "every call's generated tokens (3 each) are counted");
    }

    @Test
    void literalOptionsReachTheRequestAndRowOptionsAreParsedPerRow() {
        Row r = spark.sql("SELECT glm_generate('hi', map('system', 'Be brief.', 'max_tokens', '7', 'seed', '3'))").first();
        assertEquals("answer[2 turns, user 2 chars, max 7, seed 3]", r.getString(0));
        List<Row> rows = spark.sql("SELECT id, glm_generate_result('hi', map('max_tokens', mt)) FROM VALUES (1, '5'), (2, 'lots') "
                + "AS t(id, mt) ORDER BY id").collectAsList();
        assertEquals("answer[1 turns, user 2 chars, max 5, seed 0]", rows.get(0).getStruct(1).getString(0));
        assertTrue(rows.get(1).getStruct(1).getString(5).contains("'max_tokens'"), "a bad per-row option fails only its row");
    }

    @Test
    void datasetPathKeepsBatchSizeRowsOfOnePartitionInFlightAndMatchesSql() {
        spark.conf().set("spark.glm.batchSize", "4");
        try {
            List<String> docs = new java.util.ArrayList<>();
            for (int i = 0; i < 10; i++) docs.add(i == 3 ? null : i == 5 ? "" : "document number " + i + " ".repeat(i));
            var df = spark.createDataset(docs, Encoders.STRING()).toDF("doc").coalesce(1);
            List<Row> batched = GlmDatasets.summarize(df, "doc", 30).collectAsList();
            assertEquals(4, engine.get().maxInFlight.get(), "one task keeps batchSize rows in the engine");
            df.createOrReplaceTempView("ten");
            List<Row> sql = spark.sql("SELECT doc, glm_summarize_result(doc, 30) FROM ten").collectAsList();
            assertEquals(10, batched.size());
            for (int i = 0; i < 10; i++) {
                Row b = batched.get(i);
                assertEquals(docs.get(i), b.getString(0), "input order kept");
                Row s = sql.get(i).isNullAt(1) ? null : sql.get(i).getStruct(1);
                if (s == null) {
                    assertTrue(b.isNullAt(1) && b.isNullAt(2));
                    continue;
                }
                for (int f = 0; f < 6; f++) assertEquals(s.get(f), b.get(f + 1), "row " + i + " field " + f);
            }
        } finally {
            spark.conf().unset("spark.glm.batchSize");
        }
    }

    @Test
    void countTokensUsesTheModelTokenizerAndKeepsNull() {
        String text = "The quick brown fox, 12345 times; \u00e9t\u00e9 \u4e2d\u6587.";
        spark.createDataset(java.util.Arrays.asList(text, null, ""), Encoders.STRING()).toDF("t").createOrReplaceTempView("texts");
        List<Row> rows = spark.sql("SELECT glm_count_tokens(t) FROM texts").collectAsList();
        var tokenizer = io.sparkglm.tokenizer.GlmTokenizer.load(SharedFiles.tinyQ8());
        assertEquals(tokenizer.encode(text).length, rows.get(0).getInt(0));
        assertTrue(rows.get(0).getInt(0) > 5);
        assertTrue(rows.get(1).isNullAt(0));
        assertEquals(0, rows.get(2).getInt(0));
        assertEquals("glm_count_tokens(t)", spark.sql("SELECT glm_count_tokens(t) FROM texts").columns()[0]);
        assertTrue(engine.get() == null, "counting loads no engine");
    }

    @Test
    void everyRowComesBackOnceWithMetricsAndOneEngineForConcurrentTasks() {
        GlmMetrics m = GlmMetrics.of(spark.sparkContext());
        long rowsBefore = m.rows.value(), promptBefore = m.promptTokens.value(), genBefore = m.generatedTokens.value();
        int loadsBefore = ExecutorEngines.loads();
        List<Row> rows = spark.sql("SELECT id, glm_generate(concat('question ', id), map('seed', cast(id AS STRING))) AS a "
                + "FROM range(0, 60, 1, 4)").collectAsList();
        assertEquals(60, rows.size());
        Map<Long, String> byId = new HashMap<>();
        for (Row r : rows) assertNull(byId.put(r.getLong(0), r.getString(1)), "duplicate row " + r);
        for (long id = 0; id < 60; id++) {
            assertEquals("answer[1 turns, user " + ("question " + id).length() + " chars, max 256, seed " + id + "]", byId.get(id));
        }
        assertEquals(1, ExecutorEngines.loads() - loadsBefore, "one engine shared by both task threads");
        // Each task holds its 15 rows in the engine at once (batched SQL); more than 15 means both tasks' rows overlap.
        int held = engine.get().maxInFlight.get();
        assertTrue(held > 15 && held <= 30, "rows of the two concurrent tasks overlap in the engine: " + held);
        assertEquals(60, m.rows.value() - rowsBefore);
        assertEquals(180, m.generatedTokens.value() - genBefore);
        assertTrue(m.promptTokens.value() - promptBefore >= 60 * 7);
    }
}
