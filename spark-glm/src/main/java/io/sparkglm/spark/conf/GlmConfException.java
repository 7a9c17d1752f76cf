package io.sparkglm.spark.conf;

/**
 * A bad {@code spark.glm.*} setting or a bad function option. Thrown while a query is analyzed (before any
 * task runs), so the message must name the key, the value and what is allowed.
 */
public final class GlmConfException extends IllegalArgumentException {
    public GlmConfException(String message) {
        super(message);
    }
}
