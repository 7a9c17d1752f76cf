package io.sparkglm.spark.executor;

import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Totals of this JVM (all tasks, all queries), for the summary line the executor logs when it exits. */
final class JvmTotals {

    private static final Logger LOG = LoggerFactory.getLogger(JvmTotals.class);
    static final AtomicLong ROWS = new AtomicLong();
    static final AtomicLong PROMPT_TOKENS = new AtomicLong();
    static final AtomicLong GENERATED_TOKENS = new AtomicLong();
    static final AtomicLong FAILED = new AtomicLong();
    static final AtomicLong ENGINE_NANOS = new AtomicLong();

    private JvmTotals() {}

    static void logSummary() {
        if (ROWS.get() == 0) return;
        LOG.info("glm: executor totals: rows={} promptTokens={} generatedTokens={} failed={} engineMs={}",
                ROWS.get(), PROMPT_TOKENS.get(), GENERATED_TOKENS.get(), FAILED.get(), ENGINE_NANOS.get() / 1_000_000);
    }
}
