package io.sparkglm.backend.tornado;

import io.sparkglm.backend.Backend;
import io.sparkglm.backend.BackendOptions;
import io.sparkglm.backend.BackendProvider;
import io.sparkglm.backend.KvCacheType;
import io.sparkglm.generate.DevicePlan;
import io.sparkglm.model.Checkpoint;
import java.util.function.Supplier;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.runtime.TornadoRuntimeProvider;

/**
 * "tornado": the forward pass on a TornadoVM device (OpenCL or PTX). Available when the JVM was started
 * with TornadoVM's flags ({@code java @<argfile>}, see bin/tornado-argfile) and the runtime finds a device.
 *
 * <p>The KV cache is reserved when the backend opens: one slot per sequence the engine keeps live
 * ({@code maxBatch}; {@value #SLOTS_PROPERTY} overrides, default 4 without an engine), each of the engine's
 * context cap in tokens ({@code maxContext}; {@value #CONTEXT_PROPERTY} overrides; default the model's
 * context, at most 4096), in the KV cache type of {@code BackendOptions.kvCacheType} (f32, f16 or q8_0). The
 * engine caps its context at the slot size. A step runs
 * at most {@value #MAX_STEP_TOKENS_PROPERTY} tokens (default 256) per device launch (bigger steps are split;
 * the activation buffers are sized for it), and the logits of at most {@value #LOGIT_ROWS_PROPERTY} tokens
 * (default 16) per logits launch.
 */
public final class TornadoBackendProvider implements BackendProvider {

    public static final String SLOTS_PROPERTY = "glm.tornado.slots";
    public static final String CONTEXT_PROPERTY = "glm.tornado.context";
    public static final String MAX_STEP_TOKENS_PROPERTY = "glm.tornado.maxStepTokens";
    public static final String LOGIT_ROWS_PROPERTY = "glm.tornado.logitRows";

    private static volatile String unavailable;   // null = not checked yet, "" = available

    @Override public String name() { return "tornado"; }

    @Override
    public boolean available() {
        return unavailableReason().isEmpty();
    }

    @Override
    public String unavailableReason() {
        String reason = unavailable;
        if (reason == null) {
            synchronized (TornadoBackendProvider.class) {
                if (unavailable == null) unavailable = probe();
                reason = unavailable;
            }
        }
        return reason;
    }

    /**
     * Starts the TornadoVM runtime once, with this class's loader as the context loader: a first call from a
     * thread whose context loader cannot see TornadoVM's backends (Spark task threads) finds no device and
     * leaves the runtime broken for the whole JVM.
     */
    private static String probe() {
        if (System.getProperty("tornado.load.api.implementation") == null) {
            return "the JVM was not started with TornadoVM's flags: set TORNADOVM_HOME to a TornadoVM SDK and start java with "
                    + "@<argfile> made by bin/tornado-argfile (bin/glm does this for --backend tornado)";
        }
        return withOwnLoader(() -> {
            try {
                int backends = TornadoRuntimeProvider.getTornadoRuntime().getNumBackends();
                if (backends == 0 || TornadoRuntimeProvider.getTornadoRuntime().getDefaultDevice() == null) {
                    return "TornadoVM found no OpenCL/PTX device (check clinfo, or the GPU driver's OpenCL ICD)";
                }
                return "";
            } catch (RuntimeException | Error e) {
                return "TornadoVM failed to start: " + e;
            }
        });
    }

    /**
     * Runs {@code call} with this class's loader as the thread's context loader, restoring the caller's after: every
     * TornadoVM call a task thread may make first (the probe, the device query, building the plan) goes through here.
     */
    private static <T> T withOwnLoader(Supplier<T> call) {
        Thread thread = Thread.currentThread();
        ClassLoader previous = thread.getContextClassLoader();
        thread.setContextClassLoader(TornadoBackendProvider.class.getClassLoader());
        try {
            return call.get();
        } finally {
            thread.setContextClassLoader(previous);
        }
    }

    @Override
    public DeviceInfo device(int index) {
        if (!available()) return null;
        return withOwnLoader(() -> {
            TornadoDevice d = TornadoBackend.device(index);
            long usable = Math.min(d.getMaxGlobalMemory(), TornadoBackend.tornadoMemoryLimit());   // TornadoVM caps a JVM's share
            return new DeviceInfo(d.getPhysicalDevice().getDeviceName(), usable, d.getMaxAllocMemory());
        });
    }

    @Override
    public Backend open(Checkpoint checkpoint, BackendOptions options) {
        String reason = unavailableReason();
        if (!reason.isEmpty()) throw new IllegalStateException("backend 'tornado' cannot run here: " + reason);
        // One KV slot per live sequence, so the engine's batch never finds the device full.
        int slots = Integer.getInteger(SLOTS_PROPERTY, options.maxSequences() > 0 ? options.maxSequences() : 4);
        int context = Integer.getInteger(CONTEXT_PROPERTY, DevicePlan.slotContext(checkpoint.config(), options.maxContext()));
        int maxStepTokens = Integer.getInteger(MAX_STEP_TOKENS_PROPERTY, DevicePlan.DEFAULT_MAX_STEP_TOKENS);
        int logitRows = Integer.getInteger(LOGIT_ROWS_PROPERTY, DevicePlan.DEFAULT_LOGIT_ROWS);
        if (slots < 1 || context < 1 || maxStepTokens < 1 || logitRows < 1) {
            throw new IllegalArgumentException("-D" + SLOTS_PROPERTY + ", -D" + CONTEXT_PROPERTY + ", -D" + MAX_STEP_TOKENS_PROPERTY
                    + " and -D" + LOGIT_ROWS_PROPERTY + " must be positive, got " + slots + ", " + context + ", "
                    + maxStepTokens + " and " + logitRows);
        }
        KvCacheType kvType = KvCacheType.of(options.kvCacheType());     // f32, f16 or q8_0 ("auto" is resolved by the engine)
        return withOwnLoader(() -> new TornadoBackend(checkpoint, kvType, slots, context, maxStepTokens, logitRows, options.device()));
    }
}
