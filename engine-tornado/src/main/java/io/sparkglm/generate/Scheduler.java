package io.sparkglm.generate;

import io.sparkglm.backend.Backend;
import io.sparkglm.backend.Backend.Step;
import io.sparkglm.backend.SequenceCache;
import io.sparkglm.tokenizer.GlmTokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Continuous batching: one thread owns the backend and runs steps while any sequence is live. Each step
 * carries one token of every decoding sequence plus prompt chunks of prefilling ones, up to a token
 * budget ({@code prefillChunk}), so a million-token prompt never stalls the decoders. New requests are
 * admitted between steps as others finish, up to {@code maxBatch} live sequences.
 */
final class Scheduler implements AutoCloseable {

    private final Backend backend;
    private final GlmTokenizer tokenizer;
    private final int maxBatch;
    private final int stepTokenBudget;
    /** Work handed to the scheduler thread: a sequence to admit, or a scoring job to run between steps. */
    sealed interface Work permits Sequence, ScoreJob {}

    private final LinkedBlockingQueue<Work> incoming = new LinkedBlockingQueue<>();
    private final Thread thread;
    private volatile boolean closed;

    Scheduler(Backend backend, GlmTokenizer tokenizer, int maxBatch, int prefillChunk) {
        this.backend = backend;
        this.tokenizer = tokenizer;
        this.maxBatch = maxBatch;
        this.stepTokenBudget = prefillChunk > 0 ? prefillChunk : Integer.MAX_VALUE;
        this.thread = Thread.ofPlatform().daemon().name("glm-scheduler").start(this::run);
    }

    CompletableFuture<GenerationResult> submit(GenerationRequest request, int[] prompt, int capacity,
                                               Engine.TokenListener listener) {
        if (request.maxTokens() == 0) {
            return CompletableFuture.completedFuture(new GenerationResult("", new int[0], FinishReason.LENGTH,
                    prompt.length, 0, 0, 0, false, null));
        }
        Sequence s = new Sequence(request, prompt, capacity, tokenizer, listener);
        if (closed) return CompletableFuture.completedFuture(GenerationResult.failed("the engine is closed", prompt.length));
        incoming.add(s);
        if (closed && incoming.remove(s)) s.fail("the engine is closed");
        return s.future();
    }

    private void run() {
        List<Sequence> live = new ArrayList<>();
        try {
            while (!closed) {
                admit(live);
                if (live.isEmpty()) continue;
                step(live);
                live.removeIf(Sequence::finished);
            }
        } catch (Throwable t) {
            for (Sequence s : live) s.fail("the engine stopped: " + t);
            throw t;
        } finally {
            for (Sequence s : live) s.fail("the engine is closed");
            failWaiting();
        }
    }

    /** Log-likelihood of each continuation after the prompt (teacher forcing), computed between steps. */
    CompletableFuture<double[]> score(int[] prompt, List<int[]> continuations) {
        ScoreJob job = new ScoreJob(prompt, continuations, new CompletableFuture<>());
        if (closed) job.fail("the engine is closed");
        else incoming.add(job);
        return job.result();
    }

    record ScoreJob(int[] prompt, List<int[]> continuations, CompletableFuture<double[]> result) implements Work {
        void fail(String why) { result.completeExceptionally(new IllegalStateException(why)); }
    }

    private void run(ScoreJob job) {
        try {
            job.result().complete(score(job));
        } catch (RuntimeException | OutOfMemoryError e) {
            job.result().completeExceptionally(e);
        }
    }

