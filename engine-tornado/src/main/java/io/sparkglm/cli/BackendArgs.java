package io.sparkglm.cli;

import io.sparkglm.backend.Backend;
import io.sparkglm.backend.BackendOptions;
import io.sparkglm.backend.Backends;
import io.sparkglm.model.Checkpoint;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The options every compute command shares: which model, which backend, how many threads. */
final class BackendArgs {

    @Option(names = {"-m", "--model"}, required = true, description = "A GGUF file or a Hugging Face model folder.")
    Path model;

    @Option(names = "--backend", defaultValue = "cpu", description = "cpu, tornado or auto (default: ${DEFAULT-VALUE}).")
    String backend;

    @Option(names = {"-t", "--threads"}, defaultValue = "0", description = "Compute threads (0 = all cores).")
    int threads;

    @Option(names = "--kv-cache", defaultValue = "f32", description = "KV cache type: f32 or f16 (default: ${DEFAULT-VALUE}).")
    String kvCache;

    @Option(names = "--device", defaultValue = "-1", description = "Accelerator index for the tornado backend (-1 = default).")
    int device;

    Backend open(Checkpoint checkpoint) {
        if (!kvCache.equals("f32") && !kvCache.equals("f16")) {
            throw new IllegalArgumentException("--kv-cache must be f32 or f16, not '" + kvCache + "'");
        }
        return Backends.open(backend, checkpoint, new BackendOptions(threads, kvCache, device));
    }
}
