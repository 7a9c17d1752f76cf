package io.sparkglm.spark.source;

import io.sparkglm.spark.executor.GlmMetrics;
import io.sparkglm.spark.executor.GlmRunner;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.Type;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.connector.metric.CustomMetric;
import org.apache.spark.sql.connector.read.Batch;
import org.apache.spark.sql.connector.read.Scan;
import org.apache.spark.sql.sources.Filter;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * The scan a query settled on: which columns to read from Parquet, which to compute, which rows to drop
 * before inference. {@link #description()} (shown by EXPLAIN) lists them.
 */
final class GlmScan implements Scan {

    private final GlmTable table;
    private final StructType readSchema;
    private final Filter[] filters;
    private final int limit;
    private final List<String> readColumns; // input columns read from Parquet, in file order
    private final boolean runsTask;

    GlmScan(GlmTable table, StructType readSchema, Filter[] filters, int limit) {
        this.table = table;
        this.readSchema = readSchema;
        this.filters = filters;
        this.limit = limit;
        Set<String> taskColumns = Set.of(table.options().outputColumns().fieldNames());
        Set<String> needed = new LinkedHashSet<>();
        boolean task = false;
        for (StructField f : readSchema.fields()) {
            if (taskColumns.contains(f.name())) task = true;
            else needed.add(f.name());
        }
        if (task) needed.add(table.textColumn());
        if (table.options().resumeFrom() != null) needed.add(table.idColumn());
        for (Filter f : filters) needed.addAll(Arrays.asList(f.references()));
        this.runsTask = task;
        this.readColumns = new ArrayList<>();
        for (String name : table.input().sparkSchema().fieldNames()) if (needed.contains(name)) readColumns.add(name);
    }

    @Override
    public StructType readSchema() {
        return readSchema;
    }

    @Override
    public String description() {
        GlmSourceOptions o = table.options();
        return "GlmScan task=" + o.task().optionName() + (runsTask ? "" : " (no task column needed: no inference)")
                + " textColumn=" + table.textColumn() + " readColumns=" + readColumns
                + " pushedFilters=" + Arrays.toString(filters) + (limit >= 0 ? " limit=" + limit : "")
                + (o.resumeFrom() != null ? " resumeFrom=" + o.resumeFrom() : "");
    }

    @Override
    public CustomMetric[] supportedCustomMetrics() {
        return GlmSourceMetrics.all();
    }

    @Override
    public Batch toBatch() {
        return new GlmBatch(this);
    }

    /** The row groups to plan, as the footers describe them; without a task only row counts matter. */
    List<RowGroupWork> rowGroups() {
        List<RowGroupWork> groups = table.input().rowGroups(runsTask ? table.textColumn() : null);
        if (limit >= 0 && filters.length == 0 && table.options().resumeFrom() == null) {
            // every row read is kept: the first row groups holding `limit` rows are enough
            List<RowGroupWork> first = new ArrayList<>();
            long rows = 0;
            for (RowGroupWork g : groups) {
                if (rows >= limit) break;
                first.add(g);
                rows += g.rows();
            }
            return first;
        }
        return groups;
    }

    PartitionPlanner planner() {
        GlmSourceOptions o = table.options();
        int parallelism = SparkSession.active().sparkContext().defaultParallelism();
        return new PartitionPlanner(o.tokensPerPartition(), o.bytesPerToken(), runsTask ? o.generatedPerRow() : 0, parallelism);
    }

    /** What each task gets (built once per batch, on the driver). */
    ReadPlan readPlan() {
        GlmSourceOptions o = table.options();
        SparkSession spark = SparkSession.active();
        Configuration hadoop = GlmTable.hadoopConf();
        MessageType fileSchema = table.input().schema();
        List<Type> fields = new ArrayList<>();
        StructType readTypes = new StructType();
        Map<String, Integer> position = new HashMap<>();
        for (String name : readColumns) {
            position.put(name, fields.size());
            fields.add(fileSchema.getType(name));
            readTypes = readTypes.add(table.input().sparkSchema().apply(name));
        }
        MessageType requested = new MessageType(fileSchema.getName(), fields);
        String[] taskColumns = o.outputColumns().fieldNames();
        int[] output = new int[readSchema.size()];
        for (int i = 0; i < output.length; i++) {
            String name = readSchema.fields()[i].name();
            int k = Arrays.asList(taskColumns).indexOf(name);
            output[i] = k >= 0 ? -(k + 1) : position.get(name);
        }
        Broadcast<Set<Object>> done = null;
        if (o.resumeFrom() != null) {
            Set<Object> ids = ResumeIds.read(o.resumeFrom(), table.idColumn(), hadoop);
            done = JavaSparkContext.fromSparkContext(spark.sparkContext()).broadcast(ids);
        }
        // only what differs from Hadoop's defaults (the executors start from those): a few entries, not hundreds
        Configuration defaults = new Configuration();
        Map<String, String> conf = new HashMap<>();
        hadoop.forEach(e -> {
            if (!e.getValue().equals(defaults.getRaw(e.getKey()))) conf.put(e.getKey(), e.getValue());
        });
        GlmRunner runner = new GlmRunner(o.conf(), GlmMetrics.of(spark.sparkContext()));
        return new ReadPlan(o, runner, requested.toString(), readTypes, runsTask ? position.get(table.textColumn()) : -1,
                o.resumeFrom() != null ? position.get(table.idColumn()) : -1, output, filters, limit, done, conf);
    }
}
