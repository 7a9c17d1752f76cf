package io.sparkglm.generate;

import io.sparkglm.backend.Backend;
import io.sparkglm.backend.Backend.Step;
import io.sparkglm.tokenizer.GlmTokenizer;
import java.util.ArrayList;
import java.util.Iterator;
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
    private final LinkedBlockingQueue<Sequence> incoming = new LinkedBlockingQueue<>();
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
            Sequence s;
            while ((s = incoming.poll()) != null) s.fail("the engine is closed");
        }
    }

    /** Takes waiting requests while there is room; blocks briefly when nothing is live. */
    private void admit(List<Sequence> live) {
        try {
            while (live.size() < maxBatch) {
                Sequence s = live.isEmpty() ? incoming.poll(100, TimeUnit.MILLISECONDS) : incoming.poll();
                if (s == null) return;
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
                steps.add(new Step(s.cache(), s.nextTokens(1), false));
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
        Iterator<Sequence> it = incoming.iterator();
        while (it.hasNext()) {
            it.next().fail("the engine is closed");
            it.remove();
        }
    }
}
