package io.sparkglm.spark.task;

import io.sparkglm.generate.FinishReason;
import io.sparkglm.spark.executor.GlmRunner;
import io.sparkglm.spark.executor.GlmRunner.Prompt;
import io.sparkglm.spark.executor.RowResult;
import java.io.Serial;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The state of {@code glm_summarize_agg} for one group: texts still to combine (rows' texts or summaries of several),
 * and the costs of the calls made so far.
 *
 * <p>Spark aggregates in two steps: each task folds its rows into a partial state, which is serialized and sent to
 * the task that merges a group's partial states and produces the result. When a partial state is serialized it is
 * first compacted ({@link #writeReplace}): its texts are combined by the model, round after round, until what is sent
 * is at most two summaries long, so a group of a million rows reaches the final step as a few summaries per partition.
 * The final step combines everything into one summary the same way.
 *
 * <p>The answer must not depend on the order rows or partial states arrive in (a retried task sees another order):
 * before every round the texts are sorted by a key that depends only on content (the smallest hash of the rows a
 * text covers, then the text), and each call's seed is derived from its group's key.
 */
public final class GroupSummary implements Serializable {

    @Serial
    private static final long serialVersionUID = 1L;

    /** A text to combine: {@code rows} rows' worth, made in round {@code level} (0: a row's own text). */
    record Item(long key, String text, int rows, int level) implements Serializable {
        static final Comparator<Item> ORDER = Comparator.comparingLong(Item::key).thenComparing(Item::text);
    }

    private final int maxWords;
    private final ArrayList<Item> items = new ArrayList<>();
    private int promptTokens;
    private int completionTokens;
    private long engineNanos;
    private String error;
    /** Only a state that was merged into (the final step) skips compaction when serialized (see writeReplace). */
    private boolean merged;
    /** Set where the state is made; null after it travelled (the final step passes its own runner). */
    private transient GlmRunner runner;

    public GroupSummary(GlmRunner runner, int maxWords) {
        this.runner = runner;
        this.maxWords = maxWords;
    }

    public static String instruction(int maxWords) {
        return "The following are texts from one collection, or summaries of some of them. Write one summary of all of them "
                + "in at most " + maxWords + " words.";
    }

    /** Adds a row's text (NULL and blank texts are skipped). */
    public GroupSummary add(String text) {
        if (text != null && !text.isBlank() && error == null) items.add(new Item(hash(text), text, 1, 0));
        return this;
    }

    /** Adds another state's texts and costs (in either order the result is the same). */
    public GroupSummary merge(GroupSummary other) {
        merged = true;
        promptTokens += other.promptTokens;
        completionTokens += other.completionTokens;
        engineNanos += other.engineNanos;
        if (error == null && other.error != null) error = other.error;
        if (error != null) items.clear();
        else items.addAll(other.items);
        return this;
    }

    /**
     * The group's summary, every call's costs counted, {@code chunks} the rows combined and {@code levels} the rounds;
     * null for a group without text.
     */
    public RowResult finish(GlmRunner with) {
        if (error != null) return failed();
        if (items.isEmpty()) return null;
        compact(with, Integer.MAX_VALUE); // until everything fits one call
        if (error != null) return failed();
        int rows = items.stream().mapToInt(Item::rows).sum();
        int level = items.stream().mapToInt(Item::level).max().orElse(0);
        if (items.size() == 1 && level > 0) return result(items.getFirst().text(), FinishReason.STOP, rows, level);
        List<Item> last = List.copyOf(items);
        RowResult r = GlmRunner.await(call(with, last, level + 1));
        count(r);
        if (!r.ok()) {
            error = "combining round " + (level + 1) + ": " + r.error();
            return failed();
        }
        return result(r.text(), r.finishReason(), rows, level + 1);
    }

    /**
     * Spark serializes a partial state once its task has read all its rows: compact it first, so that what travels to
     * the final step is at most two summaries long. A merged state (the final step's, when it spills) travels as it is:
     * its content depends on the order partial states arrived in, and compacting it would make the answer depend on that.
     */
    @Serial
    private Object writeReplace() {
        if (!merged && runner != null && error == null && !items.isEmpty()) compact(runner, 2 * maxTokens(runner));
        return this;
    }

    /** Combines the texts in rounds until they take at most {@code target} tokens together (and fit in one call). */
    private void compact(GlmRunner with, int target) {
        int maxTokens = maxTokens(with);
        int budget = with.budget(prompt(), maxTokens);
        summarizeOversized(with, budget);
        while (error == null && items.size() > 1 && total(with) > Math.min(target, budget)) {
            items.sort(Item.ORDER);
            List<List<String>> groups = Summarizer.pack(with, items.stream().map(Item::text).toList(), budget);
            if (groups.size() == items.size()) {
                error = "cannot combine " + items.size() + " texts: no two fit in one call of " + budget + " tokens";
                break;
            }
            List<List<Item>> grouped = new ArrayList<>();
            int at = 0;
            for (List<String> g : groups) {
                grouped.add(List.copyOf(items.subList(at, at + g.size())));
                at += g.size();
            }
            int[] levels = new int[grouped.size()];
            List<CompletableFuture<RowResult>> calls = new ArrayList<>();
            for (int i = 0; i < levels.length; i++) {
                levels[i] = grouped.get(i).stream().mapToInt(Item::level).max().orElse(0) + 1;
                calls.add(call(with, grouped.get(i), levels[i]));
            }
            List<RowResult> results = GlmRunner.await(GlmRunner.allOf(calls));
            List<Item> next = new ArrayList<>();
            for (int i = 0; i < results.size(); i++) {
                RowResult r = results.get(i);
                count(r);
                List<Item> g = grouped.get(i);
                if (!r.ok() && error == null) error = "combining round " + levels[i] + ": " + r.error();
                next.add(new Item(key(g), r.text(), g.stream().mapToInt(Item::rows).sum(), levels[i]));
            }
            items.clear();
            if (error == null) items.addAll(next);
        }
        items.sort(Item.ORDER);
    }

    /** A row's text too long for one call is summarized alone first, by map-reduce over its chunks. */
    private void summarizeOversized(GlmRunner with, int budget) {
        List<Integer> oversized = new ArrayList<>();
        for (int i = 0; i < items.size(); i++) {
            Item it = items.get(i);
            if (it.level() == 0 && GlmRunner.utf8Length(it.text()) > budget && with.countTokens(it.text()) > budget) oversized.add(i);
        }
        if (oversized.isEmpty()) return;
        List<CompletableFuture<RowResult>> calls = oversized.stream()
                .map(i -> Summarizer.submitInParts(with, items.get(i).text(), maxWords)).toList();
        List<RowResult> results = GlmRunner.await(GlmRunner.allOf(calls));
        for (int k = 0; k < results.size(); k++) {
            RowResult r = results.get(k);
            count(r);
            Item it = items.get(oversized.get(k));
            if (!r.ok() && error == null) error = "a text of the group: " + r.error();
            items.set(oversized.get(k), new Item(it.key(), r.text(), 1, r.levels()));
        }
        if (error != null) items.clear();
    }

    /** One combining call over a group of texts, seeded by the group's key and the round it makes. */
    private CompletableFuture<RowResult> call(GlmRunner with, List<Item> group, int level) {
        String joined = String.join(Summarizer.SEPARATOR, group.stream().map(Item::text).toList());
        return with.submitFitting(prompt().withText(joined), maxTokens(with), with.callSampling(key(group), level, 0), List.of(), null);
    }

    /** A group's key: the smallest of its texts' (a function of the rows it covers alone). */
    private static long key(List<Item> group) {
        return group.stream().mapToLong(Item::key).min().orElseThrow();
    }

    private int total(GlmRunner with) {
        return with.countTokens(String.join(Summarizer.SEPARATOR, items.stream().map(Item::text).toList()));
    }

    private Prompt prompt() {
        return new Prompt(Summarizer.SYSTEM, instruction(maxWords), null);
    }

    private int maxTokens(GlmRunner with) {
        return Summarizer.maxTokens(maxWords, with.conf().maxNewTokens());
    }

    private void count(RowResult r) {
        promptTokens += r.promptTokens();
        completionTokens += r.completionTokens();
        engineNanos += r.engineNanos();
    }

    private RowResult result(String text, FinishReason reason, int rows, int levels) {
        return new RowResult(text, reason, promptTokens, completionTokens, engineNanos, false, null, rows, levels);
    }

    private RowResult failed() {
        return new RowResult("", FinishReason.ERROR, promptTokens, completionTokens, engineNanos, false, error, 0, 0);
    }

    /** FNV-1a over the UTF-8 bytes: a key that depends on the text alone (the same in every JVM). */
    static long hash(String text) {
        long h = 0xcbf29ce484222325L;
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return h;
    }
}