    /** Prefills the prompt once; each continuation is fed after it and then truncated away again. */
    private double[] score(ScoreJob job) {
        int longest = job.continuations().stream().mapToInt(c -> c.length).max().orElse(0);
        double[] scores = new double[job.continuations().size()];
        try (SequenceCache cache = backend.newSequence(job.prompt().length + Math.max(1, longest))) {
            float[] last = null;
            int chunk = Math.min(stepTokenBudget, job.prompt().length);
            for (int from = 0; from < job.prompt().length; from += chunk) {
                int[] part = Arrays.copyOfRange(job.prompt(), from, Math.min(job.prompt().length, from + chunk));
                last = backend.forward(List.of(new Step(cache, part, false))).getFirst();
            }
            int vocab = last.length;
            for (int k = 0; k < scores.length; k++) {
                int[] c = job.continuations().get(k);
                if (c.length == 0) continue;
                double logProb = logSoftmax(last, 0, vocab, c[0]);
                if (c.length > 1) {
                    float[] rows = backend.forward(List.of(new Step(cache, Arrays.copyOf(c, c.length - 1), true))).getFirst();
                    for (int i = 1; i < c.length; i++) logProb += logSoftmax(rows, (i - 1) * vocab, vocab, c[i]);
                    cache.truncate(job.prompt().length);
                }
                scores[k] = logProb;
            }
        }
        return scores;
    }

    /** log p(token) under softmax(logits[offset .. offset+n)), in double. */
    static double logSoftmax(float[] logits, int offset, int n, int token) {
        if (token < 0 || token >= n) throw new IllegalArgumentException("token id " + token + " is outside the vocabulary");
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, logits[offset + i]);
        double sum = 0;
        for (int i = 0; i < n; i++) sum += Math.exp(logits[offset + i] - max);
        return logits[offset + token] - max - Math.log(sum);
    }

    /** Takes waiting requests while there is room; blocks briefly when nothing is live. */
    private void admit(List<Sequence> live) {
        try {
            while (live.size() < maxBatch) {
                Work w = live.isEmpty() ? incoming.poll(100, TimeUnit.MILLISECONDS) : incoming.poll();
                if (w == null) return;
                if (w instanceof ScoreJob job) {
                    run(job);
                    continue;
                }
                Sequence s = (Sequence) w;
                try {
                    s.start(backend.newSequence(s.capacity()));
                    live.add(s);
                } catch (RuntimeException | OutOfMemoryError e) {
                    s.fail("cannot allocate the KV cache: " + e.getMessage());
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            closed = true;
        }
    }

    /** One forward pass over every live sequence's next tokens. */
    private void step(List<Sequence> live) {
        List<Sequence> members = new ArrayList<>();
        List<Step> steps = new ArrayList<>();
        int budget = stepTokenBudget;
        for (Sequence s : live) {          // decoders first: one token each, always
            if (s.decoding()) {
                steps.add(Step.decode(s.cache(), s.nextTokens(1)[0]));
                members.add(s);
                budget--;
            }
        }
        for (Sequence s : live) {          // then prompt chunks while the budget lasts
            if (!s.decoding() && (budget > 0 || steps.isEmpty())) {
                int[] chunk = s.nextTokens(Math.max(1, budget));
                steps.add(new Step(s.cache(), chunk, false));
                members.add(s);
                budget -= chunk.length;
            }
        }
        List<float[]> logits;
        try {
            logits = backend.forward(steps);
        } catch (RuntimeException | OutOfMemoryError e) {
            isolate(members, steps);
            return;
        }
        for (int i = 0; i < members.size(); i++) members.get(i).afterStep(steps.get(i).tokens().length, logits.get(i));
    }

    /** A failed step is retried one sequence at a time, so one bad request never fails its batch-mates. */
    private void isolate(List<Sequence> members, List<Step> steps) {
        for (int i = 0; i < members.size(); i++) {
            Sequence s = members.get(i);
            try {
                float[] logits = backend.forward(List.of(steps.get(i))).getFirst();
                s.afterStep(steps.get(i).tokens().length, logits);
            } catch (RuntimeException | OutOfMemoryError e) {
                s.fail("forward pass failed: " + e);
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        failWaiting();
    }

    private void failWaiting() {
        Work w;
        while ((w = incoming.poll()) != null) {
            switch (w) {
                case Sequence s -> s.fail("the engine is closed");
                case ScoreJob j -> j.fail("the engine is closed");
            }
        }
    }
}
