package io.sparkglm.generate;

/** Why a generation ended. */
public enum FinishReason {
    /** a stop id or stop string was produced */
    STOP,
    /** maxTokens (or the context limit) was reached */
    LENGTH,
    /** the request failed; {@link GenerationResult#error()} says why */
    ERROR;

    public String sqlName() { return name().toLowerCase(java.util.Locale.ROOT); }
}
