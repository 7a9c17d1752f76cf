package io.sparkglm.spark.executor;

import io.sparkglm.document.Chunker;
import io.sparkglm.generate.EngineFailedException;
import io.sparkglm.generate.EngineOptions;
import io.sparkglm.generate.GenerationRequest;
import io.sparkglm.generate.SamplingParams;
import io.sparkglm.generate.TokenConstraint;
import io.sparkglm.spark.conf.GlmConf;
import io.sparkglm.tokenizer.ChatMessage;
import io.sparkglm.tokenizer.GlmTokenizer;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Supplier;
import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;

/**
 * What one row goes through on an executor: find this JVM's engine, fit the document into the context (the
 * long-document policy), run it, count it, and apply the on-error policy. Serializable: it travels inside
 * the SQL function (or the Dataset job) with the parsed {@link GlmConf}.
 */
public final class GlmRunner implements Serializable {

    /** Tokens the chat template adds around the turns ([gMASK]<sop>, role tokens, newlines), with margin. */
    static final int TEMPLATE_TOKENS = 16;

    private final GlmConf conf;
    private final GlmMetrics metrics;
    private transient Path resolvedModel;

    public GlmRunner(GlmConf conf, GlmMetrics metrics) {
        this.conf = conf;
        this.metrics = metrics;
    }

    public GlmConf conf() {
        return conf;
    }

    /**
     * A chat prompt: an optional system turn, then one user turn made of an optional fixed instruction and
     * the variable text (the document or the user's prompt) that the long-document policy may cut.
     */
    public record Prompt(String system, String instruction, String text) implements Serializable {
        /** The same prompt about another text (a chunk, a shortened text). */
        public Prompt withText(String newText) {
            return new Prompt(system, instruction, newText);
        }

        List<ChatMessage> messages(String fittedText) {
            List<ChatMessage> m = new ArrayList<>(2);
            if (system != null) m.add(ChatMessage.system(system));
            m.add(ChatMessage.user(instruction == null ? fittedText : instruction + "\n\n" + fittedText));
            return m;
        }
    }

    /** Runs one row to completion: metrics counted, on-error policy applied. */
    public RowResult run(Prompt prompt, int maxTokens, SamplingParams sampling, List<String> stop) {
        return finish(await(submit(prompt, maxTokens, sampling, stop)));
    }

    /**
     * Waits for a row's future (every engine future completes: results, row errors, or the engine's failure, which
     * its step watchdog guarantees) and rethrows what failed it as it is: a {@link GlmEngineException} fails the task.
     */
    public static <T> T await(CompletableFuture<T> future) {
        try {
            return future.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            if (e.getCause() instanceof Error err) throw err;
            throw e;
        }
    }

    /**
     * Queues one row into this JVM's engine and returns at once (the document is fitted first). A row's own error
     * becomes a result with finish reason ERROR; the future fails (with {@link GlmEngineException}) only when the
     * engine itself failed. Pass the result to {@link #finish}.
     */
    public CompletableFuture<RowResult> submit(Prompt prompt, int maxTokens, SamplingParams sampling, List<String> stop) {
        return submit(prompt, maxTokens, sampling, stop, null);
    }

    /** As {@link #submit(Prompt, int, SamplingParams, List)}, with the output held to a constraint (glm_extract). */
    public CompletableFuture<RowResult> submit(Prompt prompt, int maxTokens, SamplingParams sampling, List<String> stop,
                                               TokenConstraint constraint) {
        return submit(fit(prompt, maxTokens), prompt, maxTokens, sampling, stop, constraint);
    }

    /**
     * Runs a prompt whose text was fitted with {@link #fit}. A text longer than the context under
     * longDocumentPolicy=mapreduce is an error here: only the tasks that can split it (summaries, extraction) do.
     */
    public CompletableFuture<RowResult> submit(Fit fit, Prompt prompt, int maxTokens, SamplingParams sampling, List<String> stop,
                                               TokenConstraint constraint) {
        return switch (fit) {
            case Fit.Refused r -> CompletableFuture.completedFuture(RowResult.failed(r.error(), r.tokens()));
            case Fit.TooLong t -> CompletableFuture.completedFuture(RowResult.failed(t.notSplit("applies to summaries and "
                    + "extraction only (glm_summarize, glm_extract, glm_summarize_agg; format(\"glm\") tasks summarize and extract)"),
                    t.tokens()));
            case Fit.Fits f -> submitFitting(prompt.withText(f.text()), maxTokens, sampling, stop, constraint)
                    .thenApply(r -> f.truncated() ? r.asTruncated() : r);
        };
    }

