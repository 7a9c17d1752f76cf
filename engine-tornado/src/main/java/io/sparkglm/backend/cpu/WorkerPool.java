package io.sparkglm.backend.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * A fixed set of compute threads for data-parallel loops. The calling thread works too, so a pool of
 * N threads starts N-1 workers. Work items are claimed dynamically (an atomic counter), which keeps
 * cores busy when items cost unevenly (attention heads over different lengths).
 *
 * <p>Only one loop runs at a time (the backend is driven by one scheduler thread); loops are short
 * (tens of microseconds to milliseconds), so workers spin briefly before parking.
 */
final class WorkerPool implements AutoCloseable {

    private final Thread[] workers;
    private volatile Job job;                 // the loop in flight, or null
    private volatile boolean closed;

    private record Job(int items, IntConsumer body, AtomicInteger next, AtomicInteger done, Thread caller,
                       Throwable[] failure) {}

    WorkerPool(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1: " + threads);
        workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = Thread.ofPlatform().daemon().name("glm-cpu-" + (i + 1)).start(this::workLoop);
        }
    }

    int threads() { return workers.length + 1; }

    /** Runs body(i) for i in [0, items) on all threads and returns when every item is done. */
    void parallelFor(int items, IntConsumer body) {
        if (items <= 0) return;
        if (workers.length == 0 || items == 1) {
            for (int i = 0; i < items; i++) body.accept(i);
            return;
        }
        Job j = new Job(items, body, new AtomicInteger(), new AtomicInteger(), Thread.currentThread(), new Throwable[1]);
        job = j;
        for (Thread w : workers) LockSupport.unpark(w);
        work(j);
        while (j.done.get() < items) {
            Thread.onSpinWait();
        }
        job = null;
        if (j.failure[0] != null) {
            throw new IllegalStateException("compute thread failed: " + j.failure[0], j.failure[0]);
        }
    }

    private static void work(Job j) {
        int i;
        while ((i = j.next.getAndIncrement()) < j.items) {
            try {
                j.body.accept(i);
            } catch (Throwable t) {
                j.failure[0] = t;
            } finally {
                j.done.incrementAndGet();
            }
        }
    }

    private void workLoop() {
        Job last = null;
        while (!closed) {
            Job j = job;
            if (j != null && j != last) {
                work(j);
                last = j;
                continue;
            }
            // Spin a little: the next loop of the same step usually follows within microseconds.
            boolean found = false;
            for (int spin = 0; spin < 20_000 && !closed; spin++) {
                Job n = job;
                if (n != null && n != last) { found = true; break; }
                Thread.onSpinWait();
            }
            if (!found) LockSupport.parkNanos(this, 1_000_000L);
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) LockSupport.unpark(w);
    }
}
