package io.sparkglm.spark.source;

import io.sparkglm.spark.conf.SessionSettings;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.connector.catalog.SupportsRead;
import org.apache.spark.sql.connector.catalog.TableCapability;
import org.apache.spark.sql.connector.read.ScanBuilder;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.util.CaseInsensitiveStringMap;

/**
 * The documents and what the task makes of them: the input columns of the Parquet files followed by the
 * task's columns. Built on the driver from the footers; checks the text (and id) column.
 */
public final class GlmTable implements SupportsRead {

    private final Map<String, String> rawOptions; // as given: parsed again over the session of each query
    private final GlmSourceOptions options;
    private final ParquetInput input;
    private final String textColumn; // as spelled in the files
    private final String idColumn;
    private final StructType schema;

    private GlmTable(Map<String, String> rawOptions, GlmSourceOptions options, ParquetInput input, String textColumn,
                     String idColumn) {
        this.rawOptions = Map.copyOf(rawOptions);
        this.options = options;
        this.input = input;
        this.textColumn = textColumn;
        this.idColumn = idColumn;
        StructType s = input.sparkSchema();
        for (StructField f : options.outputColumns().fields()) {
            if (Arrays.asList(s.fieldNames()).contains(f.name())) {
                throw new GlmSourceException("Input column '" + f.name() + "' has the name of a column task "
                        + options.task().optionName() + " adds (" + String.join(", ", options.outputColumns().fieldNames())
                        + "); rename it, e.g. with a view, before reading with format(\"glm\")");
            }
            s = s.add(f);
        }
        this.schema = s;
    }

    static GlmTable create(Map<String, String> rawOptions, GlmSourceOptions options) {
        ParquetInput input = ParquetInput.read(options.paths(), hadoopConf());
        StructType columns = input.sparkSchema();
        String text = column(columns, options.textColumn(), options.task() == GlmTask.GENERATE ? "promptColumn" : "textColumn");
        if (!columns.apply(text).dataType().equals(DataTypes.StringType)) {
            throw new GlmSourceException("Column '" + text + "' (option textColumn) must be a string column, but it is "
                    + columns.apply(text).dataType().sql() + "; columns: " + describe(columns));
        }
        String id = options.idColumn() == null ? null : column(columns, options.idColumn(), "idColumn");
        return new GlmTable(rawOptions, options, input, text, id);
    }

    /** The column's name as the files spell it (exact match first, then ignoring case), or a clear error. */
    private static String column(StructType columns, String name, String option) {
        for (String n : columns.fieldNames()) if (n.equals(name)) return n;
        for (String n : columns.fieldNames()) if (n.equalsIgnoreCase(name)) return n;
        throw new GlmSourceException("Column '" + name + "' (option " + option + ") not found in the Parquet files; "
                + "available columns: " + describe(columns));
    }

    private static String describe(StructType columns) {
        StringBuilder b = new StringBuilder();
        for (StructField f : columns.fields()) {
            if (!b.isEmpty()) b.append(", ");
            b.append(f.name()).append(' ').append(f.dataType().simpleString());
        }
        return b.toString();
    }

    static Configuration hadoopConf() {
        return SparkSession.active().sparkContext().hadoopConfiguration();
    }

    @Override public String name() { return "glm(" + String.join(", ", options.paths()) + ")"; }
    @Override public StructType schema() { return schema; }
    @Override public Set<TableCapability> capabilities() { return Set.of(TableCapability.BATCH_READ); }

    @Override
    public ScanBuilder newScanBuilder(CaseInsensitiveStringMap ignored) {
        return new GlmScanBuilder(withSessionSettings());
    }

    /**
     * This table with its options parsed again over the {@code spark.glm.*} settings of the session running the
     * query. A table is built once and then kept: in a temporary view ({@code CREATE TEMPORARY VIEW s USING glm}),
     * a cached or a reused DataFrame; the session at query time wins (as for the glm_* functions), the source's own
     * options still override it. Spark asks for a scan builder each time it plans a query, so this is where.
     */
    GlmTable withSessionSettings() {
        return new GlmTable(rawOptions, GlmSourceOptions.parse(rawOptions, SessionSettings.current()), input, textColumn,
                idColumn);
    }

    GlmSourceOptions options() { return options; }
    ParquetInput input() { return input; }
    String textColumn() { return textColumn; }
    String idColumn() { return idColumn; }
}
