package io.sparkglm.cli;

import io.sparkglm.backend.Backend;
import io.sparkglm.backend.Backend.Step;
import io.sparkglm.backend.SequenceCache;
import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.ModelLoader;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * llama-bench style throughput: prompt processing (pp: N tokens fed in steps of --ubatch, as llama.cpp's n_ubatch),
 * text generation (tg, N single-token steps) and batched decode (B sequences stepping together), on random token
 * ids; with --depth D, each after D tokens already in the cache (llama-bench's -d: the cost of a long context), for
 * each KV cache type of a comma-separated --kv-cache list (side by side, one model load).
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure prompt processing and generation speed (llama-bench style).")
final class BenchCommand implements Callable<Integer> {

    @Spec CommandSpec spec;
    @Mixin BackendArgs backendArgs;

    @Option(names = {"-p", "--prompt-tokens"}, defaultValue = "512", description = "Prompt length for pp (0 = skip; default: ${DEFAULT-VALUE}).")
    int promptTokens;

    @Option(names = {"-n", "--gen-tokens"}, defaultValue = "128", description = "Tokens for tg (0 = skip; default: ${DEFAULT-VALUE}).")
    int genTokens;

    @Option(names = {"-b", "--batch"}, defaultValue = "1", description = "Also measure decode with B sequences together (default: ${DEFAULT-VALUE} = skip).")
    int batch;

    @Option(names = {"-d", "--depth"}, defaultValue = "0", description = "Tokens already in each cache before pp and tg "
            + "are timed (prefilled once, untimed, --ubatch a step; default: ${DEFAULT-VALUE}).")
    int depth;

    @Option(names = "--ubatch", defaultValue = "512", description = "Prompt tokens per forward step for pp and the depth prefill (default: ${DEFAULT-VALUE}).")
    int ubatch;

    @Option(names = {"-r", "--repetitions"}, defaultValue = "3", description = "Timed repetitions after one warm-up (default: ${DEFAULT-VALUE}).")
    int repetitions;

    @Override
    public Integer call() {
        if (repetitions < 1) throw new IllegalArgumentException("--repetitions must be >= 1");
        if (promptTokens < 0 || genTokens < 0 || batch < 1 || depth < 0 || ubatch < 1) {
            throw new IllegalArgumentException("token counts and --depth must be >= 0, --batch and --ubatch >= 1");
        }
        PrintWriter out = spec.commandLine().getOut();
        List<String> kvTypes = List.of(backendArgs.kvCache.split(","));
        for (String kv : kvTypes) BackendArgs.checkedKvCache(kv.strip());
        try (Checkpoint checkpoint = ModelLoader.open(backendArgs.model)) {
            for (String kv : kvTypes) {
                try (Backend backend = backendArgs.open(checkpoint, kv.strip(), batch,
                        Math.min(checkpoint.config().contextLength(), depth + Math.max(promptTokens, genTokens) + 1))) {
                    run(out, checkpoint, backend, kv.strip());
                }
            }
            out.printf("rss %.0f MiB, peak %.0f MiB (weights stay memory-mapped: file pages count once they are touched)%n",
                    procStatusMiB("VmRSS:"), procStatusMiB("VmHWM:"));
        }
        out.flush();
        return 0;
    }

    private void run(PrintWriter out, Checkpoint checkpoint, Backend backend, String kv) {
        int vocab = checkpoint.config().vocabSize();
        out.printf("model %s (%s, %.2f GiB mapped), backend %s, threads %s, kv cache %s%s%n", checkpoint.source().getFileName(),
                describeTypes(checkpoint), checkpoint.fileBytes() / (double) (1L << 30), backend.name(),
                backendArgs.threads == 0 ? "all (" + Runtime.getRuntime().availableProcessors() + ")" : backendArgs.threads,
                kv, depth > 0 ? ", depth " + depth : "");
        SplittableRandom random = new SplittableRandom(1234);
        String at = depth > 0 ? " @ d" + depth : "";
        if (promptTokens > 0) {
            try (Contexts contexts = new Contexts(backend, 1, promptTokens, random, vocab)) {
                if (depth > 0) {                             // the whole-context prefill, once: what a long document costs
                    out.printf("%-32s %10.2f tok/s (once, %.1f s)%n", "prefill d" + depth, depth * 1e9 / contexts.prefillNanos,
                            contexts.prefillNanos / 1e9);
                }
                int[] prompt = random.ints(promptTokens, 0, vocab).toArray();
                report(out, "pp" + promptTokens + at, promptTokens, () -> {
                    contexts.rewind();
                    long start = System.nanoTime();
                    prefill(backend, contexts.caches.getFirst(), prompt);
                    return System.nanoTime() - start;
                });
            }
        }
        if (genTokens > 0) {
            try (Contexts contexts = new Contexts(backend, 1, genTokens, random, vocab)) {
                report(out, "tg" + genTokens + at, genTokens, () -> decode(backend, contexts, genTokens, vocab, random));
            }
        }
        if (genTokens > 0 && batch > 1) {
            try (Contexts contexts = new Contexts(backend, batch, genTokens, random, vocab)) {
                report(out, "tg" + genTokens + at + " x" + batch + " (batched, total)", genTokens * batch,
                        () -> decode(backend, contexts, genTokens, vocab, random));
            }
        }
    }

    /**
     * Sequences with room for {@code depth + tokens}, each prefilled with {@code depth} random tokens once; every
     * timed run rewinds them to the depth (a deep prefill per repetition would cost more than the test).
     */
    private final class Contexts implements AutoCloseable {
        final List<SequenceCache> caches = new ArrayList<>();
        long prefillNanos;                                   // the first sequence's depth prefill

        Contexts(Backend backend, int sequences, int tokens, SplittableRandom random, int vocab) {
            for (int s = 0; s < sequences; s++) {
                SequenceCache cache = backend.newSequence(depth + tokens);
                caches.add(cache);
                if (depth > 0) {
                    int[] ids = random.ints(depth, 0, vocab).toArray();
                    long start = System.nanoTime();
                    prefill(backend, cache, ids);
                    if (s == 0) prefillNanos = System.nanoTime() - start;
                }
            }
        }

        void rewind() {
            for (SequenceCache c : caches) c.truncate(depth);
        }

        @Override
        public void close() {
            caches.forEach(SequenceCache::close);
        }
    }

    /** Feeds prompt tokens in steps of --ubatch. */
    private void prefill(Backend backend, SequenceCache cache, int[] tokens) {
        for (int from = 0; from < tokens.length; from += ubatch) {
            int[] part = java.util.Arrays.copyOfRange(tokens, from, Math.min(tokens.length, from + ubatch));
            backend.forward(List.of(new Step(cache, part, false)));
        }
    }

    /** The sequences, rewound to the depth, each fed one token per step for n steps: the nanoseconds of the steps. */
    private static long decode(Backend backend, Contexts contexts, int n, int vocab, SplittableRandom random) {
        contexts.rewind();
        long start = System.nanoTime();
        for (int i = 0; i < n; i++) {
            List<Step> steps = new ArrayList<>(contexts.caches.size());
            for (SequenceCache c : contexts.caches) steps.add(Step.decode(c, random.nextInt(vocab)));
            backend.forward(steps);
        }
        return System.nanoTime() - start;
    }

    private void report(PrintWriter out, String test, int tokens, java.util.function.LongSupplier timedNanos) {
        timedNanos.getAsLong();                      // warm-up: JIT, page-in of the mapped weights
        double[] rates = new double[repetitions];
        for (int i = 0; i < repetitions; i++) {
            rates[i] = tokens * 1e9 / timedNanos.getAsLong();
        }
        double mean = 0;
        for (double r : rates) mean += r;
        mean /= rates.length;
        double var = 0;
        for (double r : rates) var += (r - mean) * (r - mean);
        double sd = rates.length > 1 ? Math.sqrt(var / (rates.length - 1)) : 0;
        out.printf("%-32s %10.2f ± %.2f tok/s%n", test, mean, sd);
        out.flush();
    }

    private static String describeTypes(Checkpoint checkpoint) {
        return checkpoint.tensor("blk.0.ffn_down.weight").type().toString();
    }

    /** A memory figure of this process from /proc/self/status (VmRSS: now, VmHWM: peak), in MiB; NaN elsewhere. */
    private static double procStatusMiB(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(field)) return Long.parseLong(line.replaceAll("\\D", "")) / 1024.0;
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: no figure
        }
        return Double.NaN;
    }
}
