package io.sparkglm.spark.sql;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.spark.executor.ExecutorEngines;
import io.sparkglm.spark.testing.ScriptedEngine;
import io.sparkglm.spark.testing.SharedSpark;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.streaming.StreamingQuery;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Structured Streaming: Parquet documents arriving in a folder, summarized by glm_summarize, written to a Parquet sink
 * with a checkpoint. A query stopped in the middle of a batch and started again gives every document exactly once.
 */
class StreamingTest {

    private static final StructType SCHEMA = new StructType().add("id", DataTypes.IntegerType).add("doc", DataTypes.StringType);

    private final SparkSession spark = SharedSpark.session();
    private final AtomicReference<ScriptedEngine> engine = new AtomicReference<>();

    @AfterEach
    void reset() {
        ExecutorEngines.replaceLoaderForTesting(null);
        spark.conf().unset("spark.glm.model");
        spark.conf().unset("spark.glm.batchSize");
    }

    private void arrive(Path in, int from, int to) {
        List<Row> rows = new ArrayList<>();
        for (int id = from; id < to; id++) rows.add(RowFactory.create(id, "incident report " + id + ": the valve at site " + id % 5 + " leaks"));
        spark.createDataFrame(rows, SCHEMA).coalesce(1).write().mode(SaveMode.Append).parquet(in.toString());
    }

    private StreamingQuery start(Path in, Path out, Path checkpoint) throws Exception {
        return spark.readStream().schema(SCHEMA).option("maxFilesPerTrigger", 1).parquet(in.toString())
                .selectExpr("id", "glm_summarize(doc, 20) AS summary")
                .writeStream().format("parquet").option("path", out.toString())
                .option("checkpointLocation", checkpoint.toString()).start();
    }

    @Test
    @Timeout(180)
    void aRestartAfterAStopMidBatchGivesEveryDocumentExactlyOnce(@TempDir Path dir) throws Exception {
        ScriptedEngine.install(spark, 4096, engine);
        spark.conf().set("spark.glm.batchSize", "4"); // small windows: the stop lands inside a batch
        Path in = dir.resolve("in"), out = dir.resolve("out"), checkpoint = dir.resolve("checkpoint");
        arrive(in, 0, 12);

        StreamingQuery first = start(in, out, checkpoint);
        first.processAllAvailable();
        arrive(in, 12, 60);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (engine.get().requests.size() < 20 && System.nanoTime() < deadline) Thread.sleep(5);
        first.stop();                                        // in the middle of the second file's batch
        int requestedBeforeStop = engine.get().requests.size();
        assertTrue(requestedBeforeStop < 60, "stopped before the end: " + requestedBeforeStop + " documents started");

        StreamingQuery second = start(in, out, checkpoint);
        second.processAllAvailable();
        second.stop();
        assertNull(second.exception().isDefined() ? second.exception().get() : null);

        List<Row> written = spark.read().parquet(out.toString()).collectAsList();
        Set<Integer> ids = new HashSet<>();
        for (Row r : written) {
            assertTrue(ids.add(r.getInt(0)), "document " + r.getInt(0) + " written twice");
            assertNotNull(r.getString(1), r.toString());
        }
        assertEquals(60, ids.size(), "every document once");
    }
}
