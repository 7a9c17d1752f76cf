package io.sparkglm.spark.executor;

/**
 * This executor's engine failed (a forward step threw, ran out of memory or hung past spark.glm.stepTimeout): not a
 * problem of one row, so it fails the task, whatever spark.glm.onError says. Spark retries the task; the failed engine
 * has been dropped, so the retry loads a fresh one.
 *
 * <p>An Error in the cause (an OutOfMemoryError in a step) is carried as text and stack trace, not as the Error
 * itself: Spark kills an executor whose task failure has a fatal Error among its causes, which would also lose every
 * other task of that executor, while the engine that hit it has already been stopped and its memory let go.
 */
public final class GlmEngineException extends RuntimeException {

    public GlmEngineException(Throwable cause) {
        super("glm: the engine on this executor failed, so this task fails and Spark retries it with a freshly loaded "
                + "engine: " + cause.getMessage(), withoutErrors(cause));
    }

    /** A copy of the cause chain in which each Error is a RuntimeException with the same text and stack trace. */
    static Throwable withoutErrors(Throwable t) {
        if (t == null) return null;
        boolean hasError = false;
        for (Throwable c = t; c != null; c = c.getCause()) hasError |= c instanceof Error;
        if (!hasError) return t;
        Throwable copy = new RuntimeException(t.toString(), withoutErrors(t.getCause()));
        copy.setStackTrace(t.getStackTrace());
        return copy;
    }
}
