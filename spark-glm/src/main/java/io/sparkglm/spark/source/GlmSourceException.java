package io.sparkglm.spark.source;

/** A problem with the source's options or input (bad option, missing column, unreadable file), named clearly. */
public final class GlmSourceException extends IllegalArgumentException {

    public GlmSourceException(String message) {
        super(message);
    }

    public GlmSourceException(String message, Throwable cause) {
        super(message, cause);
    }
}
