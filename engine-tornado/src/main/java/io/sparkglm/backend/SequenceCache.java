package io.sparkglm.backend;

/** The KV cache of one sequence, owned by the backend that made it. Closing it frees its memory. */
public interface SequenceCache extends AutoCloseable {

    /** Tokens already in the cache (the next token's position). */
    int length();

    /** Most tokens it can hold. */
    int capacity();

    @Override
    void close();
}
