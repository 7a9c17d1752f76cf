package io.sparkglm.spark.source;

import io.sparkglm.spark.task.Classifier;
import io.sparkglm.spark.task.ResultColumns;
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
    COUNT_TOKENS("tokens"),
    /** The fields of option schema read from the text column, as glm_extract's struct. */
    EXTRACT("extracted"),
    /** The most likely of option labels, with probabilities (glm_classify_result). */
    CLASSIFY("label");

    /** The column that holds the task's answer. */
    public final String answerColumn;

    GlmTask(String answerColumn) {
        this.answerColumn = answerColumn;
    }

    /**
     * The columns the task adds after the input columns: the fields of glm_summarize_result / glm_generate_result
     * (for extract the answer is the struct of {@code extractSchema}), of glm_classify_result for classify.
     */
    public StructType outputColumns(StructType extractSchema) {
        return switch (this) {
            case COUNT_TOKENS -> new StructType().add(answerColumn, DataTypes.IntegerType, true);
            case CLASSIFY -> Classifier.RESULT;
            case SUMMARIZE, GENERATE, EXTRACT -> ResultColumns.type(answerColumn, this == EXTRACT ? extractSchema : DataTypes.StringType);
        };
    }

    public String optionName() {
        return name().toLowerCase(Locale.ROOT);
    }

    static GlmTask parse(String value) {
        for (GlmTask t : values()) {
            if (t.optionName().equalsIgnoreCase(value.trim())) return t;
        }
        throw new GlmSourceException("Bad value for option task: '" + value + "'; allowed: summarize, generate, count_tokens, "
                + "extract, classify");
    }
}
