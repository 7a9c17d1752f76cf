package io.sparkglm.examples;

import io.sparkglm.spark.executor.GlmMetrics;
import io.sparkglm.spark.sql.GlmDatasets;
import io.sparkglm.spark.sql.GlmFunctions;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;

/**
 * A spark-submit job: reads documents from Parquet, writes one summary per document to Parquet with its token
 * counts, finish reason and error, and prints a few rows and the throughput. The model and engine settings are
 * the usual {@code --conf spark.glm.*}.
 *
 * <pre>
 * bin/spark-submit --master 'local[*]' --conf spark.glm.model=/models/glm-4-9b-chat-1m.Q8_0.gguf \
 *   --class io.sparkglm.examples.SummarizeDocuments examples/target/examples-0.1.0-SNAPSHOT.jar \
 *   --input docs.parquet --output summaries.parquet [--id-column id] [--text-column text] [--max-words 100] [--sql]
 * </pre>
 *
 * By default rows go through {@link GlmDatasets#summarize} (each task keeps spark.glm.batchSize documents in
 * the engine); {@code --sql} runs the same with {@code glm_summarize_result} in Spark SQL instead.
 */
public final class SummarizeDocuments {

    public static void main(String[] args) {
        String input = null, output = null, idColumn = "id", textColumn = "text";
        int maxWords = 100;
        boolean sql = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--input" -> input = args[++i];
                case "--output" -> output = args[++i];
                case "--id-column" -> idColumn = args[++i];
                case "--text-column" -> textColumn = args[++i];
                case "--max-words" -> maxWords = Integer.parseInt(args[++i]);
                case "--sql" -> sql = true;
                default -> {
                    System.err.println("unknown argument " + args[i] + "\nusage: SummarizeDocuments --input in.parquet "
                            + "--output out.parquet [--id-column id] [--text-column text] [--max-words 100] [--sql]");
                    System.exit(2);
                }
            }
        }
        if (input == null || output == null) {
            System.err.println("SummarizeDocuments needs --input and --output");
            System.exit(2);
        }

        SparkSession spark = SparkSession.builder().appName("summarize-documents").getOrCreate();
        GlmFunctions.register(spark);
        GlmMetrics metrics = GlmMetrics.of(spark.sparkContext());
        Dataset<Row> docs = spark.read().parquet(input).select(functions.col(idColumn), functions.col(textColumn));
        // A few large Parquet files give few tasks: spread the rows so that every task slot feeds the engine.
        int slots = spark.sparkContext().defaultParallelism();
        if (docs.rdd().getNumPartitions() < slots) docs = docs.repartition(slots);

        Dataset<Row> summaries;
        if (sql) {
            docs.createOrReplaceTempView("documents");
            summaries = spark.sql("SELECT `" + idColumn + "`, r.text AS summary, r.finish_reason, r.prompt_tokens, "
                    + "r.completion_tokens, r.truncated, r.error, r.chunks, r.levels FROM (SELECT `" + idColumn + "`, glm_summarize_result(`"
                    + textColumn + "`, " + maxWords + ") AS r FROM documents)");
        } else {
            List<Column> columns = new ArrayList<>(List.of(functions.col(idColumn)));
            for (String c : GlmDatasets.SUMMARY_COLUMNS) columns.add(functions.col(c));
            summaries = GlmDatasets.summarize(docs, textColumn, maxWords).select(columns.toArray(Column[]::new));
        }

        long start = System.nanoTime();
        summaries.write().mode(SaveMode.Overwrite).parquet(output);
        double seconds = (System.nanoTime() - start) / 1e9;

        Dataset<Row> written = spark.read().parquet(output);
        written.orderBy(idColumn).show(5, 100);
        long rows = metrics.rows.value();
        System.out.printf("Summarized %d documents in %.1f s: %.2f documents/s, %d prompt tokens (%.0f tok/s), "
                        + "%d generated tokens (%.1f tok/s), %d failed, %d truncated. Output: %s%n",
                rows, seconds, rows / seconds, metrics.promptTokens.value(), metrics.promptTokens.value() / seconds,
                metrics.generatedTokens.value(), metrics.generatedTokens.value() / seconds, metrics.failedRows.value(),
                metrics.truncatedRows.value(), output);
        System.out.printf("Engine time summed over rows: %.1f s (rows share batches, so this exceeds the wall time)%n",
                metrics.engineMillis.value() / 1e3);
        spark.stop();
    }
}
