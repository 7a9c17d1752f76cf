package io.sparkglm.spark.source;

import static org.junit.jupiter.api.Assertions.*;

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

/** format("glm") with the real engine (tiny random model, greedy) gives what glm_summarize_result gives. */
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
}
