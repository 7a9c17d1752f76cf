package io.sparkglm.spark.testing;

import io.sparkglm.spark.sql.GlmExtensions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.spark.sql.SparkSession;

/**
 * What a {@code local-cluster[...]} session (real executor JVMs) needs here: a SPARK_HOME-like folder (an empty
 * RELEASE file and a jars/ folder; the executors get the test classpath through spark.executor.extraClassPath)
 * and the flags the engine needs in the executor JVMs. Only one SparkContext may exist per JVM: stop the
 * shared local session ({@link SharedSpark#stop()}) before building one. Bound every such test with a timeout:
 * a broken executor setup makes the worker relaunch executors forever.
 */
public final class LocalCluster {

    private LocalCluster() {}

    /** The SPARK_HOME folder (surefire sets SPARK_HOME to target/spark-home), created when missing. */
    public static Path sparkHome() throws IOException {
        Path home = Path.of(System.getenv().getOrDefault("SPARK_HOME", "target/spark-home"));
        Files.createDirectories(home.resolve("jars"));
        if (!Files.exists(home.resolve("RELEASE"))) Files.createFile(home.resolve("RELEASE"));
        return home;
    }

    /** A session builder for {@code local-cluster[master]} with the glm_* functions and the test classpath. */
    public static SparkSession.Builder builder(String master, String appName) throws IOException {
        sparkHome();
        String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        return SparkSession.builder()
                .master(master)
                .appName(appName)
                .config("spark.sql.extensions", GlmExtensions.class.getName())
                .config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.executor.extraClassPath", classpath)
                .config("spark.executor.extraJavaOptions", "--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED")
                .config("spark.executorEnv.SPARK_SCALA_VERSION", "2.13");
    }

    /** Stops a cluster session and forgets it, so that the next test may start its own. */
    public static void stop(SparkSession cluster) {
        cluster.stop();
        SparkSession.clearActiveSession();
        SparkSession.clearDefaultSession();
    }
}
