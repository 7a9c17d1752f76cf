package io.sparkglm.spark.sql;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.model.GgmlType;
import io.sparkglm.model.TinyModels;
import io.sparkglm.spark.executor.ExecutorEngines;
import io.sparkglm.spark.executor.InferenceEngine;
import io.sparkglm.spark.testing.SharedSpark;
import io.sparkglm.testing.FaultyBackendProvider;
import io.sparkglm.testing.FaultyBackendProvider.Fault;
import io.sparkglm.testing.FaultyBackendProvider.Kind;
import io.sparkglm.testing.SharedFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A real engine whose backend fails (backend "faulty" from the engine's test jar: the CPU backend with a fault
 * injected at a chosen forward call) under the SQL functions on local[2]: every case ends in seconds with the task
 * failed by the engine's cause, never with NULL rows that hide it and never with a hang; the failed engine is dropped,
 * so the next query works on a fresh one. Also: a model with padding output rows answers every row when sampling hot.
 */
class EngineFailureSqlTest {

    private final SparkSession spark = SharedSpark.session();
    private static final Map<String, String> CONF = Map.of("spark.glm.maxNewTokens", "12", "spark.glm.maxContext", "512",
            "spark.glm.threads", "1");

    @BeforeAll
    static void faultyEngines() {
        SparkSession spark = SharedSpark.session();
        CONF.forEach(spark.conf()::set);
        spark.conf().set("spark.glm.model", SharedFiles.tinyQ8().toString());
        List<String> docs = new ArrayList<>();
        for (int i = 0; i < 8; i++) docs.add("Document " + i + ": the parties agree on terms, dates and amounts, item " + i + ".");
        spark.createDataset(docs, Encoders.STRING()).toDF("doc").repartition(2).createOrReplaceTempView("fault_docs");
    }

    /** Closes the engines earlier tests left loaded, so the next row loads one with the fault armed by the test. */
    @BeforeEach
    void freshEngines() {
        ExecutorEngines.replaceLoaderForTesting(o -> InferenceEngine.load(o.withBackend(FaultyBackendProvider.NAME)));
    }

    @AfterEach
    void disarm() {
        FaultyBackendProvider.arm(null);
        FaultyBackendProvider.releaseHung();
        spark.conf().unset("spark.glm.stepTimeout");
    }

    @AfterAll
    static void restore() {
        ExecutorEngines.replaceLoaderForTesting(null);
        SparkSession spark = SharedSpark.session();
        CONF.keySet().forEach(spark.conf()::unset);
        for (String k : List.of("spark.glm.model", "spark.glm.temperature", "spark.glm.seed")) spark.conf().unset(k);
    }

    /** Runs the query under an armed fault: it must fail within {@code seconds}, naming the engine and the cause. */
    private Throwable failsWithin(int seconds, String query, String... causeParts) {
        long start = System.nanoTime();
        Throwable thrown = assertThrows(Throwable.class, () -> spark.sql(query).collectAsList());
        long elapsed = (System.nanoTime() - start) / 1_000_000_000;
        assertTrue(elapsed < seconds, "failed after " + elapsed + " s");
        String chain = messages(thrown);
        assertTrue(chain.contains("the engine on this executor failed"), chain);
        for (String part : causeParts) assertTrue(chain.contains(part), "no '" + part + "' in: " + chain);
        return thrown;
    }

