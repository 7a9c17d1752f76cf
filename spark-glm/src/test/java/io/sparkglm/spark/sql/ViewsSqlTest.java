package io.sparkglm.spark.sql;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.spark.executor.ExecutorEngines;
import io.sparkglm.spark.testing.ScriptedEngine;
import io.sparkglm.spark.testing.SharedSpark;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The glm_* functions and format("glm") inside views, CTEs and cached relations (issue 13). Spark analyzes a view
 * under the SQL conf captured when it was created, which never holds spark.glm.*: the functions and the source
 * must take their settings from the session running the query. Each test sets spark.glm.seed after creating
 * its view and checks the scripted engine's answer carries that seed: the session at query time wins (a DataFrame
 * built with the functions is analyzed once, when built, and keeps the settings of that moment).
 */
class ViewsSqlTest {

    /**
     * Two documents from range(), not a temporary view (a persistent view may not reference one) nor inline VALUES
     * (the optimizer evaluates deterministic functions over a local relation on the driver, more than once).
     */
    private static final String DOCS = "(SELECT id, CASE id WHEN 1 THEN 'invoice from ACME' ELSE 'a letter' END AS text "
            + "FROM range(1, 3, 1, 1)) AS docs";

    private final SparkSession spark = SharedSpark.session();
    private final AtomicReference<ScriptedEngine> engine = new AtomicReference<>();
    @TempDir static Path dir;

    @BeforeEach
    void scriptTheEngine() {
        ScriptedEngine.install(spark, 4000, engine);
    }

    @AfterEach
    void reset() {
        spark.conf().unset("spark.glm.model");
        spark.conf().unset("spark.glm.seed");
    }

    @AfterAll
    static void realEngineAgain() {
        ExecutorEngines.replaceLoaderForTesting(null);
    }

    /** Summaries (id order) of a query whose second column is a glm_summarize text or result struct. */
    private static List<String> texts(Dataset<Row> df) {
        return df.orderBy("id").collectAsList().stream()
                .map(r -> r.get(1) instanceof Row s ? s.getString(0) : r.getString(1)).toList();
    }

    private static void assertSeed(long seed, List<String> answers) {
        assertEquals(2, answers.size(), answers.toString());
        for (String a : answers) assertTrue(a != null && a.startsWith("answer[") && a.endsWith("seed " + seed + "]"), a);
    }

    /** glm_extract's column: a struct of the requested fields, and one extraction request per document. */
    private void assertExtracted(Dataset<Row> df, String column, int requestsBefore) {
        StructType type = (StructType) df.schema().apply(column).dataType();
        assertEquals(List.of("vendor"), List.of(type.fieldNames()));
        assertEquals(2, df.collectAsList().size());
        long extractions = engine.get().requests.stream().skip(requestsBefore).filter(r -> r.constraint() != null).count();
        assertEquals(2, extractions, "one constrained request per document");
    }

    @Test
    void temporaryViewUsesTheSessionSettingsAtQueryTime() {
        spark.sql("CREATE OR REPLACE TEMPORARY VIEW tv AS SELECT id, glm_summarize_result(text) AS s, "
                + "glm_extract(text, 'vendor STRING') AS r FROM " + DOCS);
        spark.conf().set("spark.glm.seed", "42");
        assertSeed(42, texts(spark.sql("SELECT id, s FROM tv")));
        assertExtracted(spark.sql("SELECT r FROM tv"), "r", 0);
        spark.conf().set("spark.glm.seed", "7");
        assertSeed(7, texts(spark.sql("SELECT * FROM tv")));
    }

    @Test
    void globalTemporaryView() {
        spark.sql("CREATE OR REPLACE GLOBAL TEMPORARY VIEW gv AS SELECT id, glm_summarize(text) AS s, "
                + "glm_extract(text, 'vendor STRING') AS r FROM " + DOCS);
        spark.conf().set("spark.glm.seed", "42");
        assertSeed(42, texts(spark.sql("SELECT id, s FROM global_temp.gv")));
        assertExtracted(spark.sql("SELECT r FROM global_temp.gv"), "r", 0);
    }

    @Test
    void cteOnItsOwnAndInsideAView() {
        String cte = "WITH d AS (SELECT id, glm_summarize_result(text) AS s, glm_extract(text, 'vendor STRING') AS r FROM "
                + DOCS + ") SELECT id, s, r FROM d";
        spark.conf().set("spark.glm.seed", "5");
        assertSeed(5, texts(spark.sql(cte)));
        spark.sql("CREATE OR REPLACE TEMPORARY VIEW cv AS " + cte);
        spark.conf().set("spark.glm.seed", "42");
        assertSeed(42, texts(spark.sql("SELECT id, s FROM cv")));
        int before = engine.get().requests.size();
        assertExtracted(spark.sql("SELECT r FROM cv"), "r", before);
    }

