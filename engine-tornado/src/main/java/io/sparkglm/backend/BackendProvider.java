package io.sparkglm.backend;

import io.sparkglm.model.Checkpoint;

/**
 * Opens a backend by name. Implementations are found through {@link java.util.ServiceLoader}, so a
 * backend whose runtime is absent (TornadoVM) simply is not listed.
 */
public interface BackendProvider {

    String name();

    /** Whether this backend runs on an accelerator, so that backend "auto" may choose it over the CPU. */
    default boolean usesAccelerator() {
        return !name().equals("cpu");
    }

    /** Whether this backend can run here (its runtime and a device are present). */
    boolean available();

    /** Why {@link #available()} is false, as one sentence a user can act on. */
    String unavailableReason();

    Backend open(Checkpoint checkpoint, BackendOptions options);

    /**
     * The device this backend would run on ({@code device} as in {@link BackendOptions#device()}): its name and
     * memory, for planning; null when the backend has no device of its own (the CPU) or none is reachable here.
     */
    default DeviceInfo device(int device) {
        return null;
    }

    /**
     * A device's name, the memory this JVM may use on it (the device's global memory, or less where the runtime caps
     * it) and its largest single buffer (0 = no limit known), in bytes.
     */
    record DeviceInfo(String name, long memoryBytes, long maxBufferBytes) {}
}
