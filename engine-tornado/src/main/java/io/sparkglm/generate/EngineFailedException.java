package io.sparkglm.generate;

/**
 * The engine as a whole failed (a forward step threw, ran out of memory, or did not return within the step
 * timeout): every request it held completes exceptionally with this, and it accepts no more. Not a problem of
 * one request, so a caller should not turn it into a per-row error: load a fresh engine (Spark: fail the task,
 * which is retried).
 */
public final class EngineFailedException extends RuntimeException {

    public EngineFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}
