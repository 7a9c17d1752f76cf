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
 * llama-bench style throughput: prompt processing (pp, one step of N tokens), text generation (tg,
 * N single-token steps) and batched decode (B sequences stepping together), on random token ids; optionally
 * after a context of D tokens already in the cache (--depth, as llama-bench's -d), for each KV cache type of a
 * comma-separated --kv-cache list (side by side, one model load).
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
            + "are timed (prefilled untimed, 512 a step; default: ${DEFAULT-VALUE}).")
    int depth;

    @Option(names = {"-r", "--repetitions"}, defaultValue = "3", description = "Timed repetitions after one warm-up (default: ${DEFAULT-VALUE}).")
    int repetitions;

    @Override
    public Integer call() {
        if (repetitions < 1) throw new IllegalArgumentException("--repetitions must be >= 1");
        if (promptTokens < 0 || genTokens < 0 || batch < 1) throw new IllegalArgumentException("token counts must be >= 0 and --batch >= 1");
        if (depth < 0) throw new IllegalArgumentException("--depth must be >= 0");
        PrintWriter out = spec.commandLine().getOut();
        List<String> kvTypes = List.of(backendArgs.kvCache.split(","));
        for (String kv : kvTypes) BackendArgs.checkedKvCache(kv.strip());
        try (Checkpoint checkpoint = ModelLoader.open(backendArgs.model)) {
            for (String kv : kvTypes) {
                try (Backend backend = backendArgs.open(checkpoint, kv.strip(), batch)) {
                    run(out, checkpoint, backend, kv.strip());
                }
            }
            out.printf("rss %.0f MiB (weights stay memory-mapped: file pages count once they are touched)%n", rssMiB());
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
            report(out, "pp" + promptTokens + at, promptTokens, () -> {
                try (SequenceCache cache = backend.newSequence(depth + promptTokens)) {
                    prefill(backend, cache, depth, vocab, random);
                    long start = System.nanoTime();
                    backend.forward(List.of(new Step(cache, random.ints(promptTokens, 0, vocab).toArray(), false)));
                    return System.nanoTime() - start;
                }
            });
        }
        if (genTokens > 0) {
            report(out, "tg" + genTokens + at, genTokens, () -> decode(backend, 1, genTokens, vocab, random));
        }
        if (genTokens > 0 && batch > 1) {
            report(out, "tg" + genTokens + at + " x" + batch + " (batched, total)", genTokens * batch,
                    () -> decode(backend, batch, genTokens, vocab, random));
        }
    }

    /** {@code tokens} random prompt tokens into the cache, 512 a step (untimed context for --depth). */
    private static void prefill(Backend backend, SequenceCache cache, int tokens, int vocab, SplittableRandom random) {
        for (int done = 0; done < tokens; done += 512) {
            int n = Math.min(512, tokens - done);
            backend.forward(List.of(new Step(cache, random.ints(n, 0, vocab).toArray(), false)));
        }
    }

    /** B sequences, each holding --depth tokens, then fed one token per step for n steps: the nanoseconds of the steps. */
    private long decode(Backend backend, int sequences, int n, int vocab, SplittableRandom random) {
        List<SequenceCache> caches = new ArrayList<>();
        try {
            for (int s = 0; s < sequences; s++) {
                SequenceCache c = backend.newSequence(depth + n);
                caches.add(c);
                prefill(backend, c, depth, vocab, random);
            }
            long start = System.nanoTime();
            for (int i = 0; i < n; i++) {
                List<Step> steps = new ArrayList<>(sequences);
                for (SequenceCache c : caches) steps.add(Step.decode(c, random.nextInt(vocab)));
                backend.forward(steps);
            }
            return System.nanoTime() - start;
        } finally {
            caches.forEach(SequenceCache::close);
        }
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

    private static double rssMiB() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("\\D", "")) / 1024.0;
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: no figure
        }
        return Double.NaN;
    }
}
