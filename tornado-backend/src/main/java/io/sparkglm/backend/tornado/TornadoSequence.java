package io.sparkglm.backend.tornado;

import io.sparkglm.backend.SequenceCache;

/** One sequence's slot in the tornado backend's device-resident KV cache. */
final class TornadoSequence implements SequenceCache {

    private final TornadoBackend backend;
    private final int slot;
    private final int capacity;
    private int length;
    private boolean closed;

    TornadoSequence(TornadoBackend backend, int slot, int capacity) {
        this.backend = backend;
        this.slot = slot;
        this.capacity = capacity;
    }

    TornadoBackend backend() { return backend; }

    int slot() { return slot; }

    boolean closed() { return closed; }

    void advance(int tokens) { length += tokens; }

    @Override public int length() { return length; }

    @Override public int capacity() { return capacity; }

    /** Attention reads positions below the current one only, so later rows are simply overwritten. */
    @Override
    public void truncate(int newLength) {
        if (newLength < 0 || newLength > length) {
            throw new IllegalArgumentException("cannot truncate a sequence of " + length + " tokens to " + newLength);
        }
        length = newLength;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            backend.release(slot);
        }
    }
}
