package io.sparkglm.spark.task;

import io.sparkglm.spark.conf.GlmConf;
import io.sparkglm.spark.executor.GlmRunner;
import io.sparkglm.spark.executor.GlmRunner.Fit;
import io.sparkglm.spark.executor.GlmRunner.Prompt;
import io.sparkglm.spark.executor.RowResult;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ForkJoinPool;

/**
 * Summaries, for glm_summarize, format("glm") task summarize, GlmDatasets and glm_summarize_agg: the prompts, the
 * token budget of a summary, and the map-reduce that reads a document longer than the context
 * (docs/adr/0013-long-documents.md).
 *
 * <p>Map-reduce: the document is split into chunks that fit beside the instruction and a summary
 * ({@link GlmRunner#chunks}); every chunk is summarized at once (they share the engine's batch); then the partial
 * summaries, in document order, are packed into as few calls as fit and combined, round after round, until one call
 * takes them all. Every call's seed is derived from the session seed and the call's place ({@link GlmRunner#callSampling}),
 * so a row gives the same summary alone, in a batch, or in a retried task.
 */
public final class Summarizer {

    public static final int DEFAULT_MAX_WORDS = 100;
    public static final int MAX_MAX_WORDS = 10_000;
    public static final String SYSTEM = "You are a careful assistant. You write faithful, concise summaries of documents.";

    /** Two texts being combined are separated by a blank line; counted with each text when packing. */
    static final String SEPARATOR = "\n\n";

    private Summarizer() {}

    public static String instruction(int maxWords) {
        return "Summarize the following document in at most " + maxWords + " words.";
    }

    static String partInstruction(int maxWords) {
        return "Summarize the following part of a longer document in at most " + maxWords + " words.";
    }

    static String combineInstruction(int maxWords) {
        return "The following are summaries of consecutive parts of one document, in order. Combine them into one summary "
                + "of the whole document in at most " + maxWords + " words.";
    }

    /** Generated-token cap for a summary: about two tokens per word plus a margin, never above maxNewTokens. */
    public static int maxTokens(int maxWords, int maxNewTokens) {
        return (int) Math.min(maxNewTokens, 2L * maxWords + 16);
    }

    /** Why a max_words value is refused (null when it is fine): an integer in 1..{@value #MAX_MAX_WORDS}. */
    public static String checkMaxWords(Object value) {
        if (value == null) return null;
        try {
            int n = Integer.parseInt(value.toString().trim());
            return n >= 1 && n <= MAX_MAX_WORDS ? null : "max_words must be in 1.." + MAX_MAX_WORDS + ": " + n;
        } catch (NumberFormatException e) {
            return "max_words must be an integer in 1.." + MAX_MAX_WORDS + ": '" + value + "'";
        }
    }

    /** The one-call prompt for a document. */
    public static Prompt prompt(String doc, int maxWords) {
        return new Prompt(SYSTEM, instruction(maxWords), doc);
    }

    /**
     * Summarizes one non-blank document in this JVM's engine, as spark.glm.longDocumentPolicy says when it is longer
     * than the context. Never fails but for an engine failure (like {@link GlmRunner#submit}); pass the result to
     * {@link GlmRunner#finish}.
     */
    public static CompletableFuture<RowResult> submit(GlmRunner runner, String doc, int maxWords) {
        GlmConf conf = runner.conf();
        int maxTokens = maxTokens(maxWords, conf.maxNewTokens());
        Prompt whole = prompt(doc, maxWords);
        if (conf.longDocumentPolicy() != GlmConf.LongDocumentPolicy.MAPREDUCE) {
            return runner.submit(whole, maxTokens, conf.sampling(), List.of());
        }
        Fit fit = runner.fit(whole, maxTokens);
        if (!(fit instanceof Fit.TooLong)) return runner.submit(fit, whole, maxTokens, conf.sampling(), List.of(), null);
        return mapReduce(runner, doc, maxWords, maxTokens);
    }

    /** A document longer than one call, read in parts whatever the policy (glm_summarize_agg's long rows). */
    static CompletableFuture<RowResult> submitInParts(GlmRunner runner, String doc, int maxWords) {
        return mapReduce(runner, doc, maxWords, maxTokens(maxWords, runner.conf().maxNewTokens()));
    }

