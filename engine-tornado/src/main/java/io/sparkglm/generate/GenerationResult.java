package io.sparkglm.generate;

/**
 * The outcome of one request: what a Spark row wants to know.
 *
 * @param text             generated text (without stop ids or stop strings); empty on error
 * @param tokenIds         generated ids (stop id excluded)
 * @param finishReason     stop, length or error
 * @param promptTokens     prompt length in tokens (after any truncation)
 * @param completionTokens generated tokens
 * @param prefillNanos     time spent on the prompt
 * @param decodeNanos      time spent generating
 * @param truncated        whether the prompt was cut to fit the context
 * @param error            what went wrong, or null
 */
public record GenerationResult(String text, int[] tokenIds, FinishReason finishReason, int promptTokens,
                               int completionTokens, long prefillNanos, long decodeNanos, boolean truncated,
                               String error) {

    public GenerationResult {
        tokenIds = tokenIds == null ? new int[0] : tokenIds.clone();
    }

    @Override
    public int[] tokenIds() { return tokenIds.clone(); }

    public static GenerationResult failed(String error, int promptTokens) {
        return new GenerationResult("", new int[0], FinishReason.ERROR, promptTokens, 0, 0, 0, false, error);
    }

    public boolean ok() { return finishReason != FinishReason.ERROR; }
}
