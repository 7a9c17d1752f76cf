package io.sparkglm.generate;

import io.sparkglm.backend.Backend;
import io.sparkglm.backend.BackendOptions;
import io.sparkglm.backend.BackendProvider;
import io.sparkglm.backend.Backends;
import io.sparkglm.backend.KvCacheType;
import io.sparkglm.backend.cpu.CpuBackend;
import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.MemoryEstimate;
import io.sparkglm.model.ModelConfig;
import io.sparkglm.model.ModelLoader;
import io.sparkglm.tokenizer.GlmTokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.ToLongFunction;

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
    private final KvCacheChoice kvCache;
    private boolean closed;

    private Engine(EngineOptions options, Checkpoint checkpoint, GlmTokenizer tokenizer, Backend backend,
                   KvMemory kvMemory, KvCacheChoice kvCache) {
        this.options = options;
        this.kvCache = kvCache;
        this.checkpoint = checkpoint;
        this.tokenizer = tokenizer;
        this.backend = backend;
        ModelConfig config = checkpoint.config();
        this.contextLength = Math.min(cappedContext(options, config), backend.maxSequenceTokens());
        this.scheduler = new Scheduler(backend, tokenizer, options.maxBatch(), options.prefillChunk(),
                Math.min(tokenizer.vocabSize(), config.vocabSize()), kvMemory, options.stepTimeoutMillis());
    }

    /**
     * The KV cache type an engine uses and why: the one asked for, or for "auto" the smallest-error one whose worst
     * case (every one of maxBatch sequences holding the whole context) fits the KV memory.
     *
     * @param type   "f32", "f16" or "q8_0"
     * @param reason one line for logs and the CLI
     */
    public record KvCacheChoice(String type, String reason) {}

    /** {@link #chooseKvCache(EngineOptions, ModelConfig, long)} with the KV memory an engine on this checkpoint would have. */
    public static KvCacheChoice chooseKvCache(EngineOptions options, Checkpoint checkpoint) {
        long weights = weightBytes(checkpoint);
        return chooseKvCache(options, checkpoint.config(), weights, KvMemory.of(options.kvCacheMemory(), weights).limit());
    }

    /** On the cpu backend as {@link #chooseKvCache(EngineOptions, ModelConfig, long)}; on a device backend by its plan. */
    private static KvCacheChoice chooseKvCache(EngineOptions options, ModelConfig config, long weightBytes, long kvLimit) {
        String backendName = Backends.resolveName(options.backend());
        if (!options.kvCacheType().equals(KvCacheType.AUTO) || backendName.equals("cpu")) {
            return chooseKvCache(options, config, kvLimit);
        }
        BackendProvider.DeviceInfo device = Backends.device(backendName, options.device());
        return device == null ? new KvCacheChoice("f32", "auto: the " + backendName + " backend reports no device; f32")
                : chooseDeviceKvCache(options, config, weightBytes, device);
    }

    /**
     * "auto" on a device backend: f32, f16, then q8_0, the first whose device plan (weights as stored, one KV slot
     * per batch row of the backend's slot context) fits the device's usable memory; else the smallest, and the
     * backend refuses to open with the numbers.
     */
    static KvCacheChoice chooseDeviceKvCache(EngineOptions options, ModelConfig config, long weightBytes,
                                             BackendProvider.DeviceInfo device) {
        int context = DevicePlan.slotContext(config, options.maxContext());
        return firstThatFits(config, options.maxBatch(), context,
                t -> DevicePlan.of(config, weightBytes, t, options.maxBatch(), context).total(), device.memoryBytes(),
                " on " + device.name(), "its " + MemoryEstimate.human(device.memoryBytes()), "");
    }

    private static long weightBytes(Checkpoint checkpoint) {
        return checkpoint.tensors().values().stream().mapToLong(t -> t.data().byteSize()).sum();
    }

    /** The model's context, or {@code maxContext} when that is set and smaller. */
    private static int cappedContext(EngineOptions options, ModelConfig config) {
        return options.maxContext() > 0 ? Math.min(options.maxContext(), config.contextLength()) : config.contextLength();
    }

    /**
     * Resolves {@code options.kvCacheType()} for a model on the cpu backend: "auto" tries f32, f16, then q8_0 against
     * {@code kvLimit} bytes (the engine's KV memory), with the cpu backend's cache sizes; where none fits it takes the
     * smallest and the engine's admission refuses, with the numbers, each row whose own cache cannot fit.
     */
    public static KvCacheChoice chooseKvCache(EngineOptions options, ModelConfig config, long kvLimit) {
        if (!options.kvCacheType().equals(KvCacheType.AUTO)) return new KvCacheChoice(options.kvCacheType(), "as configured");
        int context = cappedContext(options, config);
        int sequences = options.maxBatch();
        return firstThatFits(config, sequences, context, t -> {
            long perSequence = CpuBackend.kvCacheBytes(config, t, context);
            return perSequence > Long.MAX_VALUE / sequences ? Long.MAX_VALUE : perSequence * sequences;
        }, kvLimit, "", "the KV memory of " + MemoryEstimate.human(kvLimit), ", and rows whose cache cannot fit are refused");
    }

    /**
     * "auto"'s one rule, wherever the cache lives: f32, f16, then q8_0 (where kvDim allows), the first whose
     * {@code need} is within {@code limit}; else the smallest. The reason names every size tried, {@code place}
     * (e.g. " on H200"), the {@code budget} and what follows when nothing fits.
     */
    private static KvCacheChoice firstThatFits(ModelConfig config, int sequences, int context, ToLongFunction<KvCacheType> need,
                                               long limit, String place, String budget, String consequence) {
        boolean q8 = config.kvDim() % KvCacheType.Q8_0_BLOCK == 0;
        StringBuilder tried = new StringBuilder();
        for (KvCacheType t : KvCacheType.values()) {
            if (t == KvCacheType.Q8_0 && !q8) continue;
            long bytes = need.applyAsLong(t);
            if (!tried.isEmpty()) tried.append(", ");
            tried.append(t.id()).append(' ').append(MemoryEstimate.human(bytes));
            if (bytes <= limit) {
                return new KvCacheChoice(t.id(), "auto: " + sequences + " x " + context + " tokens" + place + " need " + tried
                        + ", within " + budget);
            }
        }
        String smallest = q8 ? "q8_0" : "f16";
        return new KvCacheChoice(smallest, "auto: no type fits " + sequences + " x " + context + " tokens" + place + " within "
                + budget + " (" + tried + "); " + smallest + " is the smallest" + consequence);
    }

    public static Engine load(EngineOptions options) {
        Checkpoint checkpoint = ModelLoader.open(options.model());
        Backend backend = null;
        try {
            GlmTokenizer tokenizer = GlmTokenizer.load(options.model());
            long weights = weightBytes(checkpoint);
            KvMemory kvMemory = KvMemory.of(options.kvCacheMemory(), weights);
            KvCacheChoice kvCache = chooseKvCache(options, checkpoint.config(), weights, kvMemory.limit());
            if (options.kvCacheType().equals(KvCacheType.AUTO)) {
                System.getLogger(Engine.class.getName()).log(System.Logger.Level.INFO,
                        "glm: KV cache " + kvCache.type() + " (" + kvCache.reason() + ")");
            }
            backend = Backends.open(options.backend(), checkpoint,
                    new BackendOptions(options.threads(), kvCache.type(), options.device(),
                            options.maxBatch(), options.maxContext()));
            return new Engine(options, checkpoint, tokenizer, backend, kvMemory, kvCache);
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

    /** The KV cache type in use ("f32", "f16", "q8_0": "auto" resolved) and why. */
    public KvCacheChoice kvCache() { return kvCache; }

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
