package io.sparkglm.spark.sql;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.spark.executor.ExecutorEngines;
import io.sparkglm.spark.testing.ScriptedEngine;
import io.sparkglm.spark.testing.SharedSpark;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * glm_summarize_agg over one group of many rows (50,000 here; -Dglm.aggRows=1000000 for a million) with the scripted
 * engine: each task compacts its share before it travels, so the final step combines a few summaries per partition.
 */
class SummarizeAggScaleTest {

    private final SparkSession spark = SharedSpark.session();
    private final AtomicReference<ScriptedEngine> engine = new AtomicReference<>();

    @AfterEach
    void reset() {
        ExecutorEngines.replaceLoaderForTesting(null);
        spark.conf().unset("spark.glm.model");
    }

    @Test
    void oneGroupOfManyRowsIsCombinedThroughPartialStates() {
        ScriptedEngine.install(spark, 8192, engine);
        long rows = Long.getLong("glm.aggRows", 50_000);
        long start = System.nanoTime();
        Row s = spark.sql("SELECT glm_summarize_agg_result(concat('ticket ', id, ': the pump at site ', id % 97, ' leaks'), 20) "
                + "FROM range(0, " + rows + ", 1, 8)").first().getStruct(0);
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("glm_summarize_agg: %d rows in %.1f s, %d levels, %d calls, %d prompt tokens%n", rows, seconds,
                s.getInt(7), engine.get().requests.size(), s.getInt(2));
        assertNull(s.getString(5), s.toString());
        assertEquals(rows, s.getInt(6), "every row combined");
        assertTrue(s.getInt(7) >= 3, "levels: " + s);
        int lastPrompt = engine.get().userTurns().getLast().length();
        assertTrue(lastPrompt < 8192 * 4, "the final call fits the context: " + lastPrompt + " characters");
    }
}
