package io.sparkglm.spark.testing;

import io.sparkglm.generate.FinishReason;
import io.sparkglm.generate.GenerationRequest;
import io.sparkglm.generate.GenerationResult;
import io.sparkglm.spark.executor.ExecutorEngines;
import io.sparkglm.spark.executor.InferenceEngine;
import io.sparkglm.testing.SharedFiles;
import io.sparkglm.tokenizer.ChatMessage;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.spark.sql.SparkSession;

/**
 * A stand-in engine for testing the Spark plumbing (NULLs, failures, policies, metrics, row accounting)
 * without inference: it answers a pure function of the request, "tokenizes" four characters to a token,
 * fails requests whose text contains FAIL_ME, and records what it was asked and how many ran at once.
 */
public final class ScriptedEngine implements InferenceEngine {

    public final int context;
    public final Queue<GenerationRequest> requests = new ConcurrentLinkedQueue<>();
    /** The names of the threads that submitted requests. */
    public final Queue<String> submitThreads = new ConcurrentLinkedQueue<>();
    public final AtomicInteger inFlight = new AtomicInteger();
    public final AtomicInteger maxInFlight = new AtomicInteger();
    public volatile boolean closed;

    public ScriptedEngine(int context) {
        this.context = context;
    }

    /** The scripted answer: which turns it saw and how long the user turn was. */
    public static String answer(GenerationRequest r) {
        ChatMessage user = r.messages().getLast();
        return "answer[" + r.messages().size() + " turns, user " + user.content().length() + " chars, max " + r.maxTokens()
                + ", seed " + r.sampling().seed() + "]";
    }

    @Override
    public CompletableFuture<GenerationResult> submit(GenerationRequest r) {
        requests.add(r);
        submitThreads.add(Thread.currentThread().getName());
        int now = inFlight.incrementAndGet();
        maxInFlight.accumulateAndGet(now, Math::max);
        return CompletableFuture.supplyAsync(() -> {
            try {
                Thread.sleep(20); // long enough for concurrent tasks' rows to overlap
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            inFlight.decrementAndGet();
            int prompt = r.messages().stream().mapToInt(m -> countTokens(m.content())).sum() + 4;
            if (r.messages().getLast().content().contains("FAIL_ME")) return GenerationResult.failed("scripted failure", prompt);
            int completion = Math.min(r.maxTokens(), 3);
            return new GenerationResult(answer(r), new int[completion], FinishReason.LENGTH, prompt, completion,
                    1_000_000, 2_000_000, false, null);
        });
    }

    @Override
    public int countTokens(String text) {
        return (text.length() + 3) / 4;
    }

    @Override
    public int contextLength() {
        return context;
    }

    @Override
    public void close() {
        closed = true;
    }

    /**
     * Makes this JVM's executors load scripted engines of {@code context} tokens (closing the loaded ones), each
     * recorded in {@code current}, and points the session's spark.glm.model at an existing file (the scripted
     * engine does not read it). Undo with {@code ExecutorEngines.replaceLoaderForTesting(null)}.
     */
    public static void install(SparkSession spark, int context, AtomicReference<ScriptedEngine> current) {
        ExecutorEngines.replaceLoaderForTesting(options -> {
            ScriptedEngine e = new ScriptedEngine(context);
            current.set(e);
            return e;
        });
        spark.conf().set("spark.glm.model", SharedFiles.tinyQ8().toString());
    }

    public List<String> userTurns() {
        return requests.stream().map(r -> r.messages().getLast().content()).toList();
    }
}
