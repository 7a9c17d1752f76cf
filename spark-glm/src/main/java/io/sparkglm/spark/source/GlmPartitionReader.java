package io.sparkglm.spark.source;

import io.sparkglm.spark.executor.GlmRunner;
import io.sparkglm.spark.executor.RowResult;
import io.sparkglm.spark.task.Classifier;
import io.sparkglm.spark.task.Extractor;
import io.sparkglm.spark.task.ResultColumns;
import io.sparkglm.spark.task.RowWindow;
import io.sparkglm.spark.task.Summarizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.connector.metric.CustomTaskMetric;
import org.apache.spark.sql.connector.read.PartitionReader;
import org.apache.spark.sql.sources.And;
import org.apache.spark.sql.sources.Filter;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.StructField;

/**
 * Reads one partition's row groups and runs their rows through this executor's engine. Rows that fail a pushed
 * filter, whose id is already done, or beyond the pushed limit are dropped before inference. Up to
 * {@code batchSize} rows are in the engine at once (submitted together so the engine batches them); rows
 * leave in input order.
 */
final class GlmPartitionReader implements PartitionReader<InternalRow> {

    /**
     * A row on its way: its read values and its result in the making: a generation (null: nothing to run), a
     * classification, or a token count.
     */
    private record Pending(Object[] values, String text, CompletableFuture<RowResult> result,
                           CompletableFuture<Extractor.Extracted> extracted, CompletableFuture<Classifier.Outcome> classified,
                           Integer tokens) {
        Pending(Object[] values, String text, CompletableFuture<RowResult> result) {
            this(values, text, result, null, null, null);
        }
    }

    private final ReadPlan plan;
    private final GlmInputPartition partition;
    private final Configuration hadoop;
    private final MessageType requested;
    private final RowFilter filter;
    private final Set<Object> doneIds;
    private final RowWindow<Pending> window;
    private final GlmSourceMetrics.Counts counts = new GlmSourceMetrics.Counts();
    private ParquetRows rows;
    private int group;   // next row group of the partition to open
    private long taken;  // rows admitted (counts against the limit)
    private InternalRow current;

    GlmPartitionReader(ReadPlan plan, GlmInputPartition partition) {
        this.plan = plan;
        this.partition = partition;
        this.hadoop = new Configuration();
        plan.hadoopConf().forEach(hadoop::set);
        this.requested = MessageTypeParser.parseMessageType(plan.parquetSchema());
        this.filter = compile(plan);
        this.doneIds = plan.doneIds() == null ? null : plan.doneIds().value();
        this.window = new RowWindow<>(plan.runner().conf().batchSize());
    }

    private static RowFilter compile(ReadPlan plan) {
        Map<String, Integer> index = new java.util.HashMap<>();
        Map<String, DataType> types = new java.util.HashMap<>();
        StructField[] fields = plan.readColumns().fields();
        for (int i = 0; i < fields.length; i++) {
            index.put(fields[i].name(), i);
            types.put(fields[i].name(), fields[i].dataType());
        }
        if (plan.filters().length == 0) return row -> true;
        Filter all = plan.filters()[0];
        for (int i = 1; i < plan.filters().length; i++) all = new And(all, plan.filters()[i]);
        RowFilter compiled = RowFilter.compile(all, index, types);
        if (compiled == null) throw new IllegalStateException("pushed filters cannot be evaluated: " + all); // the builder checked
        return compiled;
    }

    @Override
    public boolean next() {
        fill();
        Pending p = window.next();
        if (p == null) return false;
        current = toRow(p);
        return true;
    }

    @Override
    public InternalRow get() {
        return current;
    }

    /** Tops the window up to batchSize admitted rows, starting each one's inference at once. */
    private void fill() {
        while (window.hasRoom() && (plan.limit() < 0 || taken < plan.limit())) {
            Object[] values = nextInputRow();
            if (values == null) return;
            if (!Boolean.TRUE.equals(filter.test(values))) continue;
            if (doneIds != null && doneIds.contains(ResumeIds.key(values[plan.idIndex()]))) continue;
            taken++;
            window.add(start(values));
        }
    }

