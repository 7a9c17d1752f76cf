package io.sparkglm.generate;

import io.sparkglm.backend.Backend;
import io.sparkglm.backend.Backend.Step;
import io.sparkglm.backend.SequenceCache;
import io.sparkglm.tokenizer.GlmTokenizer;
import java.util.ArrayDeque;
import java.util.ArrayList;
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
 * budget ({@code prefillChunk}), so a million-token prompt never stalls the decoders; a scoring job
 * ({@link ScoreJob}, glm_classify) is a member like a sequence, its prompt fed under the same budget. New requests
 * are admitted between steps as others finish, up to {@code maxBatch} live members and while their KV caches
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

    /**
     * Work handed to the scheduler thread and, once admitted with its KV cache, a member of every step until it
     * completes: a sequence to generate, or a scoring job.
     */
    sealed interface Work permits Sequence, ScoreJob {
        CompletableFuture<?> future();

        boolean done();

        /** Completes the work's future exceptionally (any thread; the scheduler thread frees what it held). */
        void abort(RuntimeException cause);

        /** Completes the work with its own error: the engine goes on. */
        void reject(String why);

        /** Tokens its KV cache must be able to hold. */
        int cacheTokens();

        /** Admission: its cache, and the KV memory reserved for it. */
        void start(SequenceCache cache, long kvReservation);

        long kvReservation();

        /** Whether its next step is one sampled token (such steps go first, whatever the budget). */
        boolean decoding();

        /** Its share of the next step, given the tokens left in the step's budget (at least 1). */
        Step nextStep(int budget);

        /** Takes the logits of its share of a step. */
        void afterStep(Step step, float[] logits);

        /** Frees its cache (scheduler thread only: a step may be using it). */
        void release();
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
        ScoreJob job = new ScoreJob(prompt, continuations, decodableTokens);
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
        List<Work> live = new ArrayList<>();
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
            for (Work w : live) w.release();   // futures are already complete (failed, or closed below)
            if (closed) {
                for (Work w : live) closedError(w);
                for (Work w : waitingForMemory) closedError(w);
                failWaiting();
            }
        }
    }

    /** Sequences that finished leave the batch and give their KV memory back. */
    private void retire(List<Work> live) {
        live.removeIf(w -> {
            if (!w.done()) return false;
            kvMemory.release(w.kvReservation());
            return true;
        });
    }

    /**
     * Takes waiting work while there is room in the batch and in KV memory, oldest first: work that fits only once
     * others finish waits at the head (later work waits behind it, so a long row is never starved). Blocks briefly
     * when nothing is live.
     */
    private void admit(List<Work> live, Deque<Work> waitingForMemory) throws InterruptedException {
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
                return;                                               // retried when a live member has finished
            } else {
                try {
                    w.start(backend.newSequence(tokens), bytes);
                    live.add(w);
                } catch (RuntimeException e) {
                    kvMemory.release(bytes);
                    w.reject("cannot allocate the KV cache: " + e.getMessage());
                }
            }
        }
    }

    /**
     * One forward pass over every live member's next tokens: one token of every decoding sequence first, then prompt
     * chunks (and scoring continuations) while the step's token budget lasts.
     */
    private void step(List<Work> live) {
        List<Work> members = new ArrayList<>();
        List<Step> steps = new ArrayList<>();
        int budget = stepTokenBudget;
        for (Work w : live) {
            if (w.decoding()) {
                steps.add(w.nextStep(1));
                members.add(w);
                budget--;
            }
        }
        for (Work w : live) {
            if (!w.decoding() && (budget > 0 || steps.isEmpty())) {
                Step step = w.nextStep(Math.max(1, budget));
                steps.add(step);
                members.add(w);
                budget -= step.tokens().length;
            }
        }
        List<float[]> logits = forward(steps);
        for (int i = 0; i < members.size(); i++) {
            Work w = members.get(i);
            try {
                w.afterStep(steps.get(i), logits.get(i));
            } catch (RuntimeException e) {
                // Sampling, decoding, the constraint, the listener or a continuation's ids: this member's own problem.
                w.reject("generation failed: " + e);
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
