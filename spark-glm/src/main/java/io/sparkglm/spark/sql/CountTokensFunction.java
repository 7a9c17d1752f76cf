package io.sparkglm.spark.sql;

import io.sparkglm.spark.executor.GlmRunner;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;

/** {@code glm_count_tokens(text)}: tokens of ordinary text with the model's own tokenizer, no inference. */
final class CountTokensFunction extends GlmFunction<Integer> {

    CountTokensFunction(GlmRunner runner) {
        super("glm_count_tokens", runner, DataTypes.StringType);
    }

    @Override public DataType resultType() { return DataTypes.IntegerType; }

    @Override
    public Integer produceResult(InternalRow input) {
        if (input.isNullAt(0)) return null;
        return runner.countTokens(input.getUTF8String(0).toString());
    }
}
