package io.sparkglm.backend.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkglm.spark.executor.ExecutorEngines;
import io.sparkglm.spark.sql.GlmExtensions;
import io.sparkglm.testing.SharedFiles;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import org.apache.spark.api.java.function.ForeachPartitionFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Spark and TornadoVM in one JVM (the test JVM runs with the trimmed TornadoVM argfile plus Spark's module
 * flags): {@code glm_summarize_result} over a repartitioned Parquet table on local[2] gives exactly the same
 * rows with {@code spark.glm.backend=tornado} as with {@code cpu} (tiny oracle F32 model, greedy).
 *
 * <p>The tornado query runs first, so the JVM's first TornadoVM call is made from a Spark task thread, whose
 * context class loader is Spark's, not the application loader: that is the case PLATFORM.md saw break the
 * runtime, and what {@link TornadoBackendProvider} guards against. This class runs in a surefire execution of
 * its own (tag "spark") so no earlier test has started TornadoVM on the main thread.
 *
 * <p>F32, not Q8_0: with Q8_0 one activation rounding tie in the shared prompt prefix leaves the two backends'
 * later logits ~3e-2 apart, enough to flip greedy choices of the random model (ADR 0005, Results).
 */
@Tag("spark")
class TornadoSparkTest {

    private static final List<String> DOCS = List.of(
            "The contract starts on 1 March and runs for two years unless either party ends it.",
            "Manual: press the red button, wait for the light, then turn the dial to position three.",
            "Transcript. A: are we ready? B: almost, the slides are missing. A: then we wait.",
            "Short.",
            "Numbers 12345 and symbols #@! mixed with \u00e9t\u00e9 and \u4e2d\u6587 text.");

    private static final AtomicReference<ClassLoader> TASK_LOADER = new AtomicReference<>();
    private static SparkSession spark;
    @TempDir static Path dir;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder()
                .master("local[2]")
                .appName("tornado-spark-test")
                .config("spark.sql.extensions", GlmExtensions.class.getName())
                .config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "2")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.glm.model", SharedFiles.tinyF32().toString())
                .config("spark.glm.maxNewTokens", "12")
                .config("spark.glm.maxContext", "512")
                .config("spark.glm.threads", "1")
                .getOrCreate();
    }

    @AfterAll
    static void stop() {
        ExecutorEngines.closeAll();
        if (spark != null) spark.stop();
    }

    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void summariesWithTornadoEqualTheCpuBackend() {
        StructType schema = new StructType().add("id", DataTypes.IntegerType).add("doc", DataTypes.StringType);
        String path = dir.resolve("docs").toString();
        spark.createDataFrame(IntStream.range(0, DOCS.size()).mapToObj(i -> RowFactory.create(i, DOCS.get(i))).toList(), schema)
                .write().parquet(path);
        spark.read().parquet(path).repartition(2).createOrReplaceTempView("docs");

        ClassLoader taskLoader = taskContextClassLoader();
        assertNotNull(taskLoader);
        assertNotSame(ClassLoader.getSystemClassLoader(), taskLoader,
                "Spark task threads run with Spark's context class loader (the case the backend must handle)");

        int loadsBefore = ExecutorEngines.loads();
        List<Row> tornado = summaries("tornado");
        assertEquals(loadsBefore + 1, ExecutorEngines.loads(), "one engine for the tornado backend");
        List<Row> cpu = summaries("cpu");
        assertEquals(loadsBefore + 2, ExecutorEngines.loads(), "a second engine for the cpu backend");

        assertEquals(DOCS.size(), cpu.size());
        for (Row row : cpu) {
            Row r = row.getStruct(1);
            assertNull(r.getString(5), "no row failed: " + row);
            assertTrue(r.getInt(3) > 0, "generated something: " + row);
        }
        assertEquals(cpu, tornado, "tornado rows == cpu rows");
    }

    /**
     * Every row's full result struct, in id order, with the given backend (parsed when the query is analyzed).
     * Sorted here, not with ORDER BY: the sort's sampling job would run every summary a second time.
     */
    private static List<Row> summaries(String backend) {
        spark.conf().set("spark.glm.backend", backend);
        List<Row> rows = new ArrayList<>(spark.sql("SELECT id, glm_summarize_result(doc, 20) AS r FROM docs").collectAsList());
        rows.sort(Comparator.comparingInt(row -> row.getInt(0)));
        return rows;
    }

    /** The context class loader of a Spark task thread (local mode: the task runs in this JVM, statics are shared). */
    private static ClassLoader taskContextClassLoader() {
        spark.range(1).foreachPartition((ForeachPartitionFunction<Long>) rows ->
                TASK_LOADER.set(Thread.currentThread().getContextClassLoader()));
        return TASK_LOADER.get();
    }
}