    /**
     * Runs a prompt known to fit the context as it is (a chunk the runner made, a combination it packed): no policy
     * applied. Never fails but for an engine failure (see {@link #submit(Prompt, int, SamplingParams, List)}).
     */
    public CompletableFuture<RowResult> submitFitting(Prompt prompt, int maxTokens, SamplingParams sampling, List<String> stop,
                                                      TokenConstraint constraint) {
        InferenceEngine engine = engine();
        try {
            GenerationRequest request = new GenerationRequest(prompt.messages(prompt.text()), null, maxTokens, sampling, stop, false,
                    constraint);
            return engine.submit(request).thenApply(RowResult::of).exceptionally(GlmRunner::rowFailure);
        } catch (RuntimeException e) {
            return CompletableFuture.completedFuture(rowFailure(e));
        }
    }

    /**
     * One request per text, each {@code prompt} about it and known to fit (chunks, packed combinations), all queued at
     * once so that they share the engine's batch; call i is seeded by {@link #callSampling}(key, level, i). The results
     * come in the texts' order; like {@link #submitFitting}, only an engine failure fails the future.
     *
     * @param constraint makes each call's own constraint (they hold state), or gives null
     */
    public CompletableFuture<List<RowResult>> submitEach(Prompt prompt, List<String> texts, int maxTokens, long key, int level,
                                                         Supplier<TokenConstraint> constraint) {
        List<CompletableFuture<RowResult>> calls = new ArrayList<>(texts.size());
        for (int i = 0; i < texts.size(); i++) {
            calls.add(submitFitting(prompt.withText(texts.get(i)), maxTokens, callSampling(key, level, i), List.of(), constraint.get()));
        }
        return allOf(calls);
    }

    /**
     * The sampling of one call of a row that makes several (chunks, combining rounds): the session's, with a seed of its
     * own derived from the session seed, a key of the row's content (0 for a document) and the call's place, so that
     * the same inputs make the same calls alone, in a batch or on a retry. Only sampled calls use the seed.
     */
    public SamplingParams callSampling(long key, int level, int index) {
        SamplingParams sampling = conf.sampling();
        long seed = sampling.seed();
        seed = seed * 0x9E3779B97F4A7C15L + key;
        seed = seed * 0x9E3779B97F4A7C15L + level;
        seed = seed * 0x9E3779B97F4A7C15L + index;
        return sampling.withSeed(seed ^ (seed >>> 31));
    }

