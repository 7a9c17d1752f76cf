package io.sparkglm.spark.source;

import org.apache.spark.sql.connector.metric.CustomMetric;
import org.apache.spark.sql.connector.metric.CustomSumMetric;
import org.apache.spark.sql.connector.metric.CustomTaskMetric;

/**
 * The scan's metrics in the Spark UI (SQL tab, on the BatchScan node): each partition reader reports its task's
 * values, Spark sums them per query. Spark instantiates these classes by name on the driver, hence the public
 * no-argument classes.
 */
public final class GlmSourceMetrics {

    private GlmSourceMetrics() {}

    public static final String ROWS = "glmRows";
    public static final String PROMPT_TOKENS = "glmPromptTokens";
    public static final String GENERATED_TOKENS = "glmGeneratedTokens";
    public static final String FAILED_ROWS = "glmFailedRows";
    public static final String ENGINE_MS = "glmEngineMs";

    public static final class Rows extends CustomSumMetric {
        @Override public String name() { return ROWS; }
        @Override public String description() { return "glm rows sent to the model"; }
    }

    public static final class PromptTokens extends CustomSumMetric {
        @Override public String name() { return PROMPT_TOKENS; }
        @Override public String description() { return "glm prompt tokens"; }
    }

    public static final class GeneratedTokens extends CustomSumMetric {
        @Override public String name() { return GENERATED_TOKENS; }
        @Override public String description() { return "glm generated tokens"; }
    }

    public static final class FailedRows extends CustomSumMetric {
        @Override public String name() { return FAILED_ROWS; }
        @Override public String description() { return "glm failed rows"; }
    }

    public static final class EngineMs extends CustomSumMetric {
        @Override public String name() { return ENGINE_MS; }
        @Override public String description() { return "glm engine time (ms, summed over rows)"; }
    }

    static CustomMetric[] all() {
        return new CustomMetric[] {new Rows(), new PromptTokens(), new GeneratedTokens(), new FailedRows(), new EngineMs()};
    }

    /** One task's value of one metric. */
    record TaskValue(String name, long value) implements CustomTaskMetric {}

    /** A partition reader's running counts. */
    static final class Counts {
        long rows, promptTokens, generatedTokens, failedRows, engineNanos;

        CustomTaskMetric[] values() {
            return new CustomTaskMetric[] {new TaskValue(ROWS, rows), new TaskValue(PROMPT_TOKENS, promptTokens),
                new TaskValue(GENERATED_TOKENS, generatedTokens), new TaskValue(FAILED_ROWS, failedRows),
                new TaskValue(ENGINE_MS, engineNanos / 1_000_000)};
        }
    }
}
