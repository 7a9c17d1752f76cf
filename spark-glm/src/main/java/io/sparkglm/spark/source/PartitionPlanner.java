package io.sparkglm.spark.source;

import java.util.ArrayList;
import java.util.List;

/**
 * Groups row groups into Spark partitions by estimated work, not by bytes on disk: a document's cost is its
 * prompt tokens plus the tokens it may generate, so one row group holding a million-token contract gets a task
 * of its own while thousands of short notes share one. Pure (no Spark, no I/O) so the plan is unit-tested.
 *
 * <p>Rules: row groups keep their input order (so output order is input order); a partition is closed before
 * it would go over the budget; a row group over the budget alone forms its own partition (row groups are the
 * smallest unit); the budget shrinks to {@code total / minPartitions} when the input is small, so a small job
 * still uses every core.
 *
 * @param tokensPerPartition  the work budget of one partition, in estimated tokens
 * @param bytesPerToken       UTF-8 bytes per prompt token assumed by the estimate (conservatively low)
 * @param generatedPerRow     tokens one row may generate (max_tokens of the task; 0 for count_tokens)
 * @param minPartitions       the partitions a small input is still spread over (Spark's default parallelism)
 */
public record PartitionPlanner(long tokensPerPartition, double bytesPerToken, int generatedPerRow, int minPartitions) {

    public PartitionPlanner {
        if (tokensPerPartition < 1) throw new IllegalArgumentException("tokensPerPartition must be >= 1: " + tokensPerPartition);
        if (!(bytesPerToken > 0)) throw new IllegalArgumentException("bytesPerToken must be > 0: " + bytesPerToken);
        if (generatedPerRow < 0) throw new IllegalArgumentException("generatedPerRow must be >= 0: " + generatedPerRow);
        if (minPartitions < 1) throw new IllegalArgumentException("minPartitions must be >= 1: " + minPartitions);
    }

    /** The estimated tokens of one row group: prompt tokens from its text bytes, plus what its rows may generate. */
    public long estimate(RowGroupWork g) {
        return (long) Math.ceil(g.textBytes() / bytesPerToken) + g.rows() * (long) generatedPerRow;
    }

    /** The budget actually used: the configured one, or less when the whole input would not fill minPartitions. */
    public long effectiveBudget(List<RowGroupWork> groups) {
        long total = 0;
        for (RowGroupWork g : groups) total += estimate(g);
        long spread = Math.max(1, (total + minPartitions - 1) / minPartitions);
        return Math.min(tokensPerPartition, spread);
    }

    /** The partitions: consecutive runs of row groups, each within the budget unless it is a single row group. */
    public List<List<RowGroupWork>> plan(List<RowGroupWork> groups) {
        long budget = effectiveBudget(groups);
        List<List<RowGroupWork>> partitions = new ArrayList<>();
        List<RowGroupWork> current = new ArrayList<>();
        long work = 0;
        for (RowGroupWork g : groups) {
            if (g.rows() == 0) continue; // nothing to read
            long w = estimate(g);
            if (!current.isEmpty() && work + w > budget) {
                partitions.add(List.copyOf(current));
                current.clear();
                work = 0;
            }
            current.add(g);
            work += w;
        }
        if (!current.isEmpty()) partitions.add(List.copyOf(current));
        return partitions;
    }
}
