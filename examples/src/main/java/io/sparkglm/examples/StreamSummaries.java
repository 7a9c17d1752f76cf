package io.sparkglm.examples;

import io.sparkglm.spark.sql.GlmFunctions;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.streaming.StreamingQuery;
import org.apache.spark.sql.streaming.Trigger;
import org.apache.spark.sql.types.StructType;

/**
 * A Structured Streaming job: Parquet documents arriving in a folder are summarized with {@code glm_summarize_result}
 * and written to a Parquet folder, with a checkpoint. Stopped or killed, it restarts where it was: every document
 * is summarized into the output exactly once (the file sink commits each batch with the checkpoint).
 *
 * <pre>
 * bin/spark-submit --master 'local[*]' --conf spark.glm.model=/models/glm-4-9b-chat-1m.Q8_0.gguf \
 *   --class io.sparkglm.examples.StreamSummaries examples/target/examples-0.1.0-SNAPSHOT.jar \
 *   --input incoming/ --output summaries/ --checkpoint checkpoints/summaries [--id-column id] [--text-column text]
 *   [--max-words 100] [--once]
 * </pre>
 *
 * {@code --once} processes what is there and stops (Trigger.AvailableNow); without it the job keeps watching the folder.
 * The input's schema is read from the Parquet files already in the folder.
 */
public final class StreamSummaries {

    public static void main(String[] args) throws Exception {
        String input = null, output = null, checkpoint = null, idColumn = "id", textColumn = "text";
        int maxWords = 100;
        boolean once = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--input" -> input = args[++i];
                case "--output" -> output = args[++i];
                case "--checkpoint" -> checkpoint = args[++i];
                case "--id-column" -> idColumn = args[++i];
                case "--text-column" -> textColumn = args[++i];
                case "--max-words" -> maxWords = Integer.parseInt(args[++i]);
                case "--once" -> once = true;
                default -> usage("unknown argument " + args[i]);
            }
        }
        if (input == null || output == null || checkpoint == null) usage("StreamSummaries needs --input, --output and --checkpoint");

        SparkSession spark = SparkSession.builder().appName("stream-summaries").getOrCreate();
        GlmFunctions.register(spark);
        StructType schema = spark.read().parquet(input).schema();
        var writer = spark.readStream().schema(schema).parquet(input)
                .selectExpr("`" + idColumn + "`", "glm_summarize_result(`" + textColumn + "`, " + maxWords + ") AS r")
                .selectExpr("`" + idColumn + "`", "r.text AS summary", "r.finish_reason", "r.prompt_tokens", "r.completion_tokens",
                        "r.truncated", "r.error", "r.chunks", "r.levels")
                .writeStream().format("parquet").option("path", output).option("checkpointLocation", checkpoint);
        if (once) writer = writer.trigger(Trigger.AvailableNow());
        StreamingQuery query = writer.start();
        query.awaitTermination();
        System.out.printf("%d documents summarized into %s%n", spark.read().parquet(output).count(), output);
        spark.stop();
    }

    private static void usage(String problem) {
        System.err.println(problem + "\nusage: StreamSummaries --input DIR --output DIR --checkpoint DIR [--id-column id] "
                + "[--text-column text] [--max-words 100] [--once]");
        System.exit(2);
    }
}