    /** All futures' results in order, once every one is done; fails as the first failed one does. */
    public static <T> CompletableFuture<List<T>> allOf(List<CompletableFuture<T>> futures) {
        return CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new))
                .thenApply(v -> futures.stream().map(CompletableFuture::join).toList());
    }

    /**
     * The log-likelihood of each continuation as the assistant's reply to the prompt (glm_classify): the document
     * is fitted into the context like a generation with {@code longest continuation} new tokens. A failure is an
     * exceptional future.
     */
    public CompletableFuture<double[]> score(Prompt prompt, java.util.function.Function<GlmTokenizer, List<int[]>> continuations) {
        InferenceEngine engine = engine();
        try {
            GlmTokenizer tokenizer = tokenizer();
            List<int[]> conts = continuations.apply(tokenizer);
            int longest = conts.stream().mapToInt(c -> c.length).max().orElse(1);
            return switch (fit(prompt, longest)) {
                case Fit.Refused r -> CompletableFuture.failedFuture(new IllegalArgumentException(r.error()));
                case Fit.TooLong t -> CompletableFuture.failedFuture(new IllegalArgumentException(
                        t.notSplit("does not apply to classification")));
                case Fit.Fits f -> engine.score(tokenizer.encodeChat(prompt.messages(f.text()), true), conts);
            };
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** The task-failing exception for an engine failure (anywhere in {@code t}'s causes), or null for a row's own. */
    public static GlmEngineException engineFailure(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof GlmEngineException e) return e;
            if (c instanceof EngineFailedException e) return new GlmEngineException(e);
        }
        return null;
    }

    /** What a row's error field says for a failure: the message of the cause a future was completed with. */
    public static String errorMessage(Throwable t) {
        Throwable cause = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
        return cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
    }

    /** The model's tokenizer (loaded once per JVM; no engine). */
    public GlmTokenizer tokenizer() {
        engineOptions(); // resolves the model path
        return ExecutorEngines.tokenizer(resolvedModel);
    }

    /** Reports the most rows a task held in the engine at once (metrics and the task's log line). */
    public void recordInFlight(int rows) {
        metrics.recordInFlight(rows);
    }

    /** Counts a finished row and applies spark.glm.onError (fail throws, failing the task). */
    public RowResult finish(RowResult result) {
        metrics.record(result);
        if (!result.ok() && conf.onError() == GlmConf.OnError.FAIL) {
            throw new GlmRowException("glm: a row failed and spark.glm.onError=fail: " + result.error());
        }
        return result;
    }

    /** Tokens of ordinary text with the model's tokenizer (no inference). */
    public int countTokens(String text) {
        engineOptions(); // resolves the model path
        return ExecutorEngines.tokenizer(resolvedModel).encode(text).length;
    }

    /** The engine options rows of the current task use (device from the task's GPU, if any). */
    public EngineOptions engineOptions() {
        if (resolvedModel == null) resolvedModel = ModelLocator.resolve(conf.requireModel());
        TaskContext tc = TaskContext.get();
        return conf.engineOptions(resolvedModel, assignedDevice(conf.backend(), tc == null ? Map.of() : tc.resourcesJMap()));
    }

    private InferenceEngine engine() {
        return ExecutorEngines.get(engineOptions());
    }

    /** The GPU Spark assigned to this task, for the tornado (or auto) backend; -1 = let the engine choose. */
    public static int assignedDevice(String backend, Map<String, ResourceInformation> taskResources) {
        if (backend.equals("cpu")) return -1;
        ResourceInformation gpu = taskResources.get("gpu");
        if (gpu == null || gpu.addresses().length == 0) return -1;
        String address = gpu.addresses()[0];
        try {
            return Integer.parseInt(address.trim());
        } catch (NumberFormatException e) {
            throw new IllegalStateException("glm: Spark assigned GPU address '" + address
                    + "', which is not a device index; the discovery script must print indexes such as \"0\"");
        }
    }

    /** How a prompt's text meets the context. */
    public sealed interface Fit {
        /** The text to send (cut when {@code truncated}). */
        record Fits(String text, boolean truncated) implements Fit {}
        /** The row fails: the text cannot fit (longDocumentPolicy=error) or nothing can. */
        record Refused(String error, int tokens) implements Fit {}
        /** Longer than the {@code budget} and longDocumentPolicy=mapreduce: split it ({@link #chunks}). */
        record TooLong(int tokens, int budget) implements Fit {
            /** The error of a task that cannot split a text: mapreduce {@code why}. */
            String notSplit(String why) {
                return "the text has " + tokens + " tokens but only " + budget + " fit, and longDocumentPolicy=mapreduce " + why
                        + "; use longDocumentPolicy=truncate or raise spark.glm.maxContext";
            }
        }
    }

    /**
     * Applies spark.glm.longDocumentPolicy to a prompt whose answer may take {@code maxTokens}. A model that cannot be
     * loaded throws (it fails the task: not a per-row problem); anything else that goes wrong is the row's refusal.
     */
    public Fit fit(Prompt prompt, int maxTokens) {
        InferenceEngine engine = engine();
        try {
            return fit(engine, prompt, maxTokens);
        } catch (RuntimeException e) {
            return new Fit.Refused(rowFailure(e).error(), 0);
        }
    }

    private Fit fit(InferenceEngine engine, Prompt prompt, int maxTokens) {
        String text = prompt.text();
        int budget = budget(prompt, maxTokens);
        if (budget <= 0) {
            return new Fit.Refused("max_tokens " + maxTokens + " plus the instruction (" + (engine.contextLength() - maxTokens - budget)
                    + " tokens) leave no room for the text in the context of " + engine.contextLength() + " tokens", 0);
        }
        // Every token covers at least one UTF-8 byte: a text with no more bytes than the budget fits uncounted.
        if (utf8Length(text) <= budget) return new Fit.Fits(text, false);
        int tokens = engine.countTokens(text);
        if (tokens <= budget) return new Fit.Fits(text, false);
        return switch (conf.longDocumentPolicy()) {
            case ERROR -> new Fit.Refused("the text has " + tokens + " tokens but only " + budget + " fit (context "
                    + engine.contextLength() + " minus max_tokens " + maxTokens + " and the instruction); set "
                    + "spark.glm.longDocumentPolicy=mapreduce to read it in parts, truncate to keep its beginning, or raise "
                    + "spark.glm.maxContext", tokens);
            case TRUNCATE -> new Fit.Fits(cutToFit(engine, text, tokens, budget), true);
            case MAPREDUCE -> new Fit.TooLong(tokens, budget);
        };
    }

    /** Tokens left for a prompt's text: the context less the answer, the instruction, the system turn and the template. */
    public int budget(Prompt prompt, int maxTokens) {
        InferenceEngine engine = engine();
        int fixed = TEMPLATE_TOKENS + (prompt.system() == null ? 0 : engine.countTokens(prompt.system()))
                + (prompt.instruction() == null ? 0 : engine.countTokens(prompt.instruction()));
        return engine.contextLength() - maxTokens - fixed;
    }

    /**
     * The text in chunks that each fit {@code partPrompt} with an answer of {@code maxTokens}, in document order (blank
     * chunks left out), overlapping by spark.glm.chunkOverlap tokens; IllegalArgumentException naming the numbers when
     * no chunk can fit or the overlap is too large for the chunks.
     */
    public List<String> chunks(Prompt partPrompt, String text, int maxTokens) {
        int budget = budget(partPrompt, maxTokens);
        if (budget < 1) {
            throw new IllegalArgumentException("longDocumentPolicy=mapreduce: max_tokens " + maxTokens + " and the instruction "
                    + "leave no room for a chunk in the context of " + engine().contextLength() + " tokens");
        }
        try {
            Chunker.checkSizes(budget, conf.chunkOverlap());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("spark.glm.chunkOverlap: " + e.getMessage() + " (context " + engine().contextLength()
                    + " less max_tokens " + maxTokens + " and the instruction); lower chunkOverlap");
        }
        return Chunker.split(tokenizer(), text, budget, conf.chunkOverlap()).stream()
                .map(c -> c.text(text)).filter(t -> !t.isBlank()).toList();
    }

    /** The longest-found prefix of {@code text} with at most {@code budget} tokens (keeps the beginning). */
    static String cutToFit(InferenceEngine engine, String text, int tokens, int budget) {
        int chars = text.length();
        int count = tokens;
        int pass = 0;
        while (count > budget) {
            // Shrink in proportion to the overshoot (from the second pass on a little more, so that this
            // converges in a few passes: every pass tokenizes the prefix once).
            chars = Math.max(0, (int) ((long) chars * budget / count) - (pass++ == 0 ? 0 : 1 + chars / 100));
            if (chars > 0 && Character.isHighSurrogate(text.charAt(chars - 1))) chars--;
            count = engine.countTokens(text.substring(0, chars));
        }
        return text.substring(0, chars);
    }

    public static int utf8Length(String s) {
        if (s.length() > Integer.MAX_VALUE / 3) return s.getBytes(StandardCharsets.UTF_8).length;
        int n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) n++;
            else if (c < 0x800) n += 2;
            else if (Character.isHighSurrogate(c)) { n += 4; i++; }
            else n += 3;
        }
        return n;
    }

    /** A row's own failure as an error result; an engine failure is rethrown (it fails the task). */
    public static RowResult rowFailure(Throwable t) {
        GlmEngineException engineFailed = engineFailure(t);
        if (engineFailed != null) throw engineFailed;
        return RowResult.failed(errorMessage(t), 0);
    }

    /** A row failed while spark.glm.onError=fail: fails the task (and, after retries, the job). */
    public static final class GlmRowException extends RuntimeException {
        public GlmRowException(String message) {
            super(message);
        }
    }
}
