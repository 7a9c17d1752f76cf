package io.sparkglm.spark.sql;

import io.sparkglm.spark.conf.GlmConf;
import io.sparkglm.spark.executor.GlmMetrics;
import io.sparkglm.spark.executor.GlmRunner;
import io.sparkglm.spark.executor.RowResult;
import io.sparkglm.spark.task.ResultColumns;
import io.sparkglm.spark.task.RowWindow;
import io.sparkglm.spark.task.Summarizer;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.CompletableFuture;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import scala.jdk.javaapi.CollectionConverters;

/**
 * The batch path for jobs: summaries computed per partition with up to {@code spark.glm.batchSize} rows of the
 * same task in the engine at once (the SQL functions are evaluated one row at a time, so their batch is the
 * executor's concurrent tasks). Same prompts, settings, policies and metrics as {@code glm_summarize_result}:
 * the columns it adds hold the same values.
 */
public final class GlmDatasets {

    private GlmDatasets() {}

    /** Columns added by {@link #summarize}: the fields of glm_summarize_result, with "summary" for its text. */
    public static final List<String> SUMMARY_COLUMNS = List.of(ResultColumns.type("summary", DataTypes.StringType).fieldNames());

    /**
     * {@code df} plus the summary columns for {@code textColumn} (NULL text gives NULL columns). Settings are the
     * session's {@code spark.glm.*}, validated here, on the driver.
     */
    public static Dataset<Row> summarize(Dataset<Row> df, String textColumn, int maxWords) {
        SparkSession spark = df.sparkSession();
        String bad = Summarizer.checkMaxWords(maxWords);
        if (bad != null) throw new IllegalArgumentException(bad);
        GlmConf conf = GlmConf.parse(CollectionConverters.asJava(spark.conf().getAll()));
        conf.requireModel();
        GlmRunner runner = new GlmRunner(conf, GlmMetrics.of(spark.sparkContext()));
        int textIndex = df.schema().fieldIndex(textColumn);
        StructType out = df.schema();
        for (StructField f : ResultColumns.type("summary", DataTypes.StringType).fields()) out = out.add(f);
        int width = df.schema().size();
        return df.mapPartitions((MapPartitionsFunction<Row, Row>) rows ->
                new Pipeline(rows, runner, textIndex, width, maxWords), Encoders.row(out));
    }

    /** Keeps up to batchSize rows of this partition in the engine; gives results back in input order. */
    private static final class Pipeline implements Iterator<Row> {
        /** A row and its summary in the making: no future for a NULL or blank text (no engine row). */
        private record Pending(Row row, String doc, CompletableFuture<RowResult> result) {}

        private final Iterator<Row> input;
        private final GlmRunner runner;
        private final int textIndex;
        private final int width;
        private final int maxWords;
        private final RowWindow<Pending> window;
        private boolean reported;

        Pipeline(Iterator<Row> input, GlmRunner runner, int textIndex, int width, int maxWords) {
            this.input = input;
            this.runner = runner;
            this.textIndex = textIndex;
            this.width = width;
            this.maxWords = maxWords;
            this.window = new RowWindow<>(runner.conf().batchSize());
        }

        private void fill() {
            while (window.hasRoom() && input.hasNext()) {
                Row row = input.next();
                String doc = row.isNullAt(textIndex) ? null : row.getString(textIndex);
                window.add(new Pending(row, doc, doc == null || doc.isBlank() ? null : Summarizer.submit(runner, doc, maxWords)));
            }
        }

        @Override
        public boolean hasNext() {
            fill();
            if (window.isEmpty() && !reported && window.mostHeld() > 0) {
                reported = true;
                runner.recordInFlight(window.mostHeld());
            }
            return !window.isEmpty();
        }

        @Override
        public Row next() {
            if (!hasNext()) throw new NoSuchElementException();
            Pending p = window.next();
            Object[] values = new Object[width + ResultColumns.RESULT.size()];
            for (int i = 0; i < width; i++) values[i] = p.row.get(i);
            if (p.doc != null) {
                // As glm_summarize: a blank document gets an empty summary without the engine.
                RowResult r = p.result == null ? RowResult.EMPTY : runner.finish(GlmRunner.await(p.result));
                System.arraycopy(ResultColumns.externalValues(r), 0, values, width, ResultColumns.RESULT.size());
            }
            return RowFactory.create(values);
        }
    }
}
