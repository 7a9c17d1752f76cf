package io.sparkglm.spark.source;

import java.util.Locale;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/** What the source does with each row's text, and the columns it adds for that. */
public enum GlmTask {
    /** A summary of the text column (the prompts of glm_summarize). */
    SUMMARIZE("summary"),
    /** The model's answer to the prompt column (the prompts of glm_generate). */
    GENERATE("text"),
    /** Tokens of the text column with the model's tokenizer; no inference. */
    COUNT_TOKENS("tokens");

    /** The column that holds the task's answer. */
    public final String answerColumn;

    GlmTask(String answerColumn) {
        this.answerColumn = answerColumn;
    }

    /** The columns the task adds after the input columns (the fields of glm_summarize_result / glm_generate_result). */
    public StructType outputColumns() {
        if (this == COUNT_TOKENS) return new StructType().add(answerColumn, DataTypes.IntegerType, true);
        return new StructType()
                .add(answerColumn, DataTypes.StringType, true)
                .add("finish_reason", DataTypes.StringType, true)
                .add("prompt_tokens", DataTypes.IntegerType, true)
                .add("completion_tokens", DataTypes.IntegerType, true)
                .add("truncated", DataTypes.BooleanType, true)
                .add("error", DataTypes.StringType, true);
    }

    public String optionName() {
        return name().toLowerCase(Locale.ROOT);
    }

    static GlmTask parse(String value) {
        for (GlmTask t : values()) {
            if (t.optionName().equalsIgnoreCase(value.trim())) return t;
        }
        throw new GlmSourceException("Bad value for option task: '" + value + "'; allowed: summarize, generate, count_tokens");
    }
}
