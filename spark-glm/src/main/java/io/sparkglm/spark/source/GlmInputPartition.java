package io.sparkglm.spark.source;

import java.util.List;
import org.apache.spark.sql.connector.read.InputPartition;

/**
 * One task's share: consecutive row groups (possibly of several files) and the planner's estimate of their work.
 *
 * @param rowGroups      the row groups, in input order
 * @param estimatedTokens the planner's estimate (prompt + generated tokens), shown in logs
 */
public record GlmInputPartition(List<RowGroupWork> rowGroups, long estimatedTokens) implements InputPartition {

    public GlmInputPartition {
        rowGroups = List.copyOf(rowGroups);
    }
}
