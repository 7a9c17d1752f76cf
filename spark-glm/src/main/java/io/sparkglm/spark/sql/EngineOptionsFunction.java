package io.sparkglm.spark.sql;

import io.sparkglm.spark.executor.GlmRunner;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * {@code glm_engine_options()}: the engine options the current task would use (model path on this executor,
 * backend, and the GPU Spark assigned to the task), without loading anything. For checking a cluster setup.
 */
final class EngineOptionsFunction extends GlmFunction<UTF8String> {

    EngineOptionsFunction(GlmRunner runner) {
        super("glm_engine_options", runner);
    }

    @Override public DataType resultType() { return DataTypes.StringType; }

    /** Depends on where it runs (the executor's files, the task's GPU): never constant-folded on the driver. */
    @Override public boolean isDeterministic() { return false; }

    @Override
    public UTF8String produceResult(InternalRow input) {
        return UTF8String.fromString(runner.engineOptions().toString());
    }
}
