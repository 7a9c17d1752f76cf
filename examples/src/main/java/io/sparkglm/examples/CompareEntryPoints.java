package io.sparkglm.examples;

import io.sparkglm.spark.sql.GlmDatasets;
import io.sparkglm.spark.sql.GlmFunctions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * The same summaries through the three ways into the engine: SQL ({@code glm_summarize_result}, batched within the
 * task and row by row with {@code spark.glm.batchSql=false}), {@code format("glm")} and {@code GlmDatasets}. A workload
 * where batching pays: short documents, up to 128 generated tokens each (max_words 56). Runs interleaved over rounds and
 * prints generated tokens per second and each path's ratio to the best; each round starts with the next path.
 *
 * <pre>
 * bin/spark-submit --master 'local[1]' --conf spark.glm.model=MODEL.gguf \
 *   --class io.sparkglm.examples.CompareEntryPoints examples/target/examples-0.1.0-SNAPSHOT.jar [--rows 48] [--rounds 2] [--work DIR]
 * </pre>
 */
public final class CompareEntryPoints {

    private static final int MAX_WORDS = 56; // 2 x 56 + 16 = 128 generated tokens at most

    public static void main(String[] args) throws Exception {
        int rows = 48, rounds = 2;
        Path work = Path.of("build", "compare-entry-points");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--rows" -> rows = Integer.parseInt(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--work" -> work = Path.of(args[++i]);
                default -> {
                    System.err.println("unknown argument " + args[i] + "\nusage: CompareEntryPoints [--rows 48] [--rounds 2] [--work DIR]");
                    System.exit(2);
                }
            }
        }
        SparkSession spark = SparkSession.builder().appName("compare-entry-points").getOrCreate();
        GlmFunctions.register(spark);
        Files.createDirectories(work);
        String input = work.resolve("short-docs.parquet").toAbsolutePath().toString();
        spark.createDataFrame(shortDocuments(rows), new StructType().add("id", DataTypes.IntegerType).add("doc", DataTypes.StringType))
                .coalesce(1).write().mode(SaveMode.Overwrite).parquet(input);
        spark.read().parquet(input).createOrReplaceTempView("short_docs");

        Map<String, Supplier<Dataset<Row>>> paths = new LinkedHashMap<>();
        paths.put("SQL (batched)", () -> sql(spark, true));
        paths.put("SQL (row by row)", () -> sql(spark, false));
        paths.put("format(\"glm\")", () -> spark.read().format("glm").option("textColumn", "doc").option("maxWords", MAX_WORDS)
                .load(input).select("id", "summary", "completion_tokens"));
        paths.put("GlmDatasets", () -> GlmDatasets.summarize(spark.read().parquet(input), "doc", MAX_WORDS)
                .select("id", "summary", "completion_tokens"));

        sql(spark, true).write().format("noop").mode(SaveMode.Overwrite).save(); // loads the engine, warms the JIT
        Map<String, List<Double>> seconds = new LinkedHashMap<>();
        long generated = 0;
        List<Map.Entry<String, Supplier<Dataset<Row>>>> order = new ArrayList<>(paths.entrySet());
        for (int round = 0; round < rounds; round++) {
            java.util.Collections.rotate(order, round == 0 ? 0 : -1); // each path takes every place in the order in turn
            for (var p : order) {
                Dataset<Row> result = p.getValue().get();
                long start = System.nanoTime();
                long tokens = result.agg(org.apache.spark.sql.functions.sum("completion_tokens")).first().getLong(0);
                seconds.computeIfAbsent(p.getKey(), k -> new ArrayList<>()).add((System.nanoTime() - start) / 1e9);
                if (generated == 0) generated = tokens;
                if (tokens != generated) throw new IllegalStateException(p.getKey() + " generated " + tokens + " tokens, not " + generated);
            }
        }
        double best = seconds.values().stream().mapToDouble(CompareEntryPoints::mean).min().orElseThrow();
        System.out.printf("%n%d short documents, %d generated tokens per run, master %s, %d round(s), interleaved%n%n", rows, generated,
                spark.sparkContext().master(), rounds);
        System.out.println("| path | seconds | generated tok/s | vs best |");
        System.out.println("|---|---:|---:|---:|");
        for (var e : seconds.entrySet()) {
            double s = mean(e.getValue());
            System.out.printf("| %s | %.2f | %.1f | %.2fx |%n", e.getKey(), s, generated / s, best / s);
        }
        spark.stop();
    }

    private static Dataset<Row> sql(SparkSession spark, boolean batched) {
        spark.conf().set("spark.glm.batchSql", String.valueOf(batched));
        Dataset<Row> d = spark.sql("SELECT id, s.text AS summary, s.completion_tokens FROM "
                + "(SELECT id, glm_summarize_result(doc, " + MAX_WORDS + ") AS s FROM short_docs)");
        d.queryExecution().optimizedPlan(); // planned now, under this setting
        return d;
    }

    private static double mean(List<Double> xs) {
        return xs.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
    }

    /** Ticket-like texts of 8 to 30 words (seeded). */
    static List<Row> shortDocuments(int n) {
        String[] words = "pump valve leaks pressure drops after the night shift operator reports noise near the inlet and asks for a check"
                .split(" ");
        Random r = new Random(7);
        List<Row> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            StringBuilder sb = new StringBuilder("Ticket " + i + ":");
            for (int w = 0; w < 8 + r.nextInt(23); w++) sb.append(' ').append(words[r.nextInt(words.length)]);
            out.add(RowFactory.create(i, sb.append('.').toString()));
        }
        return out;
    }
}
