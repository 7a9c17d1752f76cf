package io.sparkglm.cli;

import io.sparkglm.tokenizer.GlmTokenizer;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.ForkJoinPool;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code glm bench-tokenizer}: MB/s and tokens/s of encode, sequential and parallel, on one document. */
@Command(name = "bench-tokenizer", mixinStandardHelpOptions = true,
        description = "Measure tokenizer throughput (MB/s of UTF-8 text, tokens/s), sequential and parallel.")
final class BenchTokenizerCommand implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Option(names = "--model", required = true, description = "GGUF file, HF folder or bare tokenizer.model")
    Path model;

    @Option(names = "--file", description = "UTF-8 text to encode (default: a generated multilingual document)")
    Path file;

    @Option(names = "--size-mb", defaultValue = "8", description = "size of the generated document (default ${DEFAULT-VALUE})")
    int sizeMb;

    @Option(names = "--threads", description = "threads of the parallel mode (default: available processors)")
    Integer threads;

    @Option(names = "--runs", defaultValue = "5", description = "timed runs per mode, best reported (default ${DEFAULT-VALUE})")
    int runs;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        GlmTokenizer tokenizer = GlmTokenizer.load(model);
        String text = file != null ? Files.readString(file, StandardCharsets.UTF_8) : multilingualDocument(sizeMb << 20);
        long bytes = text.getBytes(StandardCharsets.UTF_8).length;
        int nThreads = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        out.printf("document: %.2f MB UTF-8 (%s), %d chars%n", bytes / 1e6, file != null ? file : "generated multilingual", text.length());

        int[] sequential = tokenizer.encode(text);   // warm-up and reference
        double seq = best(() -> tokenizer.encode(text));
        report(out, "sequential (1 thread)", bytes, sequential.length, seq);
        ForkJoinPool pool = new ForkJoinPool(nThreads);
        try {
            int[] parallel = tokenizer.encodeParallel(text, pool);
            if (!Arrays.equals(sequential, parallel)) throw new IllegalStateException("parallel ids differ from sequential ids");
            double par = best(() -> tokenizer.encodeParallel(text, pool));
            report(out, "parallel (" + nThreads + " threads)", bytes, parallel.length, par);
            out.printf("speed-up: %.2fx; parallel ids identical to sequential%n", seq / par);
        } finally {
            pool.shutdown();
        }
        out.flush();
        return 0;
    }

    private double best(Runnable encode) {
        double best = Double.MAX_VALUE;
        for (int r = 0; r < Math.max(1, runs); r++) {
            long t0 = System.nanoTime();
            encode.run();
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        }
        return best;
    }

    private static void report(PrintWriter out, String mode, long bytes, int tokens, double seconds) {
        out.printf("%-24s %8.2f MB/s %12.0f tokens/s  (%d tokens, best %.3f s)%n",
                mode, bytes / 1e6 / seconds, tokens / seconds, tokens, seconds);
    }

    /** English, Chinese, code, European languages, emoji and numbers, shuffled by a fixed seed. */
    static String multilingualDocument(int chars) {
        String[] paragraphs = {
                "The quick brown fox jumps over the lazy dog. It's 12:45 and the price is $3,141.59 (incl. 20% VAT).\n",
                "GLM-4 是智谱AI推出的新一代预训练模型。在语义、数学、推理、代码和知识等多方面的数据集测评中表现出较高的性能。\n",
                "    def main(argv):\n        print(\"hello, world\", len(argv))  # I'M DONE, DON'T WAIT\n        return 0\n\n",
                "Grüße aus München — naïve café, señor. Привет, мир! Γειά σου κόσμε. こんにちは世界。\n",
                "Spark distributes the documents over executors; each one tokenizes its rows 😀👍🏽 and batches 1234567890 tokens.\n",
                "长文本测试：北京是中华人民共和国的首都，也是全国的政治中心、文化中心。上海是中国最大的城市。\n",
                "In 2024, researchers reported that long-context models can summarize 1,000,000-token inputs; results vary.\n",
        };
        SplittableRandom random = new SplittableRandom(2024);
        StringBuilder sb = new StringBuilder(chars + 256);
        while (sb.length() < chars) sb.append(paragraphs[random.nextInt(paragraphs.length)]);
        sb.setLength(chars);
        return sb.toString();
    }
}
