package io.sparkglm.spark.sql;

import io.sparkglm.generate.FinishReason;
import io.sparkglm.generate.GenerationResult;
import io.sparkglm.spark.executor.GlmRunner;
import io.sparkglm.spark.executor.GlmRunner.Prompt;
import java.util.List;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;

/**
 * {@code glm_summarize(doc [, max_words])} and {@code glm_summarize_result(doc [, max_words])}: one chat turn
 * asking for a summary of at most max_words words (default 100), greedy unless the session sets sampling.
 */
public final class SummarizeFunction extends GlmFunction<Object> {

    static final int DEFAULT_MAX_WORDS = 100;
    static final int MAX_MAX_WORDS = 10_000;
    public static final String SYSTEM = "You are a careful assistant. You write faithful, concise summaries of documents.";

    private final boolean fullResult;

    SummarizeFunction(String name, GlmRunner runner, boolean withMaxWords, boolean fullResult) {
        super(name, runner, withMaxWords
                ? new DataType[] {DataTypes.StringType, DataTypes.IntegerType}
                : new DataType[] {DataTypes.StringType});
        this.fullResult = fullResult;
    }

    @Override
    public DataType resultType() {
        return fullResult ? RESULT_TYPE : DataTypes.StringType;
    }

    public static String instruction(int maxWords) {
        return "Summarize the following document in at most " + maxWords + " words.";
    }

    /** Generated-token cap for a summary: about two tokens per word plus a margin, never above maxNewTokens. */
    public static int maxTokens(int maxWords, int maxNewTokens) {
        return (int) Math.min(maxNewTokens, 2L * maxWords + 16);
    }

    static String checkMaxWords(Object value) {
        if (value == null) return null;
        try {
            int n = Integer.parseInt(value.toString().trim());
            return n >= 1 && n <= MAX_MAX_WORDS ? null : "max_words must be in 1.." + MAX_MAX_WORDS + ": " + n;
        } catch (NumberFormatException e) {
            return "max_words must be an integer in 1.." + MAX_MAX_WORDS + ": '" + value + "'";
        }
    }

    @Override
    public Object produceResult(InternalRow input) {
        if (input.isNullAt(0)) return null;
        String doc = input.getUTF8String(0).toString();
        int maxWords = DEFAULT_MAX_WORDS;
        if (input.numFields() > 1) {
            if (input.isNullAt(1)) return null;
            maxWords = input.getInt(1);
        }
        GenerationResult result;
        String bad = checkMaxWords(maxWords);
        if (bad != null) {
            result = runner.finish(GenerationResult.failed(bad, 0));
        } else if (doc.isBlank()) {
            // Nothing to summarize: an empty summary, without loading or running the model.
            result = new GenerationResult("", new int[0], FinishReason.STOP, 0, 0, 0, 0, false, null);
        } else {
            result = runner.run(new Prompt(SYSTEM, instruction(maxWords), doc),
                    maxTokens(maxWords, runner.conf().maxNewTokens()), runner.conf().sampling(), List.of());
        }
        return fullResult ? resultRow(result) : textOrNull(result);
    }
}
