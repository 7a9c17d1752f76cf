package io.sparkglm.generate;

import io.sparkglm.backend.Backend;
import io.sparkglm.backend.BackendOptions;
import io.sparkglm.backend.Backends;
import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.ModelConfig;
import io.sparkglm.model.ModelLoader;
import io.sparkglm.tokenizer.GlmTokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A loaded GLM-4 model ready to generate: load once, share between threads, close when done.
 *
 * <p>Requests from any thread join one continuous batch: a single scheduler thread owns the backend and,
 * each step, feeds prompt chunks of newly admitted sequences and one token of every decoding sequence
 * through one forward pass (see {@link Scheduler}). Prompts are tokenized on the caller's thread.
 */
public final class Engine implements AutoCloseable {

    private final EngineOptions options;
    private final Checkpoint checkpoint;
    private final GlmTokenizer tokenizer;
    private final Backend backend;
    private final int contextLength;
    private final Scheduler scheduler;
    private boolean closed;

    private Engine(EngineOptions options, Checkpoint checkpoint, GlmTokenizer tokenizer, Backend backend) {
        this.options = options;
        this.checkpoint = checkpoint;
        this.tokenizer = tokenizer;
        this.backend = backend;
        ModelConfig config = checkpoint.config();
        int cap = options.maxContext() > 0 ? Math.min(options.maxContext(), config.contextLength()) : config.contextLength();
        this.contextLength = Math.min(cap, backend.maxSequenceTokens());
        long weightBytes = checkpoint.tensors().values().stream().mapToLong(t -> t.data().byteSize()).sum();
        this.scheduler = new Scheduler(backend, tokenizer, options.maxBatch(), options.prefillChunk(),
                Math.min(tokenizer.vocabSize(), config.vocabSize()), KvMemory.of(options.kvCacheMemory(), weightBytes),
                options.stepTimeoutMillis());
    }

    public static Engine load(EngineOptions options) {
        Checkpoint checkpoint = ModelLoader.open(options.model());
        Backend backend = null;
        try {
            GlmTokenizer tokenizer = GlmTokenizer.load(options.model());
            backend = Backends.open(options.backend(), checkpoint,
                    new BackendOptions(options.threads(), options.kvCacheType(), options.device(),
                            options.maxBatch(), options.maxContext()));
            return new Engine(options, checkpoint, tokenizer, backend);
        } catch (RuntimeException | Error e) {
            if (backend != null) backend.close();
            checkpoint.close();
            throw e;
        }
    }

    /** Generates all requests together; results in request order; one failure never fails the others. */
    public List<GenerationResult> generate(List<GenerationRequest> requests) {
        List<CompletableFuture<GenerationResult>> futures = new ArrayList<>(requests.size());
        for (GenerationRequest r : requests) futures.add(submit(r, null));
        List<GenerationResult> results = new ArrayList<>(futures.size());
        for (CompletableFuture<GenerationResult> f : futures) results.add(f.join());
        return results;
    }

    /** Queues one request into the running batch; {@code listener} (nullable) sees each token as it is made. */
    public CompletableFuture<GenerationResult> submit(GenerationRequest request, TokenListener listener) {
        int[] prompt;
        try {
            prompt = request.promptIds() != null ? request.promptIds() : tokenizer.encodeChat(request.messages(), true);
        } catch (RuntimeException e) {
            return CompletableFuture.completedFuture(GenerationResult.failed("cannot tokenize the prompt: " + e.getMessage(), 0));
        }
        if (prompt.length == 0) {
            return CompletableFuture.completedFuture(GenerationResult.failed("the prompt is empty", 0));
        }
        int vocab = checkpoint.config().vocabSize();
        for (int id : prompt) {
            if (id < 0 || id >= vocab) {
                return CompletableFuture.completedFuture(GenerationResult.failed(
                        "prompt token id " + id + " is outside the vocabulary [0, " + vocab + ")", prompt.length));
            }
        }
        if (prompt.length >= contextLength) {
            return CompletableFuture.completedFuture(GenerationResult.failed("the prompt has " + prompt.length
                    + " tokens; the context holds " + contextLength + " (prompt + generated)", prompt.length));
        }
        int capacity = (int) Math.min(contextLength, (long) prompt.length + Math.max(1, request.maxTokens()));
        return scheduler.submit(request, prompt, capacity, listener);
    }

    /**
     * The log-likelihood (natural log, summed over tokens) of each continuation right after the prompt,
     * computed with one prefill of the prompt: the scores a classifier compares.
     */
    public CompletableFuture<double[]> score(int[] prompt, List<int[]> continuations) {
        if (prompt.length == 0) throw new IllegalArgumentException("the prompt is empty");
        int longest = continuations.stream().mapToInt(c -> c.length).max().orElse(0);
        if ((long) prompt.length + longest > contextLength) {
            throw new IllegalArgumentException("prompt (" + prompt.length + " tokens) plus the longest continuation ("
                    + longest + ") exceed the context of " + contextLength);
        }
        return scheduler.score(prompt.clone(), List.copyOf(continuations));
    }

    /** Tokens of ordinary text (no chat template), with the model's own tokenizer. */
    public int countTokens(String text) {
        return tokenizer.encode(text).length;
    }

    public GlmTokenizer tokenizer() { return tokenizer; }

    public ModelConfig config() { return checkpoint.config(); }

    public EngineOptions options() { return options; }

    /** The backend in use ("cpu", "tornado"). */
    public String backendName() { return backend.name(); }

    /** The context cap in tokens (prompt + generated). */
    public int contextLength() { return contextLength; }

    /**
     * Why this engine stopped working (a forward step failed or hung), or null while it works. A failed engine
     * completes every request exceptionally with this at once; close it and load a new one.
     */
    public EngineFailedException failure() { return scheduler.failure(); }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        if (!scheduler.stop()) {
            // A step that never returned still holds the backend: freeing it under a running kernel could crash the
            // JVM, so it is left to the process's end.
            System.getLogger(Engine.class.getName()).log(System.Logger.Level.WARNING,
                    "glm: the engine's scheduler thread is stuck in a forward step; its backend is not closed");
            return;
        }
        backend.close();
        checkpoint.close();
    }

    /** Streaming callback: one call per generated token, on the engine's thread; keep it quick. */
    @FunctionalInterface
    public interface TokenListener {
        void onToken(int tokenId, String textPiece);
    }
}
