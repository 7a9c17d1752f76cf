package io.sparkglm.generate;

import io.sparkglm.backend.Backend;
import io.sparkglm.backend.Backend.Step;
import io.sparkglm.backend.SequenceCache;
import io.sparkglm.tokenizer.GlmTokenizer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Continuous batching: one thread owns the backend and runs steps while any sequence is live. Each step
 * carries one token of every decoding sequence plus prompt chunks of prefilling ones, up to a token
 * budget ({@code prefillChunk}), so a million-token prompt never stalls the decoders. New requests are
 * admitted between steps as others finish, up to {@code maxBatch} live sequences and while their KV caches
 * fit in the engine's memory ({@link KvMemory}).
 *
 * <p>Failures have two sizes (docs/adr/0010-failure-semantics.md). A request's own problem (its cache can never
 * fit, its constraint allows nothing, its output cannot be decoded) completes that request with an error result
 * and its batch-mates go on. A failure of the forward pass itself (an exception or Error from the backend, or a
 * step that does not return within the step timeout, watched by a second thread) fails the engine: every request
 * it holds or is given later completes exceptionally with one {@link EngineFailedException}, at once, so that no
 * caller waits on a future that nothing will complete.
 */
final class Scheduler implements AutoCloseable {

    private final Backend backend;
    private final GlmTokenizer tokenizer;
    private final int maxBatch;
    private final int stepTokenBudget;
    /** Output rows at or past this id are padding (the real model has 151,552 rows for 151,343 tokens). */
    private final int decodableTokens;
    private final KvMemory kvMemory;
    private final long stepTimeoutNanos;

    /** Work handed to the scheduler thread: a sequence to admit, or a scoring job to run between steps. */
    sealed interface Work permits Sequence, ScoreJob {
        /** Completes the work's future exceptionally (any thread; the scheduler thread frees what it held). */
        void abort(RuntimeException cause);

        /** Completes the work with its own error: the engine goes on. */
        void reject(String why);

        CompletableFuture<?> future();

        /** Tokens its KV cache must be able to hold. */
        int cacheTokens();

        boolean done();
    }

    private final LinkedBlockingQueue<Work> incoming = new LinkedBlockingQueue<>();
    /** Accepted work not yet completed, whatever thread holds it: what a failure must complete. */
    private final Set<Work> open = ConcurrentHashMap.newKeySet();
    private final AtomicReference<EngineFailedException> failure = new AtomicReference<>();
    private final Thread thread;
    private final Thread watchdog;
    /** When the running forward pass started (System.nanoTime), or 0 between passes. */
    private volatile long stepStartedNanos;
    private volatile boolean closed;

    Scheduler(Backend backend, GlmTokenizer tokenizer, int maxBatch, int prefillChunk, int decodableTokens,
              KvMemory kvMemory, long stepTimeoutMillis) {
        this.backend = backend;
        this.tokenizer = tokenizer;
        this.maxBatch = maxBatch;
        this.stepTokenBudget = prefillChunk > 0 ? prefillChunk : Integer.MAX_VALUE;
        this.decodableTokens = decodableTokens;
        this.kvMemory = kvMemory;
        this.stepTimeoutNanos = stepTimeoutMillis > 0 ? TimeUnit.MILLISECONDS.toNanos(stepTimeoutMillis) : Long.MAX_VALUE;
        this.thread = Thread.ofPlatform().daemon().name("glm-scheduler").start(this::run);
        this.watchdog = stepTimeoutMillis > 0
                ? Thread.ofPlatform().daemon().name("glm-step-watchdog").start(() -> watch(stepTimeoutMillis))
                : null;
    }

    /** The failure that stopped this engine, or null while it works. */
    EngineFailedException failure() {
        return failure.get();
    }

    CompletableFuture<GenerationResult> submit(GenerationRequest request, int[] prompt, int capacity,
                                               Engine.TokenListener listener) {
        if (request.maxTokens() == 0) {
            return CompletableFuture.completedFuture(new GenerationResult("", new int[0], FinishReason.LENGTH,
                    prompt.length, 0, 0, 0, false, null));
        }
        Sequence s = new Sequence(request, prompt, capacity, decodableTokens, tokenizer, listener);
        enqueue(s);
        return s.future();
    }

    /** Log-likelihood of each continuation after the prompt (teacher forcing), computed between steps. */
    CompletableFuture<double[]> score(int[] prompt, List<int[]> continuations) {
        ScoreJob job = new ScoreJob(prompt, continuations, new CompletableFuture<>());
        enqueue(job);
        return job.result();
    }

