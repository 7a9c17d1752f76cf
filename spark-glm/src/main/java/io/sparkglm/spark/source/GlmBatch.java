package io.sparkglm.spark.source;

import java.util.List;
import org.apache.spark.sql.connector.read.Batch;
import org.apache.spark.sql.connector.read.InputPartition;
import org.apache.spark.sql.connector.read.PartitionReaderFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The partitions of a scan, planned by estimated tokens ({@link PartitionPlanner}), and their reader factory. */
final class GlmBatch implements Batch {

    private static final Logger LOG = LoggerFactory.getLogger(GlmBatch.class);
    private final GlmScan scan;
    private InputPartition[] partitions;
    private ReadPlan plan;

    GlmBatch(GlmScan scan) {
        this.scan = scan;
    }

    @Override
    public synchronized InputPartition[] planInputPartitions() {
        if (partitions == null) {
            PartitionPlanner planner = scan.planner();
            List<RowGroupWork> groups = scan.rowGroups();
            List<List<RowGroupWork>> plan = planner.plan(groups);
            partitions = new InputPartition[plan.size()];
            for (int i = 0; i < partitions.length; i++) {
                long tokens = plan.get(i).stream().mapToLong(planner::estimate).sum();
                partitions[i] = new GlmInputPartition(plan.get(i), tokens);
            }
            LOG.info("glm: {} row groups in {} partitions (budget {} estimated tokens per partition)",
                    groups.size(), partitions.length, planner.effectiveBudget(groups));
        }
        return partitions.clone();
    }

    @Override
    public synchronized PartitionReaderFactory createReaderFactory() {
        if (plan == null) plan = scan.readPlan();
        return new GlmPartitionReaderFactory(plan);
    }
}
