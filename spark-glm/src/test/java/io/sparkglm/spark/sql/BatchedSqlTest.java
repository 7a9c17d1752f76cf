package io.sparkglm.spark.sql;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.spark.executor.ExecutorEngines;
import io.sparkglm.spark.executor.GlmMetrics;
import io.sparkglm.spark.testing.ScriptedEngine;
import io.sparkglm.spark.testing.SharedSpark;
import io.sparkglm.testing.SharedFiles;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** SQL functions evaluated in batches within a task: the same rows as one at a time, more of them in the engine. */
class BatchedSqlTest {

    private final SparkSession spark = SharedSpark.session();
    private final AtomicReference<ScriptedEngine> engine = new AtomicReference<>();

    @BeforeEach
    void docs() {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < 40; i++) rows.add(RowFactory.create(i, i % 7 == 0 ? null : "document number " + i + " " + "x".repeat(i)));
        spark.createDataFrame(rows, new StructType().add("id", DataTypes.IntegerType).add("doc", DataTypes.StringType))
                .coalesce(1).createOrReplaceTempView("batch_docs");
    }

    @AfterEach
    void reset() {
        ExecutorEngines.replaceLoaderForTesting(null);
        for (String k : List.of("spark.glm.model", "spark.glm.batchSql", "spark.glm.batchSize", "spark.glm.maxContext",
                "spark.glm.maxNewTokens", "spark.glm.threads")) {
            spark.conf().unset(k);
        }
    }

    private List<Row> run(String sql, boolean batched) {
        spark.conf().set("spark.glm.batchSql", String.valueOf(batched));
        return spark.sql(sql).collectAsList();
    }

    @Test
    void aTaskKeepsBatchSizeRowsInTheEngineAndGivesTheSameRowsInOrder() {
        ScriptedEngine.install(spark, 4096, engine);
        spark.conf().set("spark.glm.batchSize", "8");
        String sql = "SELECT id, upper(doc) AS loud, glm_summarize(doc, 20) AS s, glm_generate_result(doc) AS g, id * 2 AS twice "
                + "FROM batch_docs WHERE id < 35";
        GlmMetrics metrics = GlmMetrics.of(spark.sparkContext());
        List<Row> rowByRow = run(sql, false);
        assertEquals(1, engine.get().maxInFlight.get(), "one task, one row at a time");
        List<Row> batched = run(sql, true);
        int held = engine.get().maxInFlight.get();
        assertTrue(held >= 8, "8 rows x 2 calls in flight, saw " + held);
        assertEquals(rowByRow, batched, "the same rows, in the same order");
        assertEquals(35, batched.size());
        assertEquals(List.of("id", "loud", "s", "g", "twice"), List.of(spark.sql(sql).columns()));
        assertTrue(metrics.maxInFlight.value() >= 8, "metric: " + metrics.maxInFlight.value());
        assertTrue(spark.sql(sql).queryExecution().executedPlan().toString().contains("glm_batch"), "planned as a batch");
        for (Row r : batched) assertEquals(r.isNullAt(1), r.isNullAt(2), "NULL in, NULL out: " + r);
    }

    @Test
    void underALimitNoMoreRowsStartThanTheLimit() {
        ScriptedEngine.install(spark, 4096, engine);
        List<Row> rows = run("SELECT id, glm_summarize(doc) AS s FROM batch_docs WHERE doc IS NOT NULL LIMIT 5", true);
        assertEquals(5, rows.size());
        assertEquals(5, engine.get().requests.size(), "only the rows the limit lets through reach the engine");
        assertEquals(5, engine.get().maxInFlight.get(), "all five at once");
    }

    @Test
    void callsUnderAConditionRunOnlyWhereTheConditionHolds() {
        ScriptedEngine.install(spark, 4096, engine);
        List<Row> rows = run("SELECT id, CASE WHEN id >= 30 THEN glm_summarize(doc) END AS s FROM batch_docs", true);
        assertEquals(40, rows.size());
        assertEquals(9, engine.get().requests.size(), "ids 30..39 but 35 (NULL doc) reach the engine");
        assertFalse(spark.sql("SELECT CASE WHEN id >= 30 THEN glm_summarize(doc) END FROM batch_docs")
                .queryExecution().executedPlan().toString().contains("glm_batch"));
    }

    @Test
    void theRealEngineGivesTheSameValuesBatchedAndRowByRow() {
        spark.conf().set("spark.glm.model", SharedFiles.tinyQ8().toString());
        spark.conf().set("spark.glm.maxContext", "512");
        spark.conf().set("spark.glm.maxNewTokens", "12");
        spark.conf().set("spark.glm.threads", "2");
        String sql = "SELECT id, glm_summarize_result(doc, 10) AS s, glm_extract(doc, 'n INT, tags ARRAY<STRING>') AS x, "
                + "glm_classify(doc, array('short', 'long')) AS c FROM batch_docs WHERE id % 3 = 0 ORDER BY id";
        List<Row> rowByRow = run(sql, false);
        List<Row> batched = run(sql, true);
        assertEquals(rowByRow, batched);
        assertEquals(14, batched.size());
        assertTrue(batched.stream().filter(r -> !r.isNullAt(1)).allMatch(r -> r.getStruct(1).isNullAt(5)), "no row failed");
    }
}