    private static String messages(Throwable t) {
        StringBuilder b = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) b.append(c).append(" | ");
        return b.toString();
    }

    /** After a failure, the next query loads a fresh engine and every row gets an answer. */
    private void nextQueryWorksOnAFreshEngine() {
        int loads = ExecutorEngines.loads();
        List<Row> rows = spark.sql("SELECT glm_summarize_result(doc, 5) AS r FROM fault_docs").collectAsList();
        assertEquals(8, rows.size());
        for (Row r : rows) assertNull(r.getStruct(0).getAs("error"), r.toString());
        // Every row answered: the failed engine is gone. The fresh one is loaded by this query, or already by a task of
        // the failed query that asked for the engine after it failed (tasks run side by side), never more than one.
        assertTrue(ExecutorEngines.loads() <= loads + 1, "at most one fresh engine: " + (ExecutorEngines.loads() - loads));
    }

    @Test
    @Timeout(120)
    void anExceptionInAStepFailsTheTaskWithItsCauseNotNullRows() {
        FaultyBackendProvider.arm(new Fault(Kind.THROW, 3));
        failsWithin(30, "SELECT glm_summarize(doc) FROM fault_docs", "injected fault at forward call 3");
        nextQueryWorksOnAFreshEngine();
    }

    @Test
    @Timeout(120)
    void anErrorInAStepFailsTheTask() {
        FaultyBackendProvider.arm(new Fault(Kind.ERROR, 2));
        failsWithin(30, "SELECT glm_generate_result(doc) FROM fault_docs", "OutOfMemoryError", "injected Error");
        nextQueryWorksOnAFreshEngine();
    }

    @Test
    @Timeout(120)
    void aHungStepFailsTheTaskAfterTheStepTimeout() {
        spark.conf().set("spark.glm.stepTimeout", "2s");
        FaultyBackendProvider.arm(new Fault(Kind.HANG, 2));
        failsWithin(30, "SELECT glm_summarize(doc) FROM fault_docs", "step timeout of 2000 ms");
        assertTrue(FaultyBackendProvider.hungCalls() > 0, "a forward call really hung");
        FaultyBackendProvider.releaseHung();
        nextQueryWorksOnAFreshEngine();
    }

    @Test
    @Timeout(120)
    void extractionAndClassificationFailTheTaskToo() {
        FaultyBackendProvider.arm(new Fault(Kind.THROW, 2));
        failsWithin(30, "SELECT glm_extract(doc, 'party STRING') FROM fault_docs", "injected fault");
        FaultyBackendProvider.arm(new Fault(Kind.THROW, 1));
        failsWithin(30, "SELECT glm_classify(doc, array('legal', 'other')) FROM fault_docs", "injected fault");
        nextQueryWorksOnAFreshEngine();
    }

    /**
     * The job: a model with more output rows than tokens (as the real glm-4-9b-chat-1m: 151,552 rows, 151,343
     * tokens) sampled at temperature 1.5 on local[2]; before, a padding id killed the scheduler and the job hung.
     */
    @Test
    @Timeout(180)
    void aModelWithPaddingRowsAnswersEveryRowAtTemperature1_5() throws Exception {
        Path model = Files.createTempDirectory("glm-padded").resolve("padded.gguf");
        TinyModels.writeGguf(new TinyModels.Spec(128, 2, 4, 2, 288, 512, 5e6, GgmlType.Q8_0, 5, 4096), model, SharedFiles.tinyQ8());
        spark.conf().set("spark.glm.model", model.toString());
        spark.conf().set("spark.glm.temperature", "1.5");
        spark.conf().set("spark.glm.seed", "7");
        try {
            List<String> docs = new ArrayList<>();
            for (int i = 0; i < 24; i++) docs.add("Row " + i + " of a padded-vocabulary job: summarize me, item " + i + ".");
            spark.createDataset(docs, Encoders.STRING()).toDF("body").repartition(2).createOrReplaceTempView("padded_docs");
            List<Row> rows = spark.sql("SELECT glm_summarize_result(body, 16) AS r FROM padded_docs").collectAsList();
            assertEquals(24, rows.size());
            int generated = 0;
            for (Row row : rows) {
                Row r = row.getStruct(0);
                assertNull(r.getAs("error"), r.toString());
                assertNotNull(r.getAs("text"), r.toString());
                generated += r.<Integer>getAs("completion_tokens");
            }
            assertTrue(generated > 24 * 8, "too few sampled tokens to have met a padding row: " + generated);
        } finally {
            spark.conf().set("spark.glm.model", SharedFiles.tinyQ8().toString());
            spark.conf().unset("spark.glm.temperature");
            spark.conf().unset("spark.glm.seed");
        }
    }
}
