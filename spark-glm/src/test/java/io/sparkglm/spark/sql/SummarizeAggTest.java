package io.sparkglm.spark.sql;

import static org.apache.spark.sql.functions.col;
import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.spark.testing.SharedSpark;
import io.sparkglm.testing.SharedFiles;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** glm_summarize_agg over many groups and partitions, on the tiny random model. */
class SummarizeAggTest {

    private final SparkSession spark = SharedSpark.session();

    @BeforeEach
    void conf() {
        spark.conf().set("spark.glm.model", SharedFiles.tinyQ8().toString());
        spark.conf().set("spark.glm.maxContext", "768");
        spark.conf().set("spark.glm.threads", "2");
    }

    @AfterEach
    void unset() {
        for (String k : List.of("spark.glm.model", "spark.glm.maxContext", "spark.glm.threads")) spark.conf().unset(k);
    }

    /** Rows (id, g, p, text): 6 groups of 5 to 60 texts of 10 to 60 words, a NULL and a blank among them; p = id % 3. */
    private Dataset<Row> texts() {
        SplittableRandom r = new SplittableRandom(17);
        String[] words = LongDocumentsTest.document(1, 600).split("\\s+");
        List<Row> rows = new ArrayList<>();
        int id = 0;
        for (int g = 0; g < 6; g++) {
            int n = g == 0 ? 5 : 10 + 10 * g;
            for (int i = 0; i < n; i++) {
                StringBuilder sb = new StringBuilder();
                for (int w = 0; w < 10 + r.nextInt(50); w++) sb.append(words[r.nextInt(words.length)]).append(' ');
                String text = g == 1 && i == 3 ? null : g == 1 && i == 4 ? "   " : sb.toString().trim();
                rows.add(RowFactory.create(id, g, id % 3, text));
                id++;
            }
        }
        StructType schema = new StructType().add("id", DataTypes.IntegerType).add("g", DataTypes.IntegerType)
                .add("p", DataTypes.IntegerType).add("text", DataTypes.StringType);
        return spark.createDataFrame(rows, schema);
    }

    private Map<Integer, Row> summaries(Dataset<Row> input) {
        input.createOrReplaceTempView("agg_texts");
        Map<Integer, Row> out = new TreeMap<>();
        for (Row row : spark.sql("SELECT g, glm_summarize_agg_result(text, 20) AS s FROM agg_texts GROUP BY g").collectAsList()) {
            out.put(row.getInt(0), row.getStruct(1));
        }
        return out;
    }

    @Test
    void everyGroupGetsOneSummaryWhateverTheOrderOfRowsAndPartitions() {
        Dataset<Row> texts = texts();
        // The same partition contents (p), rows in opposite orders within them, partitions in a different order.
        Map<Integer, Row> ascending = summaries(texts.repartition(3, col("p")).sortWithinPartitions(col("id")));
        Map<Integer, Row> descending = summaries(texts.orderBy(col("id").desc()).repartition(3, col("p"))
                .sortWithinPartitions(col("id").desc()));
        assertEquals(6, ascending.size());
        assertEquals(ascending, descending, "the order rows and partial states arrive in must not matter");
        for (var e : ascending.entrySet()) {
            Row s = e.getValue();
            assertNull(s.getString(5), "group " + e.getKey() + ": " + s);
            assertNotNull(s.getString(0));
            int rows = e.getKey() == 0 ? 5 : 10 + 10 * e.getKey() - (e.getKey() == 1 ? 2 : 0);
            assertEquals(rows, s.getInt(6), "group " + e.getKey() + ": every non-blank row combined");
            assertTrue(s.getInt(2) > 0 && s.getInt(3) > 0, "costs counted: " + s);
        }
        assertTrue(ascending.get(5).getInt(7) >= 2, "60 texts do not fit one call of 768 tokens: " + ascending.get(5));
        // Plain STRING form (over the same partitions: a partition's share of a group is combined there first), and a
        // group without text is NULL.
        texts.repartition(3, col("p")).createOrReplaceTempView("agg_texts");
        List<Row> plain = spark.sql("SELECT g, glm_summarize_agg(text, 20) FROM agg_texts GROUP BY g ORDER BY g").collectAsList();
        assertEquals(ascending.get(0).getString(0), plain.get(0).getString(1));
        assertTrue(spark.sql("SELECT glm_summarize_agg(text) FROM agg_texts WHERE text IS NULL OR trim(text) = ''")
                .first().isNullAt(0));
        assertEquals("glm_summarize_agg(text)", spark.sql("SELECT glm_summarize_agg(text) FROM agg_texts WHERE g = 0")
                .schema().fieldNames()[0]);
    }

    @Test
    void sortBasedAggregationWithSpilledStatesGivesEveryGroupItsRows() {
        // More groups per task than the hash map keeps: Spark falls back to sorting and serializes states mid-task.
        spark.conf().set("spark.sql.objectHashAggregate.sortBased.fallbackThreshold", "2");
        try {
            texts().repartition(2, col("p")).createOrReplaceTempView("agg_texts");
            Dataset<Row> query = spark.sql("SELECT g, glm_summarize_agg_result(text, 20) AS s FROM agg_texts GROUP BY g");
            Map<Integer, Row> spilled = new TreeMap<>();
            for (Row row : query.collectAsList()) spilled.put(row.getInt(0), row.getStruct(1));
            var plan = ((org.apache.spark.sql.execution.adaptive.AdaptiveSparkPlanExec) query.queryExecution().executedPlan()).executedPlan();
            long fellBack = fallbacks(plan);
            assertTrue(fellBack > 0, "the aggregation fell back to sorting in some task: " + plan);
            assertEquals(6, spilled.size());
            for (var e : spilled.entrySet()) {
                Row s = e.getValue();
                assertNull(s.getString(5), "group " + e.getKey() + ": " + s);
                int rows = e.getKey() == 0 ? 5 : 10 + 10 * e.getKey() - (e.getKey() == 1 ? 2 : 0);
                assertEquals(rows, s.getInt(6), "group " + e.getKey());
            }
        } finally {
            spark.conf().unset("spark.sql.objectHashAggregate.sortBased.fallbackThreshold");
        }
    }

    /** Tasks of the plan's object hash aggregates that fell back to sorting (query stages included). */
    private static long fallbacks(org.apache.spark.sql.execution.SparkPlan node) {
        if (node instanceof org.apache.spark.sql.execution.adaptive.QueryStageExec stage) return fallbacks(stage.plan());
        long n = node.metrics().contains("numTasksFallBacked") ? node.metrics().apply("numTasksFallBacked").value() : 0;
        for (var child : scala.jdk.javaapi.CollectionConverters.asJava(node.children())) n += fallbacks(child);
        return n;
    }

    @Test
    void aWholeTableIsOneGroupAcrossPartitions() {
        Row all = spark.sql("SELECT glm_summarize_agg_result(text, 20) FROM (SELECT /*+ REPARTITION(4) */ * FROM agg_src)")
                .first().getStruct(0);
        assertNull(all.getString(5), all.toString());
        assertEquals(203, all.getInt(6));
        assertTrue(all.getInt(7) >= 3, "levels: " + all);
    }

    @BeforeEach
    void source() {
        texts().createOrReplaceTempView("agg_src");
    }
}
