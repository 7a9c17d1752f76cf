package io.sparkglm.backend.cpu;

import io.sparkglm.backend.Backend;
import io.sparkglm.backend.BackendOptions;
import io.sparkglm.backend.BackendProvider;
import io.sparkglm.model.Checkpoint;

/** The embedded default backend: always available. */
public final class CpuBackendProvider implements BackendProvider {
    @Override public String name() { return "cpu"; }
    @Override public boolean available() { return true; }
    @Override public String unavailableReason() { return ""; }
    @Override public Backend open(Checkpoint checkpoint, BackendOptions options) { return new CpuBackend(checkpoint, options); }
}
