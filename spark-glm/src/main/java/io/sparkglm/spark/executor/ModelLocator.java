package io.sparkglm.spark.executor;

import io.sparkglm.spark.conf.GlmConfException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.spark.SparkFiles;

/** Finds spark.glm.model on this machine: a local path, or the name of a file shipped with --files. */
final class ModelLocator {

    private ModelLocator() {}

    static Path resolve(String model) {
        Path local = Path.of(model);
        if (Files.exists(local)) return local.toAbsolutePath().normalize();
        try {
            Path shipped = Path.of(SparkFiles.get(local.getFileName().toString()));
            if (Files.exists(shipped)) return shipped;
        } catch (RuntimeException noSparkEnv) {
            // not inside a Spark JVM (or no files shipped): fall through to the error
        }
        throw new GlmConfException("spark.glm.model not found on this machine: " + model
                + " (give a local path present on every executor, or ship the file with --files)");
    }
}
