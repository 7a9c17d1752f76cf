package io.sparkglm.spark.testing;

import io.sparkglm.spark.sql.GlmExtensions;
import org.apache.spark.sql.SparkSession;

/** One local[2] SparkSession per test JVM (a cold session costs 10-20 s here; each further test 1-3 s). */
public final class SharedSpark {

    private static SparkSession spark;

    private SharedSpark() {}

    public static synchronized SparkSession session() {
        if (spark == null || spark.sparkContext().isStopped()) {
            spark = SparkSession.builder()
                    .master("local[2]")
                    .appName("spark-glm-tests")
                    .config("spark.sql.extensions", GlmExtensions.class.getName())
                    .config("spark.ui.enabled", "false")
                    .config("spark.sql.shuffle.partitions", "2")
                    .config("spark.driver.host", "127.0.0.1")
                    .getOrCreate();
        }
        return spark;
    }

    /** Stops the shared session (the local-cluster test needs the JVM's one SparkContext for itself). */
    public static synchronized void stop() {
        if (spark != null) spark.stop();
        spark = null;
        SparkSession.clearActiveSession();
        SparkSession.clearDefaultSession();
    }
}
