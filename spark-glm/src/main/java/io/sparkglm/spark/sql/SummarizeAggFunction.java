package io.sparkglm.spark.sql;

import io.sparkglm.spark.executor.GlmRunner;
import io.sparkglm.spark.executor.RowResult;
import io.sparkglm.spark.task.GroupSummary;
import io.sparkglm.spark.task.ResultColumns;
import java.util.Objects;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.connector.catalog.functions.AggregateFunction;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;

/**
 * {@code glm_summarize_agg(text [, max_words])} and {@code glm_summarize_agg_result(text [, max_words])}: one summary
 * of a group's texts (GROUP BY), through Spark's partial and final aggregation ({@link GroupSummary}). NULL and blank
 * texts are skipped; a group without text gives NULL. max_words is a literal, checked when the query is analyzed.
 */
final class SummarizeAggFunction implements AggregateFunction<GroupSummary, Object> {

    private final String name;
    private final GlmRunner runner;
    private final int maxWords;
    private final boolean fullResult;

    SummarizeAggFunction(String name, GlmRunner runner, int maxWords, boolean fullResult) {
        this.name = name;
        this.runner = runner;
        this.maxWords = maxWords;
        this.fullResult = fullResult;
    }

    @Override public String name() { return name; }
    @Override public String canonicalName() { return "io.sparkglm." + name; }
    @Override public DataType[] inputTypes() { return new DataType[] {DataTypes.StringType}; }
    @Override public DataType resultType() { return fullResult ? ResultColumns.RESULT : DataTypes.StringType; }
    @Override public boolean isResultNullable() { return true; }
    /** The same texts give the same summary, in any order (GroupSummary sorts by content before each round). */
    @Override public boolean isDeterministic() { return true; }

    @Override
    public GroupSummary newAggregationState() {
        return new GroupSummary(runner, maxWords);
    }

    @Override
    public GroupSummary update(GroupSummary state, InternalRow input) {
        return state.add(input.isNullAt(0) ? null : input.getUTF8String(0).toString());
    }

    @Override
    public GroupSummary merge(GroupSummary left, GroupSummary right) {
        return left.merge(right);
    }

    @Override
    public Object produceResult(GroupSummary state) {
        RowResult result = state.finish(runner);
        if (result == null) return null;
        runner.finish(result);
        return fullResult ? ResultColumns.textRow(result) : ResultColumns.textOrNull(result);
    }

    /** Equal with the same settings and max_words (see {@link GlmFunction#equals}: cached views must match). */
    @Override
    public boolean equals(Object o) {
        return o instanceof SummarizeAggFunction f && f.name.equals(name) && f.maxWords == maxWords && f.fullResult == fullResult
                && f.runner.conf().equals(runner.conf());
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, maxWords, fullResult, runner.conf());
    }
}
