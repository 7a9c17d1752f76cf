package io.sparkglm.cli;

import io.sparkglm.generate.DevicePlan;
import io.sparkglm.generate.MemoryPlan;
import io.sparkglm.generate.MemoryPlan.Budget;
import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.GgmlType;
import io.sparkglm.model.HfConfig;
import io.sparkglm.backend.BackendProvider;
import io.sparkglm.backend.Backends;
import io.sparkglm.backend.KvCacheType;
import io.sparkglm.model.MemoryEstimate;
import io.sparkglm.model.ModelConfig;
import io.sparkglm.model.ModelLoader;
import io.sparkglm.model.ModelTensors;
import io.sparkglm.model.WeightTensor;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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
 * {@code glm info}: a model's config, tensor types, parameter count, file size, and a memory plan: what the CPU engine
 * needs for a context and batch (weights, KV cache, activations, scratch), whether that fits a memory, the longest
 * context that does, and a table of where the context fits (CPU executors of 24, 64 and 128 GiB, GPUs of 80 and
 * 141 GiB) for each KV cache type. A Hugging Face folder holding only config.json is enough: the weights are then
 * estimated from the config's parameter count and torch_dtype (or --weights-type).
 */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Show a model's config, tensors, size and a memory plan for a context.")
final class InfoCommand implements Callable<Integer> {

    static final long GIB = 1L << 30;
    /** The places the table answers for: CPU executors and GPUs (nominal memory). */
    static final List<Place> PLACES = List.of(new Place("CPU 24 GiB", 24 * GIB, false),
            new Place("CPU 64 GiB", 64 * GIB, false), new Place("CPU 128 GiB", 128 * GIB, false),
            new Place("GPU 80 GiB", 80 * GIB, true), new Place("GPU 141 GiB", 141 * GIB, true));

