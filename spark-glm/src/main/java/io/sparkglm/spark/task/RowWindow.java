package io.sparkglm.spark.task;

import java.util.ArrayDeque;

/**
 * Rows of one task on their way through the engine, oldest first: the batching window that SQL (GlmBatchEval),
 * format("glm") and GlmDatasets share. A task starts a row's work when it is added and gives rows back in input
 * order; at most {@code capacity} (spark.glm.batchSize) are held at once, so that many are in the engine's batch.
 *
 * @param <T> a row with its result in the making
 */
public final class RowWindow<T> {

    private final ArrayDeque<T> rows = new ArrayDeque<>();
    private final int capacity;
    private int mostHeld;

    public RowWindow(int capacity) {
        if (capacity < 1) throw new IllegalArgumentException("a window holds at least one row, not " + capacity);
        this.capacity = capacity;
    }

    /** Whether another row may start. */
    public boolean hasRoom() {
        return rows.size() < capacity;
    }

    public void add(T row) {
        rows.add(row);
        mostHeld = Math.max(mostHeld, rows.size());
    }

    /** The oldest row (to be finished and emitted), or null when none is held. */
    public T next() {
        return rows.poll();
    }

    public boolean isEmpty() {
        return rows.isEmpty();
    }

    /** Forgets the rows still held (the task stopped reading: they finish in the engine unobserved). */
    public void clear() {
        rows.clear();
    }

    /** The most rows held at once so far (the task's maxInFlight). */
    public int mostHeld() {
        return mostHeld;
    }
}
