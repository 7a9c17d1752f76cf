package io.sparkglm.spark.sql;

import io.sparkglm.spark.executor.RowResult;
import io.sparkglm.spark.task.ResultColumns;
import io.sparkglm.spark.conf.CallOptions;
import io.sparkglm.spark.conf.GlmConfException;
import io.sparkglm.spark.executor.GlmRunner;
import io.sparkglm.spark.executor.GlmRunner.Prompt;
import java.util.HashMap;
import java.util.Map;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.util.MapData;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;

/**
 * {@code glm_generate(prompt [, options])} (the text) and {@code glm_generate_result(prompt [, options])} (the
 * whole result struct): one user turn in GLM-4's chat format. A literal options map was parsed while the query
 * was analyzed ({@code fixedOptions}); a map computed per row is parsed per row, and a bad one fails that row.
 */
final class GenerateFunction extends EngineFunction<Object> {

    private final boolean fullResult;
    private final CallOptions fixedOptions;

    GenerateFunction(String name, GlmRunner runner, boolean withOptions, CallOptions fixedOptions, boolean fullResult) {
        super(name, runner, withOptions
                ? new DataType[] {DataTypes.StringType, DataTypes.createMapType(DataTypes.StringType, DataTypes.StringType)}
                : new DataType[] {DataTypes.StringType});
        this.fixedOptions = fixedOptions;
        this.fullResult = fullResult;
    }

    @Override
    public DataType resultType() {
        return fullResult ? ResultColumns.RESULT : DataTypes.StringType;
    }

    static Map<String, String> toJava(MapData map) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < map.numElements(); i++) {
            String key = map.keyArray().getUTF8String(i).toString();
            m.put(key, map.valueArray().isNullAt(i) ? null : map.valueArray().getUTF8String(i).toString());
        }
        return m;
    }

    @Override
    Pending start(InternalRow input) {
        if (input.isNullAt(0)) return () -> null;
        String prompt = input.getUTF8String(0).toString();
        CallOptions options = fixedOptions;
        if (options == null) {
            try {
                options = input.numFields() > 1 && !input.isNullAt(1)
                        ? CallOptions.parse(toJava(input.getMap(1)), runner.conf())
                        : CallOptions.defaults(runner.conf());
            } catch (GlmConfException e) {
                return () -> output(runner.finish(RowResult.failed(e.getMessage(), 0)));
            }
        }
        var answer = runner.submit(new Prompt(options.system(), null, prompt), options.maxTokens(), options.sampling(), options.stop());
        return () -> output(runner.finish(GlmRunner.await(answer)));
    }

    private Object output(RowResult result) {
        return fullResult ? ResultColumns.textRow(result) : ResultColumns.textOrNull(result);
    }
}
