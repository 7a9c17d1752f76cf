package io.sparkglm.constrain;

import io.sparkglm.generate.Engine;
import io.sparkglm.tokenizer.ChatMessage;
import io.sparkglm.tokenizer.GlmTokenizer;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Classification by likelihood, not by free generation: each label is scored as the assistant's whole reply
 * after the chat prompt, and the most likely label wins.
 *
 * <p>The continuation of a label is exactly what GLM-4 would emit as that reply: the token(s) of "\n"
 * (GLM-4 starts every reply with a newline, tokenized on its own), the tokens of the label text, then the
 * end-of-turn token &lt;|user|&gt;. The end-of-turn token makes a label that is a prefix of another ("pos" vs
 * "positive") pay for stopping early instead of winning by being short. Scores are total natural-log
 * likelihoods (no length normalisation); probabilities are the softmax of the scores over the label set.
 */
public final class LabelScorer {

    private LabelScorer() {}

    /** The winning label, each label's log-likelihood and its probability within the label set. */
    public record Classification(String label, List<String> labels, double[] logLikelihoods, double[] probabilities) {}

    /** The token ids scored for one label (see the class comment). */
    public static int[] continuation(GlmTokenizer tokenizer, String label) {
        int[] newline = tokenizer.encode("\n");
        int[] text = tokenizer.encode(label);
        int[] ids = new int[newline.length + text.length + 1];
        System.arraycopy(newline, 0, ids, 0, newline.length);
        System.arraycopy(text, 0, ids, newline.length, text.length);
        ids[ids.length - 1] = tokenizer.specialId("<|user|>");
        return ids;
    }

    /** Checks a label list: 1..1000 distinct non-null, non-empty labels. */
    public static List<String> checkLabels(List<String> labels) {
        if (labels == null || labels.isEmpty()) throw new IllegalArgumentException("labels must not be empty");
        if (labels.size() > 1000) throw new IllegalArgumentException("at most 1000 labels, got " + labels.size());
        for (String l : labels) {
            if (l == null || l.isEmpty()) throw new IllegalArgumentException("labels must be non-empty strings: " + labels);
        }
        if (new LinkedHashSet<>(labels).size() != labels.size()) throw new IllegalArgumentException("labels must be distinct: " + labels);
        return List.copyOf(labels);
    }

    /** Scores every label after the chat prompt (one prefill of the prompt, in the engine's batch loop). */
    public static CompletableFuture<Classification> classify(Engine engine, List<ChatMessage> prompt, List<String> labels) {
        List<String> checked = checkLabels(labels);
        GlmTokenizer tok = engine.tokenizer();
        List<int[]> continuations = new ArrayList<>(checked.size());
        for (String l : checked) continuations.add(continuation(tok, l));
        return engine.score(tok.encodeChat(prompt, true), continuations).thenApply(s -> of(checked, s));
    }

    /** The classification for these scores: argmax (the first on ties) and softmax probabilities. */
    public static Classification of(List<String> labels, double[] scores) {
        if (labels.size() != scores.length) throw new IllegalArgumentException(labels.size() + " labels but " + scores.length + " scores");
        int best = 0;
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < scores.length; i++) {
            if (scores[i] > max) { max = scores[i]; best = i; }
        }
        double sum = 0;
        double[] p = new double[scores.length];
        for (int i = 0; i < p.length; i++) sum += p[i] = Math.exp(scores[i] - max);
        for (int i = 0; i < p.length; i++) p[i] /= sum;
        return new Classification(labels.get(best), List.copyOf(labels), scores.clone(), p);
    }
}
