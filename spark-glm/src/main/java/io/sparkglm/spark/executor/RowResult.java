package io.sparkglm.spark.executor;

import io.sparkglm.generate.FinishReason;
import io.sparkglm.generate.GenerationResult;
import java.io.Serializable;
import java.util.List;

/**
 * What one row (or one group of glm_summarize_agg) gave and cost: the answer of its last model call, and every
 * call's tokens and engine time. A row the model answered in one call has one chunk and one level; a document split
 * by {@code longDocumentPolicy=mapreduce} has a chunk per part and a level per round of calls (map, then each
 * combining round); a row answered without the model (a blank document) has none.
 *
 * @param text             the answer ("" when the row failed)
 * @param finishReason     why the last call stopped (ERROR when any call failed)
 * @param promptTokens     prompt tokens of every call
 * @param completionTokens generated tokens of every call
 * @param engineNanos      engine time of every call (prefill plus decode)
 * @param truncated        the document was cut to fit (longDocumentPolicy=truncate)
 * @param error            why the row failed, or null
 * @param chunks           parts the document was read in
 * @param levels           rounds of model calls
 */
public record RowResult(String text, FinishReason finishReason, int promptTokens, int completionTokens, long engineNanos,
                        boolean truncated, String error, int chunks, int levels) implements Serializable {

    /** A blank document's answer: nothing to read, no model call. */
    public static final RowResult EMPTY = new RowResult("", FinishReason.STOP, 0, 0, 0, false, null, 0, 0);

    public boolean ok() {
        return finishReason != FinishReason.ERROR;
    }

    /** One model call's result. */
    public static RowResult of(GenerationResult r) {
        return new RowResult(r.text(), r.finishReason(), r.promptTokens(), r.completionTokens(), r.prefillNanos() + r.decodeNanos(),
                r.truncated(), r.error(), 1, 1);
    }

    /** A row that failed before (or without) a model call. */
    public static RowResult failed(String error, int promptTokens) {
        return new RowResult("", FinishReason.ERROR, promptTokens, 0, 0, false, error, 0, 0);
    }

    /** This result with another answer (the text a merge produced). */
    public RowResult withText(String newText) {
        return new RowResult(newText, finishReason, promptTokens, completionTokens, engineNanos, truncated, error, chunks, levels);
    }

    /** This result for a document that was cut to fit (longDocumentPolicy=truncate). */
    public RowResult asTruncated() {
        return new RowResult(text, finishReason, promptTokens, completionTokens, engineNanos, true, error, chunks, levels);
    }

    /**
     * Several calls as one row: the {@code last} call's answer and finish reason, everyone's costs, the first error
     * (named by {@code what} it was, e.g. "part 3 of 12") failing the whole.
     *
     * @param calls  every call made for the row, in order, {@code last} included
     * @param what   how to name call i in an error
     */
    public static RowResult combined(List<RowResult> calls, RowResult last, java.util.function.IntFunction<String> what,
                                     int chunks, int levels) {
        int prompt = 0, completion = 0;
        long nanos = 0;
        String error = null;
        for (int i = 0; i < calls.size(); i++) {
            RowResult c = calls.get(i);
            prompt += c.promptTokens;
            completion += c.completionTokens;
            nanos += c.engineNanos;
            if (error == null && !c.ok()) error = what.apply(i) + ": " + c.error;
        }
        return error != null
                ? new RowResult("", FinishReason.ERROR, prompt, completion, nanos, false, error, chunks, levels)
                : new RowResult(last.text, last.finishReason, prompt, completion, nanos, false, null, chunks, levels);
    }
}
