package io.sparkglm.spark.sql;

import io.sparkglm.spark.executor.GlmRunner;
import io.sparkglm.spark.executor.RowResult;
import io.sparkglm.spark.task.ResultColumns;
import io.sparkglm.spark.task.Summarizer;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;

/**
 * {@code glm_summarize(doc [, max_words])} and {@code glm_summarize_result(doc [, max_words])}: a summary of at
 * most max_words words (default 100), greedy unless the session sets sampling; a document longer than the context
 * as spark.glm.longDocumentPolicy says ({@link Summarizer}).
 */
public final class SummarizeFunction extends EngineFunction<Object> {

    private final boolean fullResult;

    SummarizeFunction(String name, GlmRunner runner, boolean withMaxWords, boolean fullResult) {
        super(name, runner, withMaxWords
                ? new DataType[] {DataTypes.StringType, DataTypes.IntegerType}
                : new DataType[] {DataTypes.StringType});
        this.fullResult = fullResult;
    }

    @Override
    public DataType resultType() {
        return fullResult ? ResultColumns.RESULT : DataTypes.StringType;
    }

    @Override
    Pending start(InternalRow input) {
        if (input.isNullAt(0)) return () -> null;
        String doc = input.getUTF8String(0).toString();
        int maxWords = Summarizer.DEFAULT_MAX_WORDS;
        if (input.numFields() > 1) {
            if (input.isNullAt(1)) return () -> null;
            maxWords = input.getInt(1);
        }
        String bad = Summarizer.checkMaxWords(maxWords);
        if (bad != null) return () -> output(runner.finish(RowResult.failed(bad, 0)));
        // Nothing to summarize: an empty summary, without loading or running the model.
        if (doc.isBlank()) return () -> output(RowResult.EMPTY);
        var summary = Summarizer.submit(runner, doc, maxWords);
        return () -> output(runner.finish(GlmRunner.await(summary)));
    }

    private Object output(RowResult result) {
        return fullResult ? ResultColumns.textRow(result) : ResultColumns.textOrNull(result);
    }
}
