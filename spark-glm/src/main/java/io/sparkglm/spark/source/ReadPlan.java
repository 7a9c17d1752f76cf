package io.sparkglm.spark.source;

import io.sparkglm.spark.executor.GlmRunner;
import java.io.Serializable;
import java.util.Map;
import java.util.Set;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.sources.Filter;
import org.apache.spark.sql.types.StructType;

/**
 * Everything a partition reader needs, decided on the driver and shipped with each task.
 *
 * @param options       the parsed source options (task, prompts, limits)
 * @param runner        the executor-side runner (engine cache, policies, metrics) shared with the SQL functions
 * @param parquetSchema the requested Parquet schema (only the columns the query needs), as text
 * @param readColumns   the Spark types of those columns, in the same order
 * @param textIndex     the text column's position among the read columns, or -1 when no task column is wanted
 * @param idIndex       the id column's position among the read columns, or -1 without resume
 * @param output        per output column: {@code i >= 0} = read column i, {@code -(k+1)} = the task's column k
 * @param filters       pushed filters, all evaluated before a row can reach the model
 * @param limit         rows to emit at most per partition, or -1
 * @param doneIds       ids of an earlier output to skip (normalized by {@link ResumeIds#key}), or null
 * @param hadoopConf    the Hadoop settings to open files with (Configuration is not serializable)
 */
record ReadPlan(GlmSourceOptions options, GlmRunner runner, String parquetSchema, StructType readColumns, int textIndex,
                int idIndex, int[] output, Filter[] filters, int limit, Broadcast<Set<Object>> doneIds,
                Map<String, String> hadoopConf) implements Serializable {}