    /**
     * Hands work to the scheduler thread, or completes it at once when the engine has failed or closed. It is
     * registered as open before the state is read, so a failure that happens meanwhile sees and completes it.
     */
    private void enqueue(Work w) {
        open.add(w);
        w.future().whenComplete((r, t) -> open.remove(w));
        EngineFailedException failed = failure.get();
        if (failed != null) {
            w.abort(failed);
        } else if (closed) {
            closedError(w);
        } else {
            incoming.add(w);
            if (closed && incoming.remove(w)) closedError(w);
        }
    }

    private static void closedError(Work w) {
        w.reject("the engine is closed");
    }

    // ---- the scheduler thread ----

    private void run() {
        List<Sequence> live = new ArrayList<>();
        Deque<Work> waitingForMemory = new ArrayDeque<>();
        try {
            while (!closed && failure.get() == null) {
                admit(live, waitingForMemory);
                if (live.isEmpty()) continue;
                step(live);
                retire(live);
            }
        } catch (Throwable t) {
            fail(t);
        } finally {
            for (Sequence s : live) s.release();   // futures are already complete (failed, or closed below)
            if (closed) {
                for (Sequence s : live) s.fail("the engine is closed");
                for (Work w : waitingForMemory) closedError(w);
                failWaiting();
            }
        }
    }

    /** Sequences that finished leave the batch and give their KV memory back. */
    private void retire(List<Sequence> live) {
        live.removeIf(s -> {
            if (!s.finished()) return false;
            kvMemory.release(s.kvReservation());
            return true;
        });
    }

    /**
     * Takes waiting work while there is room in the batch and in KV memory, oldest first: work that fits only once
     * others finish waits at the head (later work waits behind it, so a long row is never starved). A scoring job
     * runs here, between steps, with its cache counted like a sequence's. Blocks briefly when nothing is live.
     */
    private void admit(List<Sequence> live, Deque<Work> waitingForMemory) throws InterruptedException {
        while (live.size() < maxBatch) {
            Work w = waitingForMemory.pollFirst();
            if (w == null) w = live.isEmpty() ? incoming.poll(100, TimeUnit.MILLISECONDS) : incoming.poll();
            if (w == null) return;
            if (w.done()) continue;                                   // aborted while it waited
            int tokens = w.cacheTokens();
            long bytes = backend.kvCacheBytes(tokens);
            String never = kvMemory.neverFits(bytes, tokens);
            if (never != null) {
                w.reject(never);
            } else if (!kvMemory.tryReserve(bytes)) {
                waitingForMemory.addFirst(w);
                return;                                               // retried when a live sequence has finished
            } else {
                switch (w) {
                    case ScoreJob job -> {
                        try {
                            run(job);
                        } finally {
                            kvMemory.release(bytes);
                        }
                    }
                    case Sequence s -> {
                        start(s, bytes);
                        if (s.finished()) kvMemory.release(bytes);
                        else live.add(s);
                    }
                }
            }
        }
    }

