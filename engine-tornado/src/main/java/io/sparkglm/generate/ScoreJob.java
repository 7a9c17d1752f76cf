package io.sparkglm.generate;

import io.sparkglm.backend.Backend.Step;
import io.sparkglm.backend.SequenceCache;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Scoring continuations after one prompt (teacher forcing), as a member of the continuous batch: the prompt is
 * prefilled in chunks under the step's token budget like any other prompt, so scoring a long document never stalls
 * the decoders batched with it; then each continuation is fed after the prompt in one step (all its logits), scored,
 * and truncated away again. A continuation of one token is scored from the prompt's last logits without a step.
 */
final class ScoreJob implements Scheduler.Work {

    private final int[] prompt;
    private final List<int[]> continuations;
    private final int decodableTokens;
    private final CompletableFuture<double[]> result = new CompletableFuture<>();
    private final double[] scores;
    private SequenceCache cache;
    private long kvReservation;
    private int prefilled;
    private float[] last;          // logits after the whole prompt
    private int next;              // the continuation to score next

    ScoreJob(int[] prompt, List<int[]> continuations, int decodableTokens) {
        this.prompt = prompt;
        this.continuations = continuations;
        this.decodableTokens = decodableTokens;
        this.scores = new double[continuations.size()];
    }

    CompletableFuture<double[]> result() { return result; }

    @Override public CompletableFuture<?> future() { return result; }
    @Override public boolean done() { return result.isDone(); }
    @Override public void abort(RuntimeException cause) { result.completeExceptionally(cause); }
    @Override public long kvReservation() { return kvReservation; }
    @Override public boolean decoding() { return false; }

    @Override
    public void reject(String why) {
        release();
        result.completeExceptionally(new IllegalArgumentException(why));
    }

    @Override
    public int cacheTokens() {
        return prompt.length + Math.max(1, continuations.stream().mapToInt(c -> c.length).max().orElse(0));
    }

    @Override
    public void start(SequenceCache cache, long kvReservation) {
        this.cache = cache;
        this.kvReservation = kvReservation;
    }

    /**
     * The next prompt chunk (at most {@code budget} tokens), or the next continuation without its last token (whole,
     * whatever the budget: continuations are a few tokens).
     */
    @Override
    public Step nextStep(int budget) {
        if (prefilled < prompt.length) {
            int n = Math.min(budget, prompt.length - prefilled);
            return new Step(cache, Arrays.copyOfRange(prompt, prefilled, prefilled + n), false);
        }
        int[] c = continuations.get(next);
        return new Step(cache, Arrays.copyOf(c, c.length - 1), true);
    }

    @Override
    public void afterStep(Step step, float[] logits) {
        if (prefilled < prompt.length) {
            prefilled += step.tokens().length;
            if (prefilled < prompt.length) return;
            last = logits;
        } else {
            int[] c = continuations.get(next);
            int vocab = last.length;
            double logProb = Scheduler.logSoftmax(last, 0, vocab, decodableTokens, c[0]);
            for (int i = 1; i < c.length; i++) logProb += Scheduler.logSoftmax(logits, (i - 1) * vocab, vocab, decodableTokens, c[i]);
            scores[next++] = logProb;
            cache.truncate(prompt.length);
        }
        scoreWithoutSteps();
    }

    /** Scores empty and one-token continuations from the prompt's logits; completes when none is left. */
    private void scoreWithoutSteps() {
        while (next < scores.length && continuations.get(next).length <= 1) {
            int[] c = continuations.get(next);
            scores[next++] = c.length == 0 ? 0 : Scheduler.logSoftmax(last, 0, last.length, decodableTokens, c[0]);
        }
        if (next == scores.length) {
            release();
            result.complete(scores);
        }
    }

    @Override
    public void release() {
        if (cache != null) {
            cache.close();
            cache = null;
        }
    }
}
