package io.sparkglm.testing;

import io.sparkglm.backend.Backend;
import io.sparkglm.backend.BackendOptions;
import io.sparkglm.backend.BackendProvider;
import io.sparkglm.backend.SequenceCache;
import io.sparkglm.backend.cpu.CpuBackend;
import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.ModelConfig;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Backend "faulty" for tests: the CPU backend with one fault injected at a chosen forward call, armed with
 * {@link #arm} before the engine is loaded; it also records the shape of every forward call (what shared a step). Registered in the test jar's META-INF/services, so the Spark module's
 * tests can load real engines that fail too.
 */
public final class FaultyBackendProvider implements BackendProvider {

    public static final String NAME = "faulty";

    /** What goes wrong: an exception, an Error, or a call that never returns. */
    public enum Kind { THROW, ERROR, HANG }

    /** {@code kind} happens on forward call number {@code onCall} (1-based) and every later one. */
    public record Fault(Kind kind, int onCall) {}

    private static final AtomicReference<Fault> ARMED = new AtomicReference<>();
    /** Hung calls wait on this (ignoring interrupts, as a stuck device would) until {@link #releaseHung()}. */
    private static volatile CountDownLatch hung = new CountDownLatch(1);
    private static final AtomicInteger HUNG_CALLS = new AtomicInteger();
    private static final java.util.Queue<List<StepShape>> RECORDED = new java.util.concurrent.ConcurrentLinkedQueue<>();

    /** One sequence's share of a recorded forward call. */
    public record StepShape(int tokens, boolean prompt, boolean allLogits) {}

    /** Every forward call of "faulty" backends since the last {@link #clearRecorded()}, as its steps' shapes. */
    public static List<List<StepShape>> recorded() {
        return List.copyOf(RECORDED);
    }

    public static void clearRecorded() {
        RECORDED.clear();
    }

    /** The next backend opened under this name gets {@code fault}; null: none. */
    public static void arm(Fault fault) {
        ARMED.set(fault);
    }

    /** Lets every hung call return (tests clean up their threads with it). */
    public static void releaseHung() {
        CountDownLatch l = hung;
        hung = new CountDownLatch(1);
        l.countDown();
    }

    /** Forward calls that have hung so far. */
    public static int hungCalls() {
        return HUNG_CALLS.get();
    }

    @Override public String name() { return NAME; }
    @Override public boolean usesAccelerator() { return false; }
    @Override public boolean available() { return true; }
    @Override public String unavailableReason() { return ""; }

    @Override
    public Backend open(Checkpoint checkpoint, BackendOptions options) {
        return new FaultyBackend(new CpuBackend(checkpoint, options), ARMED.getAndSet(null));
    }

    private static final class FaultyBackend implements Backend {
        private final Backend delegate;
        private final Fault fault;
        private final AtomicInteger calls = new AtomicInteger();

        FaultyBackend(Backend delegate, Fault fault) {
            this.delegate = delegate;
            this.fault = fault;
        }

        @Override public String name() { return NAME; }
        @Override public ModelConfig config() { return delegate.config(); }
        @Override public int maxSequenceTokens() { return delegate.maxSequenceTokens(); }
        @Override public SequenceCache newSequence(int capacity) { return delegate.newSequence(capacity); }
        @Override public long kvCacheBytes(int capacity) { return delegate.kvCacheBytes(capacity); }
        @Override public void close() { delegate.close(); }

        @Override
        public List<float[]> forward(List<Step> steps) {
            int call = calls.incrementAndGet();
            RECORDED.add(steps.stream().map(s -> new StepShape(s.tokens().length, s.prompt(), s.allLogits())).toList());
            if (fault != null && call >= fault.onCall()) {
                switch (fault.kind()) {
                    case THROW -> throw new IllegalStateException("injected fault at forward call " + call);
                    case ERROR -> throw new OutOfMemoryError("injected Error at forward call " + call);
                    case HANG -> hang();
                }
            }
            return delegate.forward(steps);
        }

        private static void hang() {
            HUNG_CALLS.incrementAndGet();
            CountDownLatch latch = hung;
            boolean interrupted = false;
            while (latch.getCount() > 0) {
                try {
                    latch.await();
                } catch (InterruptedException e) {
                    interrupted = true;       // a stuck kernel does not notice interrupts either
                }
            }
            if (interrupted) Thread.currentThread().interrupt();
            throw new IllegalStateException("a hung forward call was released");
        }
    }
}
