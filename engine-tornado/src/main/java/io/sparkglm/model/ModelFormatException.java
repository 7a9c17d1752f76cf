package io.sparkglm.model;

/** A checkpoint file is malformed, truncated, hostile or contradicts its own config; the message names what. */
public class ModelFormatException extends RuntimeException {
    public ModelFormatException(String message) { super(message); }
    public ModelFormatException(String message, Throwable cause) { super(message, cause); }
}
