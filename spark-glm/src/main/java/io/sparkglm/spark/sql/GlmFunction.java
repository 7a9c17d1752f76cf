package io.sparkglm.spark.sql;

import io.sparkglm.spark.executor.GlmRunner;
import java.util.Arrays;
import java.util.Objects;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.connector.catalog.functions.ScalarFunction;
import org.apache.spark.sql.types.DataType;

/**
 * Base of the glm_* SQL functions: a Spark {@link ScalarFunction} evaluated one row at a time on the
 * executors (wrapped in Catalyst's ApplyFunctionExpression), holding the {@link GlmRunner} that was set up
 * while the query was analyzed. Rows of one task run one after another; rows of the executor's concurrent
 * tasks share one engine and one continuous batch (docs/adr/0004-spark-functions.md).
 */
abstract class GlmFunction<R> implements ScalarFunction<R> {

    final String name;
    final GlmRunner runner;
    final DataType[] inputTypes;

    GlmFunction(String name, GlmRunner runner, DataType... inputTypes) {
        this.name = name;
        this.runner = runner;
        this.inputTypes = inputTypes;
    }

    /** A row's result in the making. */
    @FunctionalInterface
    interface Pending {
        /** Waits for the result and returns its value, metrics counted and the on-error policy applied (task thread). */
        Object finish();
    }

    /**
     * Starts one row's work and returns at once: the engine-backed functions queue the row into the engine, so that the
     * batched SQL operator ({@link GlmBatchEval}) can keep many rows of a task in flight. The default computes at once.
     * Only the arguments' values are read from {@code input}; they are not kept.
     */
    Pending start(InternalRow input) {
        Object result = produceResult(input);
        return () -> result;
    }

    /** Whether rows of this function run in the engine, so that batching them pays. */
    boolean batched() {
        return false;
    }

    @Override public String name() { return name; }
    @Override public String canonicalName() { return "io.sparkglm." + name; }
    @Override public DataType[] inputTypes() { return inputTypes.clone(); }
    /** NULL in, NULL out; a failed row is NULL too (unless spark.glm.onError=fail). */
    @Override public boolean isResultNullable() { return true; }

    /** Outputs are a pure function of (model, input, options, seed): Spark may treat these as deterministic. */
    @Override public boolean isDeterministic() { return true; }

    /**
     * Equal when they compute the same values: the same function with the same settings, argument and result
     * types (what literal arguments such as glm_extract's schema change, they change through those or through
     * the expression's children, which Spark compares itself). Spark compares plans by their expressions: a view
     * or a {@code CACHE TABLE ... AS} query is analyzed again by every query that reads it, building new function
     * objects, and with identity equality the cached data never matched and the model ran again on each read.
     */
    @Override
    public boolean equals(Object o) {
        return o instanceof GlmFunction<?> f && f.getClass() == getClass() && f.name.equals(name)
                && f.runner.conf().equals(runner.conf()) && Arrays.equals(f.inputTypes, inputTypes)
                && f.resultType().equals(resultType());
    }

    @Override
    public int hashCode() {
        return Objects.hash(getClass(), name, runner.conf(), Arrays.hashCode(inputTypes), resultType());
    }
}
