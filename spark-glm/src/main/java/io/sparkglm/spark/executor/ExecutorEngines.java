package io.sparkglm.spark.executor;

import io.sparkglm.generate.EngineOptions;
import io.sparkglm.tokenizer.GlmTokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The engines of this JVM: one per {@link EngineOptions} (model, backend, device, limits), loaded on the
 * first row that needs it and shared by every task thread of the executor, so that rows of concurrent tasks
 * join one continuous batch. Closed by a shutdown hook when the executor JVM exits.
 */
public final class ExecutorEngines {

    private static final Logger LOG = LoggerFactory.getLogger(ExecutorEngines.class);
    private static final Map<EngineOptions, InferenceEngine> ENGINES = new ConcurrentHashMap<>();
    private static final Map<Path, GlmTokenizer> TOKENIZERS = new ConcurrentHashMap<>();
    private static final AtomicInteger LOADS = new AtomicInteger();
    private static volatile Function<EngineOptions, InferenceEngine> loader = InferenceEngine::load;

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(ExecutorEngines::closeAll, "glm-engines-shutdown"));
    }

    private ExecutorEngines() {}

    /**
     * The engine for these options, loading it (once per JVM) when it is not there yet, or again when the one there
     * has failed: a failed engine is dropped (and closed in the background), so the task Spark retries after an
     * engine failure gets a fresh one.
     */
    public static InferenceEngine get(EngineOptions options) {
        return ENGINES.compute(options, (o, existing) -> {
            if (existing != null) {
                Throwable failure = existing.failure();
                if (failure == null) return existing;
                LOG.warn("glm: dropping the failed engine {}; loading a fresh one", o, failure);
                Thread.ofPlatform().daemon().name("glm-close-failed-engine").start(() -> closeQuietly(o, existing));
            }
            long start = System.nanoTime();
            InferenceEngine engine = loader.apply(o);
            LOADS.incrementAndGet();
            LOG.info("glm: loaded engine {} in {} ms", o, (System.nanoTime() - start) / 1_000_000);
            return engine;
        });
    }

    private static void closeQuietly(EngineOptions options, InferenceEngine engine) {
        try {
            engine.close();
        } catch (RuntimeException e) {
            LOG.warn("glm: closing engine {} failed", options, e);
        }
    }

    /**
     * The model's tokenizer, loaded once per JVM per model (for glm_count_tokens: counting needs no engine, so it
     * neither loads the weights nor waits for the batch).
     */
    public static GlmTokenizer tokenizer(Path model) {
        return TOKENIZERS.computeIfAbsent(model, GlmTokenizer::load);
    }

    /** How many engines this JVM has loaded so far (the local-cluster test checks it is one per executor). */
    public static int loads() {
        return LOADS.get();
    }

    /** Closes and forgets every engine; the shutdown hook calls it, tests may too. */
    public static synchronized void closeAll() {
        for (var key : new ArrayList<>(ENGINES.keySet())) {
            InferenceEngine engine = ENGINES.remove(key);
            if (engine != null) closeQuietly(key, engine);
        }
        JvmTotals.logSummary();
    }

    /**
     * Replaces how engines are loaded, for tests that script the engine (same JVM only: local mode). Closes the
     * loaded ones so the next row uses the new loader; {@code null} restores the real engine.
     */
    public static synchronized void replaceLoaderForTesting(Function<EngineOptions, InferenceEngine> testLoader) {
        closeAll();
        loader = testLoader == null ? InferenceEngine::load : testLoader;
    }
}
