package io.sparkglm.spark.executor;

import io.sparkglm.generate.Engine;
import io.sparkglm.generate.EngineOptions;
import io.sparkglm.generate.GenerationRequest;
import io.sparkglm.generate.GenerationResult;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The part of {@link Engine} the Spark side uses. An interface so that the Spark plumbing (NULLs, failures,
 * metrics, batching) can be tested with a scripted engine as well as with the real one.
 */
public interface InferenceEngine extends AutoCloseable {

    CompletableFuture<GenerationResult> submit(GenerationRequest request);

    int countTokens(String text);

    int contextLength();

    /** Log-likelihood of each continuation after the prompt ids (glm_classify); see {@link Engine#score}. */
    default CompletableFuture<double[]> score(int[] promptIds, List<int[]> continuations) {
        return CompletableFuture.failedFuture(new UnsupportedOperationException("this engine cannot score continuations"));
    }

    /**
     * Why this engine stopped working (it completes every request exceptionally with an
     * {@link io.sparkglm.generate.EngineFailedException}), or null while it works.
     */
    default Throwable failure() {
        return null;
    }

    @Override
    void close();

    /** Loads the real engine. */
    static InferenceEngine load(EngineOptions options) {
        Engine engine = Engine.load(options);
        return new InferenceEngine() {
            @Override public CompletableFuture<GenerationResult> submit(GenerationRequest r) { return engine.submit(r, null); }
            @Override public int countTokens(String text) { return engine.countTokens(text); }
            @Override public int contextLength() { return engine.contextLength(); }
            @Override public CompletableFuture<double[]> score(int[] p, List<int[]> c) { return engine.score(p, c); }
            @Override public Throwable failure() { return engine.failure(); }
            @Override public void close() { engine.close(); }
        };
    }
}
