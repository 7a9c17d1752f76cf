package io.sparkglm.cli;

import io.sparkglm.backend.Backend;
import io.sparkglm.backend.BackendOptions;
import io.sparkglm.backend.Backends;
import io.sparkglm.backend.KvCacheType;
import io.sparkglm.generate.Engine;
import io.sparkglm.generate.EngineOptions;
import io.sparkglm.model.Checkpoint;
import java.nio.file.Path;
import java.util.Locale;
import picocli.CommandLine.Option;

/** The options every compute command shares: which model, which backend, how many threads. */
final class BackendArgs {

    @Option(names = {"-m", "--model"}, required = true, description = "A GGUF file or a Hugging Face model folder.")
    Path model;

    @Option(names = "--backend", defaultValue = "cpu", description = "cpu, tornado or auto (default: ${DEFAULT-VALUE}).")
    String backend;

    @Option(names = {"-t", "--threads"}, defaultValue = "0", description = "Compute threads (0 = all cores).")
    int threads;

    @Option(names = "--kv-cache", defaultValue = "f32", description = "KV cache type: f32, f16, q8_0 (ggml blocks: 34 "
            + "bytes per 32 values) or auto (the smallest-error type whose cache for the whole context fits the memory "
            + "left for KV caches) (default: ${DEFAULT-VALUE}).")
    String kvCache;

    @Option(names = "--device", defaultValue = "-1", description = "Accelerator index for the tornado backend (-1 = default).")
    int device;

    /** --kv-cache, checked: "f32", "f16", "q8_0" or "auto". */
    String kvCacheOption() {
        return checkedKvCache(kvCache);
    }

    static String checkedKvCache(String value) {
        if (!KvCacheType.isValidOption(value)) {
            throw new IllegalArgumentException("--kv-cache must be " + KvCacheType.ALLOWED + ", not '" + value + "'");
        }
        return value.toLowerCase(Locale.ROOT);
    }

    Backend open(Checkpoint checkpoint) {
        return open(checkpoint, kvCacheOption(), 1, 0);
    }

    /**
     * A backend with the given cache type; "auto" is resolved as an engine of {@code sequences} sequences would
     * resolve it (and the choice printed to stderr). {@code contextTokens} (0 = the backend's default) is the longest
     * sequence the caller will run: a backend that reserves its cache up front (tornado) sizes its slots by it.
     */
    Backend open(Checkpoint checkpoint, String kvCacheType, int sequences, int contextTokens) {
        String type = checkedKvCache(kvCacheType);
        if (type.equals(KvCacheType.AUTO)) {
            Engine.KvCacheChoice choice = Engine.chooseKvCache(EngineOptions.defaults(model).withBackend(backend)
                    .withKvCacheType(type).withMaxBatch(sequences), checkpoint);
            System.err.println("glm: KV cache " + choice.type() + " (" + choice.reason() + ")");
            type = choice.type();
        }
        return Backends.open(backend, checkpoint, new BackendOptions(threads, type, device, sequences, contextTokens));
    }
}
