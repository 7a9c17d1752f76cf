package io.sparkglm.spark.source;

import io.sparkglm.spark.conf.SessionSettings;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.apache.spark.sql.connector.catalog.Table;
import org.apache.spark.sql.connector.catalog.TableCatalog;
import org.apache.spark.sql.connector.catalog.TableProvider;
import org.apache.spark.sql.connector.expressions.Transform;
import org.apache.spark.sql.sources.DataSourceRegister;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.util.CaseInsensitiveStringMap;

/**
 * {@code format("glm")}: Parquet documents in, the model's results out, one row per document.
 *
 * <pre>
 * spark.read().format("glm").option("textColumn", "body").option("task", "summarize").load("docs.parquet")
 * CREATE TEMPORARY VIEW s USING glm OPTIONS (path 'docs.parquet', textColumn 'body', task 'summarize')
 * </pre>
 *
 * The schema comes from the files (the input columns) plus the task's columns; options are parsed and the text
 * column checked here, while the query is analyzed, so mistakes fail before any task starts.
 */
public final class GlmDataSource implements TableProvider, DataSourceRegister {

    /** Spark creates one provider per load: the table built for inferSchema is reused by getTable. */
    private GlmTable table;
    private Map<String, String> tableOptions;

    @Override
    public String shortName() {
        return "glm";
    }

    @Override
    public StructType inferSchema(CaseInsensitiveStringMap options) {
        return table(options.asCaseSensitiveMap()).schema();
    }

    @Override
    public Table getTable(StructType schema, Transform[] partitioning, Map<String, String> properties) {
        return table(properties);
    }

    /**
     * The catalog's own table properties: a table in the session catalog ({@code CREATE TABLE t USING glm OPTIONS
     * (...)}) reaches the source with them and with each option repeated as {@code option.<name>}.
     */
    private static final Set<String> CATALOG_PROPERTIES = Set.of(TableCatalog.PROP_LOCATION,
            TableCatalog.PROP_IS_MANAGED_LOCATION, TableCatalog.PROP_EXTERNAL, TableCatalog.PROP_TABLE_TYPE,
            TableCatalog.PROP_COMMENT, TableCatalog.PROP_COLLATION, TableCatalog.PROP_PROVIDER, TableCatalog.PROP_OWNER);

    private GlmTable table(Map<String, String> given) {
        Map<String, String> options = new HashMap<>();
        given.forEach((k, v) -> {
            String key = k.toLowerCase(Locale.ROOT);
            if (!CATALOG_PROPERTIES.contains(key) && !key.startsWith(TableCatalog.OPTION_PREFIX)) options.put(k, v);
        });
        if (table == null || !options.equals(tableOptions)) {
            table = GlmTable.create(options, GlmSourceOptions.parse(options, SessionSettings.current()));
            tableOptions = Map.copyOf(options);
        }
        return table;
    }
}
