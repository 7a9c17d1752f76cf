package io.sparkglm.generate;

import io.sparkglm.tokenizer.ChatMessage;
import java.util.List;
import java.util.Objects;

/**
 * One thing to generate: either chat messages (formatted with GLM-4's chat template and a generation
 * prompt) or raw prompt token ids, plus limits, sampling and stop conditions.
 *
 * @param messages     chat turns, or null when {@code promptIds} is given
 * @param promptIds    raw prompt ids, or null when {@code messages} is given
 * @param maxTokens    most tokens to generate
 * @param sampling     how to pick tokens
 * @param stopStrings  generation ends when the text ends with one of these (not included in the result)
 * @param ignoreEos    keep generating past the model's stop ids (as llama.cpp's --ignore-eos)
 * @param constraint   tokens allowed at each step (grammar-constrained output), or null for free text
 */
public record GenerationRequest(List<ChatMessage> messages, int[] promptIds, int maxTokens,
                                SamplingParams sampling, List<String> stopStrings, boolean ignoreEos,
                                TokenConstraint constraint) {

    public GenerationRequest(List<ChatMessage> messages, int[] promptIds, int maxTokens,
                             SamplingParams sampling, List<String> stopStrings, boolean ignoreEos) {
        this(messages, promptIds, maxTokens, sampling, stopStrings, ignoreEos, null);
    }

    public GenerationRequest {
        if ((messages == null) == (promptIds == null)) {
            throw new IllegalArgumentException("give exactly one of messages or promptIds");
        }
        if (maxTokens < 0) throw new IllegalArgumentException("maxTokens must be >= 0: " + maxTokens);
        Objects.requireNonNull(sampling, "sampling");
        messages = messages == null ? null : List.copyOf(messages);
        promptIds = promptIds == null ? null : promptIds.clone();
        stopStrings = stopStrings == null ? List.of() : List.copyOf(stopStrings);
    }

    public static GenerationRequest chat(List<ChatMessage> messages, int maxTokens, SamplingParams sampling) {
        return new GenerationRequest(messages, null, maxTokens, sampling, List.of(), false);
    }

    public static GenerationRequest ids(int[] promptIds, int maxTokens, SamplingParams sampling) {
        return new GenerationRequest(null, promptIds, maxTokens, sampling, List.of(), false);
    }

    public GenerationRequest withStopStrings(List<String> stops) {
        return new GenerationRequest(messages, promptIds, maxTokens, sampling, stops, ignoreEos, constraint);
    }

    public GenerationRequest withIgnoreEos(boolean ignore) {
        return new GenerationRequest(messages, promptIds, maxTokens, sampling, stopStrings, ignore, constraint);
    }

    public GenerationRequest withConstraint(TokenConstraint c) {
        return new GenerationRequest(messages, promptIds, maxTokens, sampling, stopStrings, ignoreEos, c);
    }
}
