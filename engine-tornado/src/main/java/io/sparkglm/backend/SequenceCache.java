package io.sparkglm.backend;

/** The KV cache of one sequence, owned by the backend that made it. Closing it frees its memory. */
public interface SequenceCache extends AutoCloseable {

    /** Tokens already in the cache (the next token's position). */
    int length();

    /** Most tokens it can hold. */
    int capacity();

    /**
     * Forgets every token from position {@code length} on (their keys and values are overwritten by the
     * next step): scoring several continuations of one prompt reuses the prompt's cache.
     */
    void truncate(int length);

    @Override
    void close();
}