    @Test
    void cachedViewsAndTablesRunTheModelOnce() {
        spark.conf().set("spark.glm.seed", "42");
        try {
            spark.sql("CACHE TABLE ct AS SELECT id, glm_summarize_result(text) AS s FROM " + DOCS);
            assertSeed(42, texts(spark.sql("SELECT * FROM ct")));
            assertSeed(42, texts(spark.sql("SELECT * FROM ct")));
            assertEquals(2, engine.get().requests.size(), "CACHE TABLE ... AS ran the model once per row, then reads the cache");

            spark.sql("CREATE OR REPLACE TEMPORARY VIEW cached_view AS SELECT id, glm_extract(text, 'vendor STRING') AS r FROM "
                    + DOCS);
            spark.sql("CACHE TABLE cached_view");
            assertExtracted(spark.table("cached_view"), "r", 2);
            spark.table("cached_view").collectAsList();
            assertEquals(4, engine.get().requests.size(), "the cached view ran once");

            Dataset<Row> df = spark.sql("SELECT * FROM ct").join(spark.table("cached_view"), "id")
                    .selectExpr("id", "glm_summarize(concat(s.text, ' again')) AS t", "r");
            df.cache();
            spark.conf().set("spark.glm.seed", "9");
            // a DataFrame is analyzed once, when it is built: its functions keep the settings of that moment
            assertSeed(42, texts(df));
            assertSeed(42, texts(df));
            assertEquals(6, engine.get().requests.size(), "df.cache(): two more rows, run once");
        } finally {
            spark.sql("UNCACHE TABLE IF EXISTS ct");
            spark.sql("UNCACHE TABLE IF EXISTS cached_view");
            spark.catalog().clearCache();
        }
    }

    @Test
    void persistentViewInTheDefaultCatalog() {
        // The functions come from spark.sql.extensions (injectFunction): Spark does not count them as temporary
        // functions, so CREATE VIEW accepts them (it refuses functions registered per session as temporary).
        spark.sql("CREATE OR REPLACE VIEW default.glm_persistent AS SELECT id, glm_summarize_result(text) AS s, "
                + "glm_extract(text, 'vendor STRING') AS r FROM " + DOCS);
        try {
            spark.conf().set("spark.glm.seed", "42");
            assertSeed(42, texts(spark.sql("SELECT id, s FROM default.glm_persistent")));
            assertExtracted(spark.sql("SELECT r FROM default.glm_persistent"), "r", 0);
        } finally {
            spark.sql("DROP VIEW IF EXISTS default.glm_persistent");
        }
    }

    @Test
    void glmSourceInTemporaryAndPersistentViews() {
        String docs = dir.resolve("docs").toString();
        spark.sql("SELECT id, text FROM " + DOCS).coalesce(1).write().mode("overwrite").parquet(docs);
        String options = " OPTIONS (path '" + docs + "', textColumn 'text', task 'summarize')";

        // the table is built when the view is created; the settings are the session's when a query runs
        spark.sql("CREATE OR REPLACE TEMPORARY VIEW source_view USING glm" + options);
        spark.conf().set("spark.glm.seed", "42");
        assertSeed(42, texts(spark.sql("SELECT id, summary FROM source_view")));
        spark.sql("CREATE OR REPLACE TEMPORARY VIEW over_source AS SELECT id, summary FROM source_view");
        spark.conf().set("spark.glm.seed", "43");
        assertSeed(43, texts(spark.sql("SELECT * FROM over_source")));

        // a table in the default (in-memory) catalog, and a persistent view over it
        spark.sql("CREATE TABLE default.glm_docs USING glm" + options);
        try {
            spark.sql("CREATE OR REPLACE VIEW default.glm_docs_view AS SELECT id, summary FROM default.glm_docs");
            assertSeed(43, texts(spark.sql("SELECT id, summary FROM default.glm_docs")));
            spark.conf().set("spark.glm.seed", "44");
            assertSeed(44, texts(spark.sql("SELECT * FROM default.glm_docs_view")));
        } finally {
            spark.sql("DROP VIEW IF EXISTS default.glm_docs_view");
            spark.sql("DROP TABLE IF EXISTS default.glm_docs");
        }
    }
}
