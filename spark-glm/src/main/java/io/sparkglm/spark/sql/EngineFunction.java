package io.sparkglm.spark.sql;

import io.sparkglm.spark.executor.GlmRunner;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.types.DataType;

/**
 * A glm_* function whose rows run in the engine (summaries, generation, extraction, classification): its work is
 * {@link #start}ed and {@link Pending#finish finish}ed apart, so that the batched SQL operator can keep many rows in
 * flight; evaluated row by row, a row is started and finished at once.
 */
abstract class EngineFunction<R> extends GlmFunction<R> {

    EngineFunction(String name, GlmRunner runner, DataType... inputTypes) {
        super(name, runner, inputTypes);
    }

    @Override
    abstract Pending start(InternalRow input);

    @Override
    final boolean batched() {
        return true;
    }

    @Override
    @SuppressWarnings("unchecked")
    public final R produceResult(InternalRow input) {
        return (R) start(input).finish();
    }
}
