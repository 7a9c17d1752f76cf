package io.sparkglm.spark.source;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.spark.task.ExtractTypes;
import io.sparkglm.spark.testing.SharedSpark;
import io.sparkglm.testing.SharedFiles;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.IntStream;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * format("glm") with the real engine (tiny random model, greedy) gives what glm_summarize_result, glm_extract and
 * glm_classify_result give.
 */
class RealEngineDataSourceTest {

    // Set when the class starts, not when it loads: the local-cluster test (run last) stops the shared session.
    private static SparkSession spark;
    private static final List<String> SETTINGS = List.of("spark.glm.model", "spark.glm.maxNewTokens", "spark.glm.maxContext",
            "spark.glm.threads");
    @TempDir static Path dir;

    @BeforeAll
    static void conf() {
        spark = SharedSpark.session();
        spark.conf().set("spark.glm.model", SharedFiles.tinyQ8().toString());
        spark.conf().set("spark.glm.maxNewTokens", "10");
        spark.conf().set("spark.glm.maxContext", "512");
        spark.conf().set("spark.glm.threads", "1");
    }

    @AfterAll
    static void unset() {
        SETTINGS.forEach(spark.conf()::unset);
    }

    @Test
    void summariesEqualGlmSummarizeOverTheSameRows() {
        List<String> docs = List.of(
                "The contract starts on 1 March and runs for two years unless either party ends it.",
                "Manual: press the red button, wait for the light, then turn the dial to position three.",
                "Transcript. A: are we ready? B: almost, the slides are missing. A: then we wait.",
                "Short.", "Numbers 12345 and symbols #@! mixed with \u00e9t\u00e9 and \u4e2d\u6587 text.");
        StructType schema = new StructType().add("id", DataTypes.IntegerType).add("body", DataTypes.StringType);
        String path = dir.resolve("docs").toString();
        spark.createDataFrame(IntStream.range(0, docs.size()).mapToObj(i -> RowFactory.create(i, docs.get(i))).toList(), schema)
                .repartition(2).write().parquet(path);

        List<Row> viaSource = spark.read().format("glm").option("textColumn", "body").option("maxWords", "20").load(path)
                .selectExpr("id", "summary", "finish_reason", "prompt_tokens", "completion_tokens").orderBy("id").collectAsList();
        spark.read().parquet(path).createOrReplaceTempView("real_docs");
        List<Row> viaFunction = spark.sql("SELECT id, r.text, r.finish_reason, r.prompt_tokens, r.completion_tokens FROM "
                + "(SELECT id, glm_summarize_result(body, 20) AS r FROM real_docs) ORDER BY id").collectAsList();
        spark.catalog().dropTempView("real_docs");

        assertEquals(docs.size(), viaSource.size());
        assertEquals(viaFunction, viaSource);
        for (Row r : viaSource) {
            assertTrue(r.getInt(4) > 0, "generated something: " + r);
            assertTrue(r.getInt(3) > 20, "the prompt holds the instruction and the document: " + r);
        }
    }

    private static final List<String> DOCS = List.of(
            "Lease between Acme Ltd and Bob Smith, signed 2024-03-01, 24 months, rent 1200.50 per month.",
            "Invoice 77: three chairs, one table; total 310 EUR; due in 30 days.",
            "Transcript. A: are we ready? B: almost, the slides are missing. A: then we wait.",
            "   ", "Numbers 12345 and symbols #@! \"quoted\" with \u00e9t\u00e9 and \u4e2d\u6587 text.");

    /** id, body: the documents above plus a NULL body, in two files. */
    private static String docs(String name) {
        StructType schema = new StructType().add("id", DataTypes.IntegerType).add("body", DataTypes.StringType);
        String path = dir.resolve(name).toString();
        List<Row> rows = new java.util.ArrayList<>(IntStream.range(0, DOCS.size()).mapToObj(i -> RowFactory.create(i, DOCS.get(i))).toList());
        rows.add(RowFactory.create(DOCS.size(), null));
        spark.createDataFrame(rows, schema).repartition(2).write().parquet(path);
        spark.read().parquet(path).createOrReplaceTempView(name);
        return path;
    }

