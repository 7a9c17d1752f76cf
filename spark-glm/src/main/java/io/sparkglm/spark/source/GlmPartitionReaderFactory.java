package io.sparkglm.spark.source;

import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.connector.read.InputPartition;
import org.apache.spark.sql.connector.read.PartitionReader;
import org.apache.spark.sql.connector.read.PartitionReaderFactory;

/** Serialized to the executors with the {@link ReadPlan}; opens one reader per partition. */
record GlmPartitionReaderFactory(ReadPlan plan) implements PartitionReaderFactory {

    @Override
    public PartitionReader<InternalRow> createReader(InputPartition partition) {
        return new GlmPartitionReader(plan, (GlmInputPartition) partition);
    }
}
