package io.sparkglm.cli;

import io.sparkglm.backend.KvCacheType;
import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.GgmlType;
import io.sparkglm.model.HfConfig;
import io.sparkglm.model.MemoryEstimate;
import io.sparkglm.model.ModelConfig;
import io.sparkglm.model.ModelLoader;
import io.sparkglm.model.WeightTensor;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code glm info}: a model's config, tensor types, parameter count, file size, and the memory a context
 * needs (weights + KV cache). A Hugging Face folder holding only config.json is enough for the config and
 * the KV-cache figures (useful for models too large to download here).
 */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Show a model's config, tensors, size and the memory a context needs.")
final class InfoCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, description = "A .gguf file or a Hugging Face folder (config.json + safetensors).")
    Path model;

    @Option(names = "--context", description = "Context length to size the KV cache for (default: the model's trained context).")
    Long context;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (Files.isDirectory(model) && Files.isRegularFile(model.resolve("config.json")) && !hasWeights(model)) {
            ModelConfig c = HfConfig.read(model.resolve("config.json"));
            out.println("model:        " + model + " (config.json only, no weights)");
            printConfig(out, c);
            printMemory(out, c, MemoryEstimate.of(c, 0), false);
            return 0;
        }
        try (Checkpoint checkpoint = ModelLoader.open(model)) {
            ModelConfig c = checkpoint.config();
            out.println("model:        " + model + " (" + (Files.isDirectory(model) ? "Hugging Face folder" : "GGUF") + ", "
                    + MemoryEstimate.human(checkpoint.fileBytes()) + ", " + checkpoint.fileBytes() + " bytes)");
            printConfig(out, c);
            Map<GgmlType, Integer> perType = new TreeMap<>();
            long parameters = 0, weightBytes = 0;
            for (WeightTensor t : checkpoint.tensors().values()) {
                perType.merge(t.type(), 1, Integer::sum);
                parameters += t.elementCount();
                weightBytes += t.data().byteSize();
            }
            StringBuilder types = new StringBuilder();
            perType.forEach((type, n) -> types.append(types.isEmpty() ? "" : ", ").append(type).append(" x").append(n));
            out.println("tensors:      " + checkpoint.tensors().size() + " (" + types + ")");
            out.printf(Locale.ROOT, "parameters:   %,d%n", parameters);
            printMemory(out, c, MemoryEstimate.of(c, weightBytes), true);
            return 0;
        }
    }

    private static boolean hasWeights(Path folder) throws java.io.IOException {
        try (Stream<Path> files = Files.list(folder)) {
            return files.anyMatch(p -> p.getFileName().toString().endsWith(".safetensors")
                    || p.getFileName().toString().equals("model.safetensors.index.json"));
        }
    }

    private static void printConfig(PrintWriter out, ModelConfig c) {
        out.println("architecture: " + c.architecture());
        out.printf(Locale.ROOT, "config:       layers %d, hidden %d, ffn %d, heads %d, kv heads %d, head dim %d, "
                        + "rope dims %d, rope base %.6g, context %d, vocab %d, rms eps %.6g, qkv bias %s%n",
                c.layers(), c.hidden(), c.ffnHidden(), c.heads(), c.kvHeads(), c.headDim(), c.ropeDims(), c.ropeBase(),
                c.contextLength(), c.vocabSize(), c.rmsEps(), c.qkvBias());
    }

    private void printMemory(PrintWriter out, ModelConfig c, MemoryEstimate m, boolean haveWeights) {
        long n = context != null ? context : c.contextLength();
        if (n < 0) throw new IllegalArgumentException("--context must not be negative: " + n);
        // q8_0: 34 bytes per 32 values (ggml blocks), where the KV width is whole blocks (ADR 0011)
        long q8 = c.kvDim() % KvCacheType.Q8_0_BLOCK == 0 ? (long) c.layers() * 2 * KvCacheType.Q8_0.rowBytes(c.kvDim()) : 0;
        if (haveWeights) out.println("weights:      " + MemoryEstimate.human(m.weightBytes()) + " (" + m.weightBytes() + " bytes)");
        out.println("KV cache:     f16/bf16 " + MemoryEstimate.human(m.kvBytesPerTokenF16()) + " per token ("
                + m.kvBytesPerTokenF16() + " bytes), f32 " + MemoryEstimate.human(m.kvBytesPerTokenF32()) + " per token ("
                + m.kvBytesPerTokenF32() + " bytes)" + (q8 > 0 ? ", q8_0 " + MemoryEstimate.human(q8) + " per token (" + q8
                + " bytes)" : ""));
        String what = haveWeights ? "weights + KV" : "KV only";
        out.printf(Locale.ROOT, "context %d:   %s = %s with an f16 KV cache, %s with an f32 KV cache%s%n", n, what,
                MemoryEstimate.human(m.totalF16(n)), MemoryEstimate.human(m.totalF32(n)),
                q8 > 0 ? ", " + MemoryEstimate.human(m.totalF16(n) - m.kvBytesPerTokenF16() * n + q8 * n) + " with a q8_0 KV cache" : "");
    }
}
