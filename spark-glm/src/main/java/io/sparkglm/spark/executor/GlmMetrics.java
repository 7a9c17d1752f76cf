package io.sparkglm.spark.executor;

import java.io.Serializable;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.SparkContext;
import org.apache.spark.TaskContext;
import org.apache.spark.util.LongAccumulator;
import org.apache.spark.util.TaskCompletionListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Per-job numbers as named Spark accumulators (they show in the stage page of the Spark UI and can be read on
 * the driver), plus one summary line per task in the executor log. One set per SparkContext: values add up
 * over the queries of a session, so read them before and after a query to get that query's numbers. As with
 * every accumulator updated in a transformation, a retried task counts its rows again.
 */
public final class GlmMetrics implements Serializable {

    private static final Logger LOG = LoggerFactory.getLogger(GlmMetrics.class);
    private static final Map<SparkContext, GlmMetrics> BY_CONTEXT = new WeakHashMap<>();
    /** Task attempt id -> that task's counts, logged and dropped when the task completes. */
    private static final Map<Long, long[]> TASKS = new ConcurrentHashMap<>();

    public final LongAccumulator rows;
    public final LongAccumulator promptTokens;
    public final LongAccumulator generatedTokens;
    public final LongAccumulator failedRows;
    public final LongAccumulator truncatedRows;
    public final LongAccumulator engineMillis;
    /** The most rows a task held in the engine at once (batched SQL functions). */
    public final MaxAccumulator maxInFlight;

    private GlmMetrics(SparkContext sc) {
        rows = sc.longAccumulator("glm rows");
        promptTokens = sc.longAccumulator("glm prompt tokens");
        generatedTokens = sc.longAccumulator("glm generated tokens");
        failedRows = sc.longAccumulator("glm failed rows");
        truncatedRows = sc.longAccumulator("glm truncated rows");
        engineMillis = sc.longAccumulator("glm engine ms");
        maxInFlight = new MaxAccumulator();
        sc.register(maxInFlight, "glm max rows in flight");
    }

    /** The metrics of this SparkContext (created on the driver at first use). */
    public static synchronized GlmMetrics of(SparkContext sc) {
        return BY_CONTEXT.computeIfAbsent(sc, GlmMetrics::new);
    }

    /** Counts one finished row (called on the executor). */
    void record(RowResult r) {
        long engineNanos = r.engineNanos();
        rows.add(1);
        promptTokens.add(r.promptTokens());
        generatedTokens.add(r.completionTokens());
        if (!r.ok()) failedRows.add(1);
        if (r.truncated()) truncatedRows.add(1);
        engineMillis.add(engineNanos / 1_000_000);
        JvmTotals.ROWS.incrementAndGet();
        JvmTotals.PROMPT_TOKENS.addAndGet(r.promptTokens());
        JvmTotals.GENERATED_TOKENS.addAndGet(r.completionTokens());
        if (!r.ok()) JvmTotals.FAILED.incrementAndGet();
        JvmTotals.ENGINE_NANOS.addAndGet(engineNanos);
        countForTask(r, engineNanos);
    }

    private static void countForTask(RowResult r, long engineNanos) {
        long[] c = taskCounts();
        if (c == null) return; // constant folding on the driver
        synchronized (c) {
            c[0]++;
            c[1] += r.promptTokens();
            c[2] += r.completionTokens();
            c[3] += r.ok() ? 0 : 1;
            c[4] += engineNanos;
        }
    }

    /** Records the most rows a task held in flight (called on the executor when its input ends). */
    void recordInFlight(int rows) {
        maxInFlight.add((long) rows);
        long[] c = taskCounts();
        if (c == null) return;
        synchronized (c) {
            c[5] = Math.max(c[5], rows);
        }
    }

    /**
     * This task's counts (rows, prompt tokens, generated tokens, failed, engine nanos, most rows in flight), logged when
     * it completes; null outside a task.
     */
    private static long[] taskCounts() {
        TaskContext tc = TaskContext.get();
        if (tc == null) return null;
        return TASKS.computeIfAbsent(tc.taskAttemptId(), id -> {
            tc.addTaskCompletionListener((TaskCompletionListener) GlmMetrics::logTask);
            return new long[6];
        });
    }

    private static void logTask(TaskContext tc) {
        long[] c = TASKS.remove(tc.taskAttemptId());
        if (c == null) return;
        synchronized (c) {
            LOG.info("glm: stage {} partition {} (TID {}): rows={} promptTokens={} generatedTokens={} failed={} engineMs={} maxInFlight={}",
                    tc.stageId(), tc.partitionId(), tc.taskAttemptId(), c[0], c[1], c[2], c[3], c[4] / 1_000_000, c[5]);
        }
    }
}