    @Test
    void extractionsEqualGlmExtractOverTheSameRows() {
        String path = docs("extract_docs");
        String ddl = "party STRING, signed DATE, terms STRUCT<months: INT, rent DECIMAL(8,2)>, items ARRAY<STRING>, paid BOOLEAN";
        var source = spark.read().format("glm").option("textColumn", "body").option("task", "extract").option("schema", ddl)
                .load(path);
        assertEquals(ExtractTypes.fromDdl(ddl), source.schema().apply("extracted").dataType());
        List<Row> viaSource = source.selectExpr("id", "extracted", "finish_reason", "error").orderBy("id").collectAsList();
        var function = spark.sql("SELECT id, glm_extract(body, '" + ddl + "') AS x FROM extract_docs ORDER BY id");
        assertEquals(function.schema().apply("x").dataType(), source.schema().apply("extracted").dataType());
        List<Row> viaFunction = function.collectAsList();

        assertEquals(DOCS.size() + 1, viaSource.size());
        for (int i = 0; i < viaSource.size(); i++) {
            Row s = viaSource.get(i), f = viaFunction.get(i);
            assertEquals(f.getInt(0), s.getInt(0));
            assertEquals(f.get(1), s.get(1), "row " + i);
            if (i == DOCS.size()) {     // a NULL document: NULL columns, as glm_extract gives NULL
                assertTrue(s.isNullAt(1) && s.isNullAt(2), s.toString());
                continue;
            }
            assertFalse(s.isNullAt(1), "every document extracts to a struct: " + s);
            assertEquals(5, s.getStruct(1).size());
            assertEquals("stop", s.getString(2), s.toString());   // the grammar closed the value
            assertTrue(s.isNullAt(3), s.toString());
        }

        // the field-name form, as glm_extract(doc, array(...))
        List<Row> names = spark.read().format("glm").option("textColumn", "body").option("task", "extract")
                .option("schema", "party, city").load(path).selectExpr("id", "extracted").orderBy("id").collectAsList();
        assertEquals(spark.sql("SELECT id, glm_extract(body, array('party', 'city')) FROM extract_docs ORDER BY id").collectAsList(), names);
        spark.catalog().dropTempView("extract_docs");
    }

    @Test
    void classificationsEqualGlmClassifyResultOverTheSameRows() {
        String path = docs("classify_docs");
        List<Row> viaSource = spark.read().format("glm").option("textColumn", "body").option("task", "classify")
                .option("labels", "legal, finance, meeting").load(path).selectExpr("id", "label", "probabilities", "error")
                .orderBy("id").collectAsList();
        List<Row> viaFunction = spark.sql("SELECT id, r.label, r.probabilities, r.error FROM (SELECT id, "
                + "glm_classify_result(body, array('legal', 'finance', 'meeting')) AS r FROM classify_docs) ORDER BY id").collectAsList();
        spark.catalog().dropTempView("classify_docs");

        assertEquals(DOCS.size() + 1, viaSource.size());
        for (int i = 0; i < viaSource.size(); i++) {
            Row s = viaSource.get(i), f = viaFunction.get(i);
            assertEquals(f.getInt(0), s.getInt(0));
            assertEquals(f.getString(1), s.getString(1), "row " + i);
            assertTrue(s.isNullAt(3), s.toString());
            if (i == DOCS.size()) {
                assertTrue(s.isNullAt(1) && s.isNullAt(2), s.toString());
                continue;
            }
            assertTrue(List.of("legal", "finance", "meeting").contains(s.getString(1)), s.toString());
            scala.collection.Map<String, Double> ps = s.getMap(2), pf = f.getMap(2);
            double sum = 0;
            for (String label : List.of("legal", "finance", "meeting")) {
                assertEquals(pf.apply(label), ps.apply(label), 1e-9, "row " + i + " " + label);
                sum += ps.apply(label);
            }
            assertEquals(1.0, sum, 1e-9);
        }
    }
}
