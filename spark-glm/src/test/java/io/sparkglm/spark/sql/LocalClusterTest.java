package io.sparkglm.spark.sql;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.spark.executor.ExecutorEngines;
import io.sparkglm.spark.testing.LocalCluster;
import io.sparkglm.spark.testing.SharedSpark;
import io.sparkglm.testing.SharedFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Two real executor JVMs (local-cluster): every executor loads the model once, the results are complete and
 * identical to local mode, and with the tornado backend each task's engine options carry the GPU Spark assigned
 * (fake GPUs from a discovery script). Bounded: a broken executor setup makes Spark relaunch executors forever.
 */
// Last but one: it stops the shared local session; ExecutorLossTest, last, needs none (junit-platform.properties).
@Order(Integer.MAX_VALUE - 1)
class LocalClusterTest {

    private static final String QUERY = "SELECT id, glm_summarize_result(doc, 10) AS r FROM docs ORDER BY id";

    @Test
    @Timeout(value = 240, unit = TimeUnit.SECONDS)
    void executorsLoadTheModelOnceAndAgreeWithLocalMode() throws Exception {
        Map<String, String> glm = Map.of("spark.glm.model", SharedFiles.tinyQ8().toString(),
                "spark.glm.maxNewTokens", "6", "spark.glm.maxContext", "256", "spark.glm.threads", "1");

        SparkSession local = SharedSpark.session();
        glm.forEach(local.conf()::set);
        List<Row> expected = run(local);
        glm.keySet().forEach(local.conf()::unset);
        SharedSpark.stop();

        Path gpus = LocalCluster.sparkHome().resolve("discover-gpus.sh");
        Files.writeString(gpus, "#!/bin/sh\necho '{\"name\":\"gpu\",\"addresses\":[\"0\",\"1\"]}'\n");
        gpus.toFile().setExecutable(true);

        SparkSession.Builder builder = LocalCluster.builder("local-cluster[2,1,1024]", "spark-glm-local-cluster")
                .config("spark.worker.resource.gpu.amount", "2")
                .config("spark.worker.resource.gpu.discoveryScript", gpus.toString())
                .config("spark.executor.resource.gpu.amount", "2")
                .config("spark.task.resource.gpu.amount", "1");
        glm.forEach(builder::config);
        SparkSession cluster = builder.getOrCreate();
        try {
            waitForExecutors(cluster, 2);
            List<Row> actual = run(cluster);
            assertEquals(expected.size(), actual.size(), "no row lost or duplicated");
            assertEquals(expected, actual, "executor JVMs give exactly the local-mode results");

            Map<String, Integer> loads = new HashMap<>();
            for (String s : cluster.range(0, 8, 1, 8).mapPartitions(
                    (MapPartitionsFunction<Long, String>) rows -> List.of(SparkEnv.get().executorId() + "=" + ExecutorEngines.loads()).iterator(),
                    Encoders.STRING()).collectAsList()) {
                loads.put(s.split("=")[0], Integer.parseInt(s.split("=")[1]));
            }
            assertEquals(2, loads.size(), "both executors ran tasks: " + loads);
            loads.forEach((executor, n) -> assertEquals(1, n, "executor " + executor + " loaded the model " + n + " times"));

            cluster.conf().set("spark.glm.backend", "tornado"); // only inspected, never loaded, here
            for (Row r : cluster.sql("SELECT glm_engine_options() FROM range(0, 4, 1, 4)").collectAsList()) {
                String options = r.getString(0);
                assertTrue(options.contains("backend=tornado") && options.matches(".*device=[01]\\b.*"), options);
            }
        } finally {
            LocalCluster.stop(cluster);
        }
    }

    private static List<Row> run(SparkSession spark) {
        List<String> docs = RealEngineSqlTest.DOCS;
        spark.createDataset(docs, Encoders.STRING()).toDF("doc").createOrReplaceTempView("raw");
        spark.sql("SELECT row_number() OVER (ORDER BY doc) AS id, doc FROM raw").repartition(4).createOrReplaceTempView("docs");
        return spark.sql(QUERY).collectAsList();
    }

    private static void waitForExecutors(SparkSession spark, int n) throws InterruptedException {
        // getExecutorMemoryStatus counts the driver too.
        while (spark.sparkContext().getExecutorMemoryStatus().size() < n + 1) Thread.sleep(200);
    }
}