    private void start(Sequence s, long bytes) {
        try {
            s.start(backend.newSequence(s.capacity()), bytes);
        } catch (RuntimeException e) {
            s.fail("cannot allocate the KV cache: " + e.getMessage());
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
        List<float[]> logits = forward(steps);
        for (int i = 0; i < members.size(); i++) {
            Sequence s = members.get(i);
            try {
                s.afterStep(steps.get(i).tokens().length, logits.get(i));
            } catch (RuntimeException e) {
                // Sampling, decoding, the constraint or the listener: this sequence's own problem.
                s.fail("generation failed after " + s.generatedCount() + " tokens: " + e);
            }
        }
    }

    /**
     * The backend's forward pass, timed for the watchdog. Whatever it throws fails the engine: a backend promises
     * to advance all caches of a step or none, but after an exception, an Error or a lost device nothing says the
     * next step would fare better, and retrying steps would only hide the cause.
     */
    private List<float[]> forward(List<Step> steps) {
        stepStartedNanos = System.nanoTime();
        try {
            List<float[]> logits = backend.forward(steps);
            if (logits.size() != steps.size()) {
                throw new IllegalStateException("the backend returned " + logits.size() + " logits for " + steps.size() + " steps");
            }
            EngineFailedException failed = failure.get();
            if (failed != null) throw failed;              // the watchdog gave up on this step meanwhile
            return logits;
        } catch (Throwable t) {
            throw fail(t);
        } finally {
            stepStartedNanos = 0;
        }
    }

    /**
     * Marks the engine failed (once; the first cause wins) and completes every open request exceptionally. Callable
     * from any thread: futures complete at once; caches are freed by the scheduler thread on its way out.
     */
    private EngineFailedException fail(Throwable cause) {
        if (cause instanceof EngineFailedException e && e == failure.get()) return e;
        EngineFailedException e = new EngineFailedException("the engine failed and was stopped ("
                + backend.name() + " backend): " + cause, cause);
        if (!failure.compareAndSet(null, e)) return failure.get();
        for (Work w : open) w.abort(e);
        Work w;
        while ((w = incoming.poll()) != null) w.abort(e);
        return e;
    }

    /**
     * Turns a forward pass that never returns (a hung device, a deadlocked kernel) into an engine failure, so the
     * requests waiting on it fail within the timeout instead of hanging their callers.
     */
    private void watch(long timeoutMillis) {
        long pollMillis = Math.clamp(timeoutMillis / 4, 10, 1_000);
        while (!closed && failure.get() == null) {
            try {
                Thread.sleep(pollMillis);
            } catch (InterruptedException e) {
                return;
            }
            long started = stepStartedNanos;
            if (started != 0 && System.nanoTime() - started > stepTimeoutNanos) {
                fail(new TimeoutException("a forward step did not return within the step timeout of " + timeoutMillis
                        + " ms (stepTimeout; raise it for very long prompts on slow machines)"));
                thread.interrupt();
            }
        }
    }

    // ---- scoring ----

    record ScoreJob(int[] prompt, List<int[]> continuations, CompletableFuture<double[]> result) implements Work {
        @Override public void abort(RuntimeException cause) { result.completeExceptionally(cause); }
        @Override public void reject(String why) { result.completeExceptionally(new IllegalArgumentException(why)); }
        @Override public CompletableFuture<?> future() { return result; }
        @Override public boolean done() { return result.isDone(); }
        @Override public int cacheTokens() {
            return prompt.length + Math.max(1, continuations.stream().mapToInt(c -> c.length).max().orElse(0));
        }
    }

    private void run(ScoreJob job) {
        try {
            job.result().complete(score(job));
        } catch (EngineFailedException e) {
            throw e;
        } catch (RuntimeException e) {
            job.abort(e);
        }
    }

    /** Prefills the prompt once; each continuation is fed after it and then truncated away again. */
    private double[] score(ScoreJob job) {
        double[] scores = new double[job.continuations().size()];
        try (SequenceCache cache = backend.newSequence(job.cacheTokens())) {
            float[] last = null;
            int chunk = Math.min(stepTokenBudget, job.prompt().length);
            for (int from = 0; from < job.prompt().length; from += chunk) {
                int[] part = Arrays.copyOfRange(job.prompt(), from, Math.min(job.prompt().length, from + chunk));
                last = forward(List.of(new Step(cache, part, false))).getFirst();
            }
            int vocab = last.length;
            for (int k = 0; k < scores.length; k++) {
                int[] c = job.continuations().get(k);
                if (c.length == 0) continue;
                double logProb = logSoftmax(last, 0, vocab, decodableTokens, c[0]);
                if (c.length > 1) {
                    float[] rows = forward(List.of(new Step(cache, Arrays.copyOf(c, c.length - 1), true))).getFirst();
                    for (int i = 1; i < c.length; i++) logProb += logSoftmax(rows, (i - 1) * vocab, vocab, decodableTokens, c[i]);
                    cache.truncate(job.prompt().length);
                }
                scores[k] = logProb;
            }
        }
        return scores;
    }

    /**
     * log p(token) under softmax over the first {@code decodable} of the {@code n} logits at {@code offset}, in
     * double: padding rows past the tokenizer's vocabulary are impossible tokens, as in sampling.
     */
    static double logSoftmax(float[] logits, int offset, int n, int decodable, int token) {
        int m = Math.min(n, decodable);
        if (token < 0 || token >= m) throw new IllegalArgumentException("token id " + token + " is outside the vocabulary (0.." + (m - 1) + ")");
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < m; i++) max = Math.max(max, logits[offset + i]);
        double sum = 0;
        for (int i = 0; i < m; i++) sum += Math.exp(logits[offset + i] - max);
        return logits[offset + token] - max - Math.log(sum);
    }

    // ---- closing ----

    /** Stops the thread (waiting up to 10 s for a running step); true when it stopped, so the backend is free. */
    boolean stop() {
        closed = true;
        if (watchdog != null) watchdog.interrupt();
        try {
            thread.join(failure.get() == null ? 10_000 : 1_000);   // a failed engine's thread may be stuck for good
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        failWaiting();
        return !thread.isAlive();
    }

    @Override
    public void close() {
        stop();
    }

    private void failWaiting() {
        Work w;
        while ((w = incoming.poll()) != null) closedError(w);
    }
}
