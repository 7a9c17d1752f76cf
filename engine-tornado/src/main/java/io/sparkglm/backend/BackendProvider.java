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
}