    private Object[] nextInputRow() {
        while (rows == null || !rows.hasNext()) {
            if (rows != null) rows.close();
            rows = null;
            if (group == partition.rowGroups().size()) return null;
            String file = partition.rowGroups().get(group).file();
            List<Integer> ordinals = new ArrayList<>();
            while (group < partition.rowGroups().size() && partition.rowGroups().get(group).file().equals(file)) {
                ordinals.add(partition.rowGroups().get(group++).rowGroup());
            }
            rows = new ParquetRows(file, ordinals, requested, hadoop);
        }
        return rows.next();
    }

    private Pending start(Object[] values) {
        if (plan.textIndex() < 0 || values[plan.textIndex()] == null) return new Pending(values, null, null);
        String text = values[plan.textIndex()].toString();
        GlmSourceOptions o = plan.options();
        return switch (o.task()) {
            case COUNT_TOKENS -> new Pending(values, text, null, null, null, plan.runner().countTokens(text));
            // as glm_summarize: a blank document gets an empty summary without the engine
            case SUMMARIZE -> new Pending(values, text, text.isBlank() ? null : Summarizer.submit(plan.runner(), text, o.maxWords()));
            case GENERATE -> new Pending(values, text, plan.runner().submit(o.prompt(text), o.maxTokens(), o.sampling(),
                    o.call().stop()));
            // as glm_extract: a blank document extracts to all-NULL fields without the engine
            case EXTRACT -> new Pending(values, text, null, text.isBlank() ? null : o.extractor().submit(plan.runner(), text), null, null);
            case CLASSIFY -> new Pending(values, text, null, null, Classifier.classify(plan.runner(), text, o.labels()), null);
        };
    }

    private InternalRow toRow(Pending p) {
        Object[] task = taskValues(p);
        int[] output = plan.output();
        Object[] out = new Object[output.length];
        for (int i = 0; i < output.length; i++) out[i] = output[i] >= 0 ? p.values[output[i]] : task[-output[i] - 1];
        return new GenericInternalRow(out);
    }

    /** The task's columns for one row: NULL for a NULL text, else the result (the on-error policy applied). */
    private Object[] taskValues(Pending p) {
        GlmTask task = plan.options().task();
        if (task == GlmTask.COUNT_TOKENS) return new Object[] {p.tokens};
        if (task == GlmTask.CLASSIFY) {
            if (p.text == null) return new Object[Classifier.RESULT.size()];
            Classifier.Outcome outcome = GlmRunner.await(p.classified);
            finish(outcome.counted());
            return outcome.resultValues();
        }
        if (p.text == null) return new Object[plan.options().outputColumns().size()];
        if (task == GlmTask.EXTRACT) {
            if (p.extracted == null) return ResultColumns.values(RowResult.EMPTY, plan.options().extractor().empty()); // blank
            Extractor.Extracted extracted = GlmRunner.await(p.extracted);
            return ResultColumns.values(finish(extracted.result()), extracted.row());
        }
        // a blank document: answered without the engine, not counted
        RowResult r = p.result == null ? RowResult.EMPTY : finish(GlmRunner.await(p.result));
        return ResultColumns.values(r, ResultColumns.textOrNull(r));
    }

    private RowResult finish(RowResult r) {
        counts.rows++;
        counts.promptTokens += r.promptTokens();
        counts.generatedTokens += r.completionTokens();
        counts.engineNanos += r.engineNanos();
        if (!r.ok()) counts.failedRows++;
        return plan.runner().finish(r); // job metrics, and spark.glm.onError=fail throws here
    }

    @Override
    public CustomTaskMetric[] currentMetricsValues() {
        return counts.values();
    }

    @Override
    public void close() {
        if (rows != null) rows.close();
        // Rows still in the window (a failure or a LIMIT above us stopped reading): let them finish in the engine
        // unobserved; cancelling a CompletableFuture would not stop the engine's work anyway.
        window.clear();
        if (window.mostHeld() > 0 && plan.options().task() != GlmTask.COUNT_TOKENS) plan.runner().recordInFlight(window.mostHeld());
    }
}
