package io.sparkglm.generate;

import io.sparkglm.backend.Backend.Step;
import io.sparkglm.backend.SequenceCache;
import io.sparkglm.tokenizer.GlmTokenizer;
import io.sparkglm.tokenizer.StreamingDecoder;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;

/**
 * One request's life in the scheduler: prompt chunks in, then one sampled token per step until a stop
 * id, a stop string, maxTokens or the cache capacity ends it.
 */
final class Sequence implements Scheduler.Work {

    private final GenerationRequest request;
    private final int[] prompt;
    private final int capacity;
    private final int decodableTokens;
    private final GlmTokenizer tokenizer;
    private final Engine.TokenListener listener;
    private final CompletableFuture<GenerationResult> future = new CompletableFuture<>();
    private final Sampler sampler;
    private final int[] stopIds;
    private final int longestStop;
    private final TokenConstraint.State constraint;     // null for free text

    private SequenceCache cache;
    private long kvReservation;             // bytes of KV memory the scheduler holds for this sequence
    private int prefilled;
    private int[] generated = new int[16];
    private int generatedCount;
    private int pendingToken = -1;          // sampled, not yet fed back
    private StreamingDecoder decoder;
    private final StringBuilder text = new StringBuilder();
    private long startNanos, prefillDoneNanos;

    Sequence(GenerationRequest request, int[] prompt, int capacity, int decodableTokens, GlmTokenizer tokenizer,
             Engine.TokenListener listener) {
        this.request = request;
        this.prompt = prompt;
        this.capacity = capacity;
        this.decodableTokens = decodableTokens;
        this.tokenizer = tokenizer;
        this.listener = listener;
        this.sampler = new Sampler(request.sampling());
        this.stopIds = request.ignoreEos() ? new int[0] : tokenizer.stopIds();
        this.longestStop = request.stopStrings().stream().mapToInt(String::length).max().orElse(0);
        this.constraint = request.constraint() == null ? null : request.constraint().start();
    }

    @Override public CompletableFuture<GenerationResult> future() { return future; }
    @Override public int cacheTokens() { return capacity; }
    @Override public boolean done() { return future.isDone(); }
    @Override public void reject(String why) { fail(why); }
    @Override public boolean decoding() { return prefilled == prompt.length; }
    @Override public long kvReservation() { return kvReservation; }

    @Override
    public void start(SequenceCache cache, long kvReservation) {
        this.cache = cache;
        this.kvReservation = kvReservation;
        this.decoder = tokenizer.newStreamingDecoder();
        this.startNanos = System.nanoTime();
        for (int id : prompt) sampler.accept(id);
    }

    /** The last sampled token, or the next prompt chunk (at most {@code budget} tokens). */
    @Override
    public Step nextStep(int budget) {
        if (decoding()) return Step.decode(cache, pendingToken);
        int n = Math.min(budget, prompt.length - prefilled);
        return new Step(cache, Arrays.copyOfRange(prompt, prefilled, prefilled + n), false);
    }

    @Override
    public void afterStep(Step step, float[] logits) {
        int fed = step.tokens().length;
        if (!decoding()) {
            prefilled += fed;
            if (!decoding()) return;           // more prompt to go
            prefillDoneNanos = System.nanoTime();
        }
        // Output rows past the tokenizer's vocabulary are padding: impossible, whatever their logits say.
        if (logits.length > decodableTokens) Arrays.fill(logits, decodableTokens, logits.length, Float.NEGATIVE_INFINITY);
        if (constraint != null) {
            constraint.mask(logits);
            if (!anyAllowed(logits)) {
                fail("the output constraint allows no token after " + generatedCount + " tokens");
                return;
            }
        }
        int token = sampler.sample(logits);
        if (constraint == null && isStopId(token)) {   // under a constraint, the grammar decides the end
            finish(FinishReason.STOP, true);
            return;
        }
        if (constraint != null) constraint.accept(token);
        append(token);
        // Control tokens stay in the ids but not in the text (as GLM-4's own decode with skip_special_tokens).
        String piece = tokenizer.isSpecial(token) ? "" : decoder.accept(token);
        int before = text.length();
        text.append(piece);
        if (listener != null) listener.onToken(token, piece);
        if (constraint != null && constraint.complete()) {
            finish(FinishReason.STOP, true);
        } else if (constraint == null && cutAtStopString(before)) {
            finish(FinishReason.STOP, false);        // bytes held back by the decoder lie past the stop
        } else if (generatedCount >= request.maxTokens() || prompt.length + generatedCount >= capacity) {
            finish(FinishReason.LENGTH, true);
        } else {
            pendingToken = token;
        }
    }

    private static boolean anyAllowed(float[] logits) {
        for (float l : logits) if (l != Float.NEGATIVE_INFINITY) return true;
        return false;
    }

    private boolean isStopId(int token) {
        for (int id : stopIds) if (id == token) return true;
        return false;
    }

    private void append(int token) {
        if (generatedCount == generated.length) generated = Arrays.copyOf(generated, generated.length * 2);
        generated[generatedCount++] = token;
        sampler.accept(token);
    }

    /**
     * Cuts the text at the first stop string that the newest piece completed: one that ends after
     * {@code pieceStart} (earlier text was checked when it arrived). A piece can be hundreds of characters.
     */
    private boolean cutAtStopString(int pieceStart) {
        if (longestStop == 0) return false;
        int from = Math.max(0, pieceStart - longestStop + 1);
        int cut = -1;
        for (String stop : request.stopStrings()) {
            if (stop.isEmpty()) continue;
            int at = text.indexOf(stop, from);
            if (at >= 0 && (cut < 0 || at < cut)) cut = at;
        }
        if (cut < 0) return false;
        text.setLength(cut);
        return true;
    }

    private void finish(FinishReason reason, boolean flushDecoder) {
        long now = System.nanoTime();
        if (flushDecoder) text.append(decoder.flush());
        closeCache();
        long prefillEnd = prefillDoneNanos == 0 ? now : prefillDoneNanos;
        future.complete(new GenerationResult(text.toString(), Arrays.copyOf(generated, generatedCount), reason,
                prompt.length, generatedCount, prefillEnd - startNanos, now - prefillEnd, false, null));
    }

    void fail(String error) {
        closeCache();
        future.complete(GenerationResult.failed(error, prompt.length));
    }

    /** The engine failed: completes the future exceptionally; the cache is freed by {@link #release()}. */
    @Override
    public void abort(RuntimeException cause) {
        future.completeExceptionally(cause);
    }

    @Override
    public void release() {
        closeCache();
    }

    private void closeCache() {
        if (cache != null) {
            cache.close();
            cache = null;
        }
    }
}