    private static CompletableFuture<RowResult> mapReduce(GlmRunner runner, String doc, int maxWords, int maxTokens) {
        Prompt part = new Prompt(SYSTEM, partInstruction(maxWords), null);
        Prompt combine = new Prompt(SYSTEM, combineInstruction(maxWords), null);
        List<String> chunks;
        try {
            checkCombinable(runner, combine, maxTokens, maxWords);
            chunks = runner.chunks(part, doc, maxTokens);
        } catch (RuntimeException e) {   // the numbers do not allow it, or the text cannot be cut
            return CompletableFuture.completedFuture(GlmRunner.rowFailure(e));
        }
        int n = chunks.size();
        return runner.submitEach(part, chunks, maxTokens, 0, 1, () -> null).thenComposeAsync(results -> {
            if (results.stream().anyMatch(r -> !r.ok()) || n == 1) {
                return CompletableFuture.completedFuture(RowResult.combined(results, results.getLast(), i -> "part " + (i + 1) + " of " + n, n, 1));
            }
            return combine(runner, combine, results.stream().map(RowResult::text).toList(), maxTokens, 0, new ArrayList<>(results), n, 2);
        }, ForkJoinPool.commonPool()).exceptionally(GlmRunner::rowFailure);
    }

    /**
     * Combines texts (in their order) into one answer of {@code combine}'s instruction: packs consecutive texts into as
     * few calls as fit, runs them together, and repeats on their answers until one call takes all. {@code spent} holds
     * the calls made so far (their costs add up in the result); {@code level} is the round this one is.
     *
     * @param key a number that, with the round and the call's index, seeds each call (the same inputs give the same calls)
     */
    static CompletableFuture<RowResult> combine(GlmRunner runner, Prompt combine, List<String> texts, int maxTokens, long key,
                                                List<RowResult> spent, int chunks, int level) {
        int budget = runner.budget(combine, maxTokens);
        List<List<String>> groups = pack(runner, texts, budget);
        if (groups.size() == texts.size() && texts.size() > 1) {
            RowResult stuck = RowResult.failed("cannot combine " + texts.size() + " summaries: no two fit in one call of "
                    + budget + " tokens", 0);
            spent.add(stuck);
            return CompletableFuture.completedFuture(RowResult.combined(spent, stuck, i -> "combining", chunks, level));
        }
        List<String> joined = groups.stream().map(g -> String.join(SEPARATOR, g)).toList();
        return runner.submitEach(combine, joined, maxTokens, key, level, () -> null).thenComposeAsync(results -> {
            spent.addAll(results);
            if (results.size() == 1 || results.stream().anyMatch(r -> !r.ok())) {
                return CompletableFuture.completedFuture(RowResult.combined(spent, results.getLast(),
                        i -> "combining round " + (level - 1), chunks, level));
            }
            return combine(runner, combine, results.stream().map(RowResult::text).toList(), maxTokens, key, spent, chunks, level + 1);
        }, ForkJoinPool.commonPool());
    }

    /**
     * Consecutive texts grouped greedily so that each group, joined, fits {@code budget} tokens (checked by counting
     * the joined text: BPE at a separator may differ from the sum). A text that cannot fit even alone is a group of
     * its own (its call then fails with the context's error).
     */
    static List<List<String>> pack(GlmRunner runner, List<String> texts, int budget) {
        int separator = runner.countTokens(SEPARATOR);
        int[] tokens = texts.stream().mapToInt(runner::countTokens).toArray();
        List<List<String>> groups = new ArrayList<>();
        for (int i = 0; i < texts.size(); ) {
            int used = tokens[i], j = i + 1;
            while (j < texts.size() && used + separator + tokens[j] <= budget) used += separator + tokens[j++];
            while (j - i > 1 && runner.countTokens(String.join(SEPARATOR, texts.subList(i, j))) > budget) j--;
            groups.add(List.copyOf(texts.subList(i, j)));
            i = j;
        }
        return groups;
    }

    /** Refuses a max_words whose summaries could not be combined two at a time in this context. */
    private static void checkCombinable(GlmRunner runner, Prompt combine, int maxTokens, int maxWords) {
        int budget = runner.budget(combine, maxTokens);
        int needed = 2 * (maxTokens + runner.countTokens(SEPARATOR)) + 8;
        if (budget < needed) {
            throw new IllegalArgumentException("longDocumentPolicy=mapreduce: combining two summaries of max_words " + maxWords
                    + " (" + maxTokens + " tokens each) needs " + needed + " tokens beside the answer, but the context leaves "
                    + budget + "; lower max_words or raise spark.glm.maxContext");
        }
    }
}
