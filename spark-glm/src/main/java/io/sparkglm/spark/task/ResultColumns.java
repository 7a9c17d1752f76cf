package io.sparkglm.spark.task;

import io.sparkglm.spark.executor.RowResult;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * The one place a {@link RowResult} becomes columns: the struct of glm_generate_result and glm_summarize_result,
 * the columns format("glm") and GlmDatasets add (with the answer column named for the task and, for extraction,
 * holding the extracted struct).
 */
public final class ResultColumns {

    private ResultColumns() {}

    /** The columns after the answer, in order. */
    public static StructType costColumns() {
        return new StructType()
                .add("finish_reason", DataTypes.StringType, true)
                .add("prompt_tokens", DataTypes.IntegerType, true)
                .add("completion_tokens", DataTypes.IntegerType, true)
                .add("truncated", DataTypes.BooleanType, true)
                .add("error", DataTypes.StringType, true)
                .add("chunks", DataTypes.IntegerType, true)
                .add("levels", DataTypes.IntegerType, true);
    }

    /** The answer column named {@code answer} of type {@code answerType}, then {@link #costColumns()}. */
    public static StructType type(String answer, DataType answerType) {
        StructType t = new StructType().add(answer, answerType, true);
        for (var f : costColumns().fields()) t = t.add(f);
        return t;
    }

    /** glm_generate_result's and glm_summarize_result's struct. */
    public static final StructType RESULT = type("text", DataTypes.StringType);

    /** Catalyst values of {@link #type}: the answer (already a Catalyst value, null when the row failed), then the costs. */
    public static Object[] values(RowResult r, Object answer) {
        return new Object[] {
            answer, utf8(r.finishReason().sqlName()), r.promptTokens(), r.completionTokens(), r.truncated(), utf8(r.error()),
            r.chunks(), r.levels()
        };
    }

    /** A text result as {@link #RESULT}'s row: the text is NULL when the row failed. */
    public static InternalRow textRow(RowResult r) {
        return new GenericInternalRow(values(r, textOrNull(r)));
    }

    /** The text of a result, or NULL when the row failed. */
    public static UTF8String textOrNull(RowResult r) {
        return r.ok() ? utf8(r.text()) : null;
    }

    /** External (Row) values of {@link #type} for a text answer (GlmDatasets). */
    public static Object[] externalValues(RowResult r) {
        return new Object[] {
            r.ok() ? r.text() : null, r.finishReason().sqlName(), r.promptTokens(), r.completionTokens(), r.truncated(), r.error(),
            r.chunks(), r.levels()
        };
    }

    private static UTF8String utf8(String s) {
        return s == null ? null : UTF8String.fromString(s);
    }
}
