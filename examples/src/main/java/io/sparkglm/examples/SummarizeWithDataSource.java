package io.sparkglm.examples;

import io.sparkglm.spark.executor.GlmMetrics;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;

/**
 * A restartable spark-submit job on {@code format("glm")}: Parquet documents in, one summary per document out.
 * It appends to its output and resumes from it, so after a failure the same command carries on with the
 * documents not yet done. The engine settings are the usual {@code --conf spark.glm.*}.
 *
 * <pre>
 * bin/spark-submit --master 'local[*]' --conf spark.glm.model=/models/glm-4-9b-chat-1m.Q8_0.gguf \
 *   --conf spark.hadoop.mapreduce.fileoutputcommitter.algorithm.version=2 \
 *   --class io.sparkglm.examples.SummarizeWithDataSource examples/target/examples-0.1.0-SNAPSHOT.jar \
 *   --input docs.parquet --output summaries.parquet [--id-column id] [--text-column text] [--max-words 100] \
 *   [--where "lang = 'en'"]
 * </pre>
 *
 * The committer setting keeps the files of finished tasks when a job dies, which is what resuming needs.
 */
public final class SummarizeWithDataSource {

    public static void main(String[] args) {
        String input = null, output = null, idColumn = "id", textColumn = "text", where = null;
        String maxWords = "100";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--input" -> input = args[++i];
                case "--output" -> output = args[++i];
                case "--id-column" -> idColumn = args[++i];
                case "--text-column" -> textColumn = args[++i];
                case "--max-words" -> maxWords = args[++i];
                case "--where" -> where = args[++i];
                default -> usage("unknown argument " + args[i]);
            }
        }
        if (input == null || output == null) usage("SummarizeWithDataSource needs --input and --output");

        SparkSession spark = SparkSession.builder().appName("summarize-with-datasource").getOrCreate();
        GlmMetrics metrics = GlmMetrics.of(spark.sparkContext());
        Dataset<Row> summaries = spark.read().format("glm")
                .option("textColumn", textColumn)
                .option("task", "summarize")
                .option("maxWords", maxWords)
                .option("idColumn", idColumn)
                .option("resumeFrom", output) // documents already in the output are not read again
                .load(input);
        if (where != null) summaries = summaries.where(where); // pushed down: skipped rows never reach the model
        summaries = summaries.select(idColumn, "summary", "finish_reason", "prompt_tokens", "completion_tokens",
                "truncated", "error");

        long start = System.nanoTime();
        summaries.write().mode(SaveMode.Append).parquet(output);
        double seconds = (System.nanoTime() - start) / 1e9;

        long rows = metrics.rows.value();
        System.out.printf("Summarized %d documents in %.1f s (%.2f documents/s): %d prompt tokens, %d generated tokens, "
                        + "%d failed, %d truncated. Output: %s (%d documents in all)%n",
                rows, seconds, rows / seconds, metrics.promptTokens.value(), metrics.generatedTokens.value(),
                metrics.failedRows.value(), metrics.truncatedRows.value(), output, spark.read().parquet(output).count());
        spark.stop();
    }

    private static void usage(String problem) {
        System.err.println(problem + "\nusage: SummarizeWithDataSource --input docs.parquet --output out.parquet "
                + "[--id-column id] [--text-column text] [--max-words 100] [--where \"SQL condition\"]");
        System.exit(2);
    }
}
