package io.sparkglm.spark.source;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.connector.read.Scan;
import org.apache.spark.sql.connector.read.ScanBuilder;
import org.apache.spark.sql.connector.read.SupportsPushDownFilters;
import org.apache.spark.sql.connector.read.SupportsPushDownLimit;
import org.apache.spark.sql.connector.read.SupportsPushDownRequiredColumns;
import org.apache.spark.sql.sources.Filter;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Takes what the query lets the source do itself: the columns it needs (only those are read; without any
 * task column no row goes to the model), the filters on input columns (evaluated before inference, so skipped
 * rows never reach the model; the rest, e.g. on the summary, Spark applies after the scan) and a LIMIT.
 */
final class GlmScanBuilder implements ScanBuilder, SupportsPushDownRequiredColumns, SupportsPushDownFilters,
        SupportsPushDownLimit {

    private final GlmTable table;
    private StructType required;
    private Filter[] pushed = new Filter[0];
    private int limit = -1;

    GlmScanBuilder(GlmTable table) {
        this.table = table;
        this.required = table.schema();
    }

    @Override
    public void pruneColumns(StructType requiredSchema) {
        this.required = requiredSchema;
    }

    @Override
    public Filter[] pushFilters(Filter[] filters) {
        Map<String, Integer> index = new HashMap<>();
        Map<String, DataType> types = new HashMap<>();
        StructField[] inputs = table.input().sparkSchema().fields();
        for (int i = 0; i < inputs.length; i++) {
            index.put(inputs[i].name(), i);
            types.put(inputs[i].name(), inputs[i].dataType());
        }
        List<Filter> accepted = new ArrayList<>();
        List<Filter> rest = new ArrayList<>();
        for (Filter f : filters) (RowFilter.compile(f, index, types) != null ? accepted : rest).add(f);
        pushed = accepted.toArray(Filter[]::new);
        return rest.toArray(Filter[]::new);
    }

    @Override
    public Filter[] pushedFilters() {
        return pushed.clone();
    }

    @Override
    public boolean pushLimit(int limit) {
        this.limit = limit;
        return true;
    }

    @Override
    public Scan build() {
        return new GlmScan(table, required, pushed, limit);
    }
}
