package io.sparkglm.generate;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A loaded GLM-4 model ready to generate: load once, share between threads, close when done.
 * Requests from any thread join one continuous batch.
 *
 * <p>PLACEHOLDER SIGNATURES: the implementation lands with issue 4; the API below is the contract the
 * Spark module codes against.
 */
public final class Engine implements AutoCloseable {

    private Engine() {}

    public static Engine load(EngineOptions options) {
        throw new UnsupportedOperationException("Engine is not implemented yet");
    }

    /** Generates all requests together; results in request order; one failure never fails the others. */
    public List<GenerationResult> generate(List<GenerationRequest> requests) {
        throw new UnsupportedOperationException("Engine is not implemented yet");
    }

    /** Queues one request into the running batch; {@code listener} (nullable) sees each token as it is made. */
    public CompletableFuture<GenerationResult> submit(GenerationRequest request, TokenListener listener) {
        throw new UnsupportedOperationException("Engine is not implemented yet");
    }

    /** Tokens of ordinary text (no chat template), with the model's own tokenizer. */
    public int countTokens(String text) {
        throw new UnsupportedOperationException("Engine is not implemented yet");
    }

    /** The context cap in tokens (prompt + generated). */
    public int contextLength() {
        throw new UnsupportedOperationException("Engine is not implemented yet");
    }

    @Override
    public void close() {}

    /** Streaming callback: one call per generated token, on the engine's thread; keep it quick. */
    @FunctionalInterface
    public interface TokenListener {
        void onToken(int tokenId, String textPiece);
    }
}