    record Place(String name, long bytes, boolean gpu) {}

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true,
            description = "A .gguf file or a Hugging Face folder (config.json + safetensors, or config.json alone).")
    Path model;

    @Option(names = "--context", description = "Tokens per sequence to plan for (default: the model's trained context).")
    Integer context;

    @Option(names = "--batch", defaultValue = "1", description = "Sequences held at once (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--kv-cache", defaultValue = "f32",
            description = "KV cache type: f32, f16 or q8_0 (default: ${DEFAULT-VALUE}, as the engine).")
    String kvCache;

    @Option(names = "--memory", converter = ByteSize.class,
            description = "Memory to plan for, e.g. 20g, 512m (default: what this JVM may use: the machine's memory, "
                    + "its heap limit for the heap parts).")
    Long memory;

    @Option(names = "--prefill-chunk", defaultValue = "512",
            description = "Prompt tokens per forward step, 0 = whole prompts (default: ${DEFAULT-VALUE}, as the engine).")
    int prefillChunk;

    @Option(names = {"-t", "--threads"}, defaultValue = "0", description = "Compute threads (0 = this machine's cores).")
    int threads;

    @Option(names = "--backend", defaultValue = "cpu",
            description = "Plan for the cpu engine or the tornado backend's GPU device (default: ${DEFAULT-VALUE}).")
    String backend;

    @Option(names = "--device", defaultValue = "-1",
            description = "With --backend tornado: the device index to ask for its memory (default: TornadoVM's default).")
    int device;

    @Option(names = "--weights-type",
            description = "For a folder with config.json only: the type to estimate the weights in: q8_0, q5_1, q5_0, "
                    + "q4_0, bf16, f16 or f32 (default: the config's torch_dtype).")
    String weightsType;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        KvCacheType kv = KvCacheType.of(kvCache);
        if (batch < 1) throw new IllegalArgumentException("--batch must be at least 1: " + batch);
        if (prefillChunk < 0) throw new IllegalArgumentException("--prefill-chunk must be >= 0: " + prefillChunk);
        if (threads < 0) throw new IllegalArgumentException("--threads must be >= 0: " + threads);
        if (Files.isDirectory(model) && Files.isRegularFile(model.resolve("config.json")) && !hasWeights(model)) {
            Path configJson = model.resolve("config.json");
            ModelConfig c = HfConfig.read(configJson);
            GgmlType type = weightsType != null ? weightsType(weightsType) : HfConfig.torchDtype(configJson);
            String how = weightsType != null ? "--weights-type" : "the config's torch_dtype";
            if (type == null) {
                throw new IllegalArgumentException("config.json names no torch_dtype (bfloat16, float16, float32): "
                        + "give --weights-type q8_0|q5_1|q5_0|q4_0|bf16|f16|f32 to estimate the weights");
            }
            long bytes = MemoryEstimate.estimatedWeightBytes(c, type);
            out.println("model:        " + model + " (config.json only, no weights)");
            printConfig(out, c);
            out.printf(Locale.ROOT, "parameters:   %,d (from the config)%n", MemoryEstimate.parameters(c));
            out.printf(Locale.ROOT, "weights:      %s (%,d bytes), estimated: %s matrices (%s)%n",
                    MemoryEstimate.human(bytes), bytes, type.name().toLowerCase(Locale.ROOT), how);
            printPlan(out, c, bytes, type, kv);
            return 0;
        }
        if (weightsType != null) throw new IllegalArgumentException("--weights-type is for a folder with config.json only");
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
            out.printf(Locale.ROOT, "weights:      %s (%,d bytes)%n", MemoryEstimate.human(weightBytes), weightBytes);
            printPlan(out, c, weightBytes, layerMatrixType(checkpoint), kv);
            return 0;
        }
    }

    static GgmlType weightsType(String name) {
        return switch (name.strip().toLowerCase(Locale.ROOT)) {
            case "q8_0" -> GgmlType.Q8_0;
            case "q5_1" -> GgmlType.Q5_1;
            case "q5_0" -> GgmlType.Q5_0;
            case "q4_0" -> GgmlType.Q4_0;
            case "bf16" -> GgmlType.BF16;
            case "f16" -> GgmlType.F16;
            case "f32" -> GgmlType.F32;
            default -> throw new IllegalArgumentException("--weights-type must be q8_0, q5_1, q5_0, q4_0, bf16, f16 or f32, not '"
                    + name + "'");
        };
    }

    /** The layers' matrix type whose prepared inputs take the most heap (Q8_0 > K-quants > Q5_1 > float types). */
    private static GgmlType layerMatrixType(Checkpoint checkpoint) {
        ModelTensors.Layer l = ModelTensors.of(checkpoint).layers().getFirst();
        GgmlType best = null;
        for (WeightTensor t : Stream.of(l.qkv(), List.of(l.attnOutput(), l.ffnGateUp(), l.ffnDown())).flatMap(List::stream).toList()) {
            if (best == null || rank(t.type()) > rank(best)) best = t.type();
        }
        return best;
    }

    private static int rank(GgmlType t) {
        return switch (MemoryPlan.activationFormat(t)) {
            case Q8_0 -> 3;
            case Q8_K -> 2;
            case Q8_1 -> 1;
            default -> 0;
        };
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

    private void printPlan(PrintWriter out, ModelConfig c, long weightBytes, GgmlType weightType, KvCacheType kv) {
        int n = context != null ? context : c.contextLength();
        if (n < 1) throw new IllegalArgumentException("--context must be at least 1: " + n);
        if (n > c.contextLength()) {
            throw new IllegalArgumentException("--context " + n + " is more than the model's context " + c.contextLength());
        }
        int nThreads = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        StringBuilder perToken = new StringBuilder();
        for (KvCacheType t : KvCacheType.values()) {
            long b = t.bytesPerToken(c);
            perToken.append(perToken.isEmpty() ? "" : ", ").append(t.id()).append(' ').append(MemoryEstimate.human(b))
                    .append(" per token (").append(b).append(" bytes)");
        }
        out.println("KV cache:     " + perToken);

        if (backend.equals("tornado")) {
            printDevicePlan(out, c, weightBytes, kv, n);
        } else if (!backend.equals("cpu")) {
            throw new IllegalArgumentException("--backend must be cpu or tornado, not '" + backend + "'");
        } else {
            printCpuPlan(out, c, weightBytes, weightType, kv, n, nThreads);
        }
        printTable(out, c, weightBytes, weightType, n, nThreads);
    }

    private void printDevicePlan(PrintWriter out, ModelConfig c, long weightBytes, KvCacheType kv, int n) {
        long deviceBytes;
        String deviceName;
        if (memory != null) {
            deviceBytes = memory;
            deviceName = "a device of " + MemoryEstimate.human(memory) + " (--memory)";
        } else {
            BackendProvider.DeviceInfo d = Backends.device("tornado", device);
            if (d == null) {
                throw new IllegalArgumentException("no TornadoVM device here to ask for its memory: give --memory (e.g. 141g "
                        + "for an H200, 80g for an H100) to plan for a GPU of that size");
            }
            deviceBytes = d.memoryBytes();
            deviceName = d.name() + " (" + MemoryEstimate.human(deviceBytes) + ")";
        }
        DevicePlan plan = DevicePlan.of(c, weightBytes, kv, batch, n);
        out.printf(Locale.ROOT, "memory plan:  tornado backend, %,d tokens x %d sequence%s, %s KV cache, %d-token steps%n",
                n, batch, batch == 1 ? "" : "s", kv.id(), DevicePlan.DEFAULT_MAX_STEP_TOKENS);
        row(out, "weights", plan.weights(), "as stored (16-bit words, Q8_0 and K-quant blocks)");
        row(out, "KV cache", plan.kvCache(), String.format(Locale.ROOT, "%s per token x %,d tokens x %d; %d arrays of %s",
                MemoryEstimate.human(kv.bytesPerToken(c)), n, batch, 2 * c.layers(), MemoryEstimate.human(plan.largestKvArray())));
        row(out, "RoPE angles", plan.ropeTable(), String.format(Locale.ROOT, "cos and sin of %d angles per token of a %d-token "
                + "step, made per step on the host", c.ropeDims() / 2, DevicePlan.DEFAULT_MAX_STEP_TOKENS));
        row(out, "step buffers", plan.stepBuffers(), String.format(Locale.ROOT, "activations of %d tokens, %d attention "
                + "spans per token and head, %d logits rows: the same at any context", DevicePlan.DEFAULT_MAX_STEP_TOKENS,
                DevicePlan.ATTENTION_SPLITS, DevicePlan.DEFAULT_LOGIT_ROWS));
        row(out, "total", plan.total(), "on the device; the host holds a copy of the same arrays (TornadoVM mirrors each)");
        out.println("device:       " + deviceName);
        String problem = plan.problem(deviceBytes, "the device", c, kv, batch, n);
        out.println("fits:         " + (problem == null ? "yes" : "no: " + problem));
        int longest = DevicePlan.largestContext(c, weightBytes, kv, batch, deviceBytes);
        out.printf(Locale.ROOT, "largest context that fits: %,d tokens per sequence (batch %d)%s%n", longest, batch,
                longest == c.contextLength() ? ", the model's whole context" : "");
        int most = DevicePlan.largestBatch(c, weightBytes, kv, n, deviceBytes);
        out.printf(Locale.ROOT, "largest batch that fits:   %d sequence%s of %,d tokens%n", most, most == 1 ? "" : "s", n);
    }

    private void printCpuPlan(PrintWriter out, ModelConfig c, long weightBytes, GgmlType weightType, KvCacheType kv, int n,
                              int nThreads) {
        MemoryPlan plan = MemoryPlan.of(c, weightBytes, weightType, kv, n, batch, prefillChunk, nThreads);
        Budget budget = memory != null ? Budget.of(memory, "--memory") : Budget.thisJvm();
        out.printf(Locale.ROOT, "memory plan:  CPU engine, %,d tokens x %d sequence%s, %s KV cache, prefill chunk %s, %d threads%n",
                n, batch, batch == 1 ? "" : "s", kv.id(), prefillChunk == 0 ? "0 (whole prompts)" : String.valueOf(prefillChunk), nThreads);
        row(out, "weights", plan.weights(), "memory-mapped, resident as read");
        row(out, "KV cache", plan.kvCache(), String.format(Locale.ROOT, "off-heap: %s per token x %,d tokens (whole pages) x %d",
                MemoryEstimate.human(plan.kvBytesPerToken()), n, batch));
        row(out, "activations", plan.activations(), String.format(Locale.ROOT, "heap: the arrays of one %,d-token step%s",
                plan.stepTokens(), prefillChunk == 0 ? " (whole prompts: grows with the prompt)" : ""));
        row(out, "scratch", plan.scratch(), String.format(Locale.ROOT, "heap: %s per compute thread x %d (the same at any context)",
                MemoryEstimate.human(plan.scratchPerThread()), nThreads));
        row(out, "headroom", plan.headroom(), "thread stacks, native buffers, code");
        row(out, "total", plan.total(), "the heap parts are live data: give -Xmx some room above "
                + MemoryEstimate.human(plan.heap()));
        out.println("memory:       " + MemoryEstimate.human(budget.bytes()) + " (" + budget.bytes() + " bytes), "
                + (memory != null ? "from --memory; the heap sized to the plan" : budget.source()));
        String problem = plan.problem(budget);
        out.println("fits:         " + (problem == null ? "yes" : "no: " + problem));
        int largest = plan.largestContext(budget, weightType);
        out.printf(Locale.ROOT, "largest context that fits: %,d tokens per sequence (batch %d)%s%n", largest, batch,
                largest == c.contextLength() ? ", the model's whole context" : "");
    }

    private void printTable(PrintWriter out, ModelConfig c, long weightBytes, GgmlType weightType, int n, int nThreads) {
        out.printf(Locale.ROOT, "where %,d tokens x %d fit (weights %s; yes = the whole context fits, else the longest that does):%n",
                n, batch, MemoryEstimate.human(weightBytes));
        StringBuilder header = new StringBuilder(String.format(Locale.ROOT, "  %-13s", "memory"));
        for (KvCacheType t : KvCacheType.values()) header.append(String.format(Locale.ROOT, "%-22s", t.id() + " KV cache"));
        out.println(header.toString().stripTrailing());
        for (Place place : PLACES) {
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "  %-13s", place.name()));
            for (KvCacheType t : KvCacheType.values()) {
                boolean fits;
                int most;
                if (place.gpu()) {
                    fits = DevicePlan.of(c, weightBytes, t, batch, n).fits(place.bytes());
                    most = DevicePlan.largestContext(c, weightBytes, t, batch, place.bytes());
                } else {
                    MemoryPlan p = MemoryPlan.of(c, weightBytes, weightType, t, n, batch, prefillChunk, nThreads);
                    Budget b = Budget.of(place.bytes(), place.name());
                    fits = p.fits(b);
                    most = p.largestContext(b, weightType);
                }
                line.append(String.format(Locale.ROOT, "%-22s", fits ? "yes" : String.format(Locale.ROOT, "no, %,d", most)));
            }
            out.println(line.toString().stripTrailing());
        }
        out.println("  CPU: the cpu engine's plan with this chunk and threads, the heap sized to it. GPU: the tornado");
        out.println("  backend's device plan (256-token steps, weights as stored, the KV cache in the column's type).");
    }

    private static void row(PrintWriter out, String what, long bytes, String note) {
        out.printf(Locale.ROOT, "  %-12s %11s  %s%n", what, MemoryEstimate.human(bytes), note);
    }
}
