package io.sparkglm.backend;

import io.sparkglm.model.ModelConfig;
import java.util.List;

/**
 * Computes GLM-4 forward steps. The scheduler above decides which sequences share a step; a backend
 * decides how to compute it. All tokens of one step (prompt chunks of some sequences, one new token of
 * others) are computed together, so every weight is read once per step.
 *
 * <p>A backend is used by one scheduler thread at a time. The logits of a token never depend on which
 * other tokens share its step: a sequence generates the same ids alone or in a batch.
 */
public interface Backend extends AutoCloseable {

    /** "cpu", "tornado", ... */
    String name();

    ModelConfig config();

    /**
     * Most tokens one sequence can hold on this backend (a device backend reserves fixed KV slots); the
     * engine caps its context by it, so longer requests get the context error (or truncation) up front.
     */
    default int maxSequenceTokens() {
        return Integer.MAX_VALUE;
    }

    /** An empty KV cache for one sequence that can hold {@code capacity} tokens; fails clearly when memory is short. */
    SequenceCache newSequence(int capacity);

    /**
     * The most memory a sequence of {@code capacity} tokens can make this backend take as its cache fills: the
     * engine admits a sequence only when this fits beside the live ones, so a long row is refused up front instead
     * of failing mid-step. 0 for a backend that reserves its KV memory when it opens (device slots).
     */
    default long kvCacheBytes(int capacity) {
        return 0;
    }

    /**
     * Appends each entry's tokens to its sequence (positions continue from {@link SequenceCache#length()})
     * and returns, per entry, the logits of its last token ({@code vocab} floats) or, when
     * {@link Step#allLogits()}, of all its tokens ({@code tokens.length * vocab} floats).
     */
    List<float[]> forward(List<Step> steps);

    @Override
    void close();

    /**
     * One sequence's share of a forward step.
     *
     * @param prompt whether the tokens are given (a prompt chunk, a continuation to score) rather than the
     *     one token a generating sequence just sampled. A backend may compute the two kinds with different
     *     kernels (the CPU backend multiplies prompt chunks as a GEMM), so the kind is part of the request,
     *     never inferred from the step's size: a token's logits must not depend on its batch-mates.
     */
    record Step(SequenceCache sequence, int[] tokens, boolean allLogits, boolean prompt) {
        public Step {
            if (tokens.length == 0) throw new IllegalArgumentException("a step needs at least one token");
            if (sequence.length() + tokens.length > sequence.capacity()) {
                throw new IllegalArgumentException("sequence holds " + sequence.length() + " of "
                        + sequence.capacity() + " tokens; " + tokens.length + " more do not fit");
            }
        }

        /** Given tokens: a prompt chunk, or a continuation to score. */
        public Step(SequenceCache sequence, int[] tokens, boolean allLogits) {
            this(sequence, tokens, allLogits, true);
        }

        /** The token a generating sequence sampled last. */
        public static Step decode(SequenceCache sequence, int token) {
            return new Step(sequence, new int[] {token}, false, false);
        }
    }
}
