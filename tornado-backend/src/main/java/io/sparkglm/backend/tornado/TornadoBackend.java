package io.sparkglm.backend.tornado;

import io.sparkglm.backend.Backend;
import io.sparkglm.backend.KvCacheType;
import io.sparkglm.backend.SequenceCache;
import io.sparkglm.backend.tornado.DeviceWeights.DeviceMatrix;
import io.sparkglm.generate.DevicePlan;
import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.MemoryEstimate;
import io.sparkglm.model.ModelConfig;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.ImmutableTaskGraph;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.WorkerGrid;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.WorkerGrid2D;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.types.arrays.ByteArray;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;
import uk.ac.manchester.tornado.api.types.arrays.ShortArray;

/**
 * The GLM-4 forward pass on a TornadoVM device, all tokens of a step at once.
 *
 * <p>One execution plan holds {@code layers + 2} task graphs: the embedding lookup, one graph per layer,
 * and the final norm with the logits. Weights are copied to the device on the first execution and stay
 * there; the hidden states, scratch activations and the KV cache live on the device between graphs
 * ({@code persistOnDevice} / {@code consumeFromDevice}).
 *
 * <p>A step's tokens (prompt chunks of some sequences, one token of each decoding one) are flattened into
 * one block of T tokens, {@code maxStepTokens} at most per device launch (bigger steps are split): each
 * weight matrix is then read once per tile of {@link Kernels#TILE} tokens rather than once per token. Per
 * launch only the step array {@code [T, (token, position, cacheBase) per token]} goes in and the grids are
 * sized to T. The logits graph runs only when some token wants logits, over at most {@code logitRows} of
 * them per run (their rows gathered first), and only those rows come back.
 *
 * <p>The KV cache is allocated once for {@code slots} sequences of up to {@code slotContext} tokens each
 * (the plan's arrays are fixed when it is built), in f32, f16 or q8_0 ({@link AttentionKernels}); a sequence
 * takes a free slot and gives it back on close. Attention runs per (token, KV group, span of keys) and a merge
 * per (token, head), through a partials buffer of {@code [maxStepTokens, heads, 16, headDim + 2]} floats that
 * does not grow with the context.
 * A token's arithmetic does not depend on the other tokens of its step, so a sequence gets the same logits
 * alone or in a batch, whole or in chunks.
 */
public final class TornadoBackend implements Backend {

    private final ModelConfig config;
    private final DeviceWeights weights;
    private final int slots;
    private final int slotContext;
    private final int maxStepTokens;
    private final int logitRows;
    private final boolean[] slotTaken;
    private final TornadoExecutionPlan plan;
    private final GridScheduler grid = new GridScheduler();
    private final int graphs;
    private final String deviceName;

    // Per-launch inputs, the activations that stay on the device ([maxStepTokens, dim] blocks), and the grids
    // whose sizes follow the launch's token count (layers) or logits row count (logits graph).
    private final IntArray step;
    private final IntArray logitRowList;
    private final FloatArray hidden, normed, quants, scales, qkv, context, ffnAct, logits;
    private final FloatArray rope;
    // The KV cache: per layer one array for K and one for V, of the plan's KV type (the other types' arrays
    // are one-element placeholders the kernels never touch); attention's per-span partial softmaxes.
    private final KvCacheType kvType;
    private final FloatArray[] keyF32, valueF32;
    private final ShortArray[] keyF16, valueF16;
    private final ByteArray[] keyQ8, valueQ8;
    // One placeholder per parameter: TornadoVM's graph compiler never finished scheduling a task that had one
    // object in two parameters it writes (it looped in scheduleAndEmitTornadoVMBytecodes).
    private final FloatArray noKeyF32 = new FloatArray(1), noValueF32 = new FloatArray(1);
    private final ShortArray noKeyF16 = new ShortArray(1), noValueF16 = new ShortArray(1);
    private final ByteArray noKeyQ8 = new ByteArray(1), noValueQ8 = new ByteArray(1);
    private final FloatArray partials;
    private final KernelContext kernelContext = new KernelContext();
    private final List<SizedGrid> tokenGrids = new ArrayList<>();
    private final List<SizedGrid> logitGrids = new ArrayList<>();

    TornadoBackend(Checkpoint checkpoint, KvCacheType kvType, int slots, int slotContext, int maxStepTokens, int logitRows,
                   int deviceIndex) {
        this.config = checkpoint.config();
        ModelConfig c = config;
        if (c.headDim() > Kernels.MAX_HEAD_DIM) {
            throw new IllegalArgumentException("head dim " + c.headDim() + " exceeds the attention kernel's "
                    + Kernels.MAX_HEAD_DIM);
        }
        int rowsPerGroup = c.heads() / c.kvHeads();
        if (rowsPerGroup > AttentionKernels.MAX_GROUP_ROWS || rowsPerGroup * c.headDim() > AttentionKernels.MAX_GROUP_FLOATS) {
            throw new IllegalArgumentException(rowsPerGroup + " query heads of " + c.headDim() + " dims per KV group exceed the "
                    + "attention kernel's local tiles (at most " + AttentionKernels.MAX_GROUP_ROWS + " heads and "
                    + AttentionKernels.MAX_GROUP_FLOATS + " floats per group)");
        }
        if (kvType == KvCacheType.Q8_0 && c.kvDim() % Kernels.Q8_BLOCK != 0) {
            throw new IllegalArgumentException("a q8_0 KV cache needs kvDim to be a multiple of 32, got " + c.kvDim());
        }
        if (c.hidden() % Kernels.Q8_BLOCK != 0 || c.qDim() % Kernels.Q8_BLOCK != 0 || c.ffnHidden() % Kernels.Q8_BLOCK != 0) {
            throw new IllegalArgumentException("the tornado backend needs hidden, heads*headDim and ffn to be multiples of 32");
        }
        if (maxStepTokens < 1 || logitRows < 1) {
            throw new IllegalArgumentException("maxStepTokens and logitRows must be positive, got " + maxStepTokens + " and " + logitRows);
        }
        this.slots = slots;
        this.kvType = kvType;
        this.slotContext = slotContext;
        this.maxStepTokens = maxStepTokens;
        this.logitRows = Math.min(logitRows, maxStepTokens);
        this.slotTaken = new boolean[slots];
        this.weights = DeviceWeights.from(checkpoint);

        TornadoDevice device = deviceIndex >= 0 ? TornadoExecutionPlan.getDevice(0, deviceIndex)
                                                : TornadoExecutionPlan.DEFAULT_DEVICE;
        requireFits(device, DevicePlan.of(c, weights.bytes(), kvType, slots, slotContext, maxStepTokens, this.logitRows),
                kvType, weights.largestArrayBytes());
        this.deviceName = device.getPhysicalDevice().getDeviceName();

        int m = maxStepTokens;
        int widest = Math.max(c.hidden(), Math.max(c.qDim(), c.ffnHidden()));
        step = new IntArray(1 + m * Kernels.STEP_FIELDS);
        logitRowList = new IntArray(1 + this.logitRows);
        hidden = new FloatArray(m * c.hidden());
        normed = new FloatArray(m * c.hidden());
        quants = new FloatArray(m * widest);
        scales = new FloatArray(m * widest / Kernels.Q8_BLOCK);
        qkv = new FloatArray(m * c.qkvDim());
        context = new FloatArray(m * c.qDim());
        ffnAct = new FloatArray(m * c.ffnHidden());
        logits = new FloatArray(this.logitRows * c.vocabSize());
        rope = RopeTable.of(slotContext, c.ropeDims(), c.ropeBase()).table();
        partials = new FloatArray(m * AttentionKernels.partialFloatsPerToken(c.heads(), c.headDim()));
        int layers = c.layers();
        keyF32 = new FloatArray[layers];
        valueF32 = new FloatArray[layers];
        keyF16 = new ShortArray[layers];
        valueF16 = new ShortArray[layers];
        keyQ8 = new ByteArray[layers];
        valueQ8 = new ByteArray[layers];
        int cacheRows = slots * slotContext;          // DevicePlan checked that each array's units fit an int
        for (int l = 0; l < layers; l++) {
            keyF32[l] = kvType == KvCacheType.F32 ? new FloatArray(cacheRows * c.kvDim()) : noKeyF32;
            valueF32[l] = kvType == KvCacheType.F32 ? new FloatArray(cacheRows * c.kvDim()) : noValueF32;
            keyF16[l] = kvType == KvCacheType.F16 ? new ShortArray(cacheRows * c.kvDim()) : noKeyF16;
            valueF16[l] = kvType == KvCacheType.F16 ? new ShortArray(cacheRows * c.kvDim()) : noValueF16;
            keyQ8[l] = kvType == KvCacheType.Q8_0 ? new ByteArray((int) (cacheRows * kvType.rowBytes(c.kvDim()))) : noKeyQ8;
            valueQ8[l] = kvType == KvCacheType.Q8_0 ? new ByteArray((int) (cacheRows * kvType.rowBytes(c.kvDim()))) : noValueQ8;
        }

        List<ImmutableTaskGraph> all = new ArrayList<>();
        all.add(embeddingGraph().snapshot());
        for (int l = 0; l < c.layers(); l++) all.add(layerGraph(l).snapshot());
        all.add(logitsGraph().snapshot());
        this.graphs = all.size();
        this.plan = new TornadoExecutionPlan(all.toArray(ImmutableTaskGraph[]::new));
        plan.withDevice(device).withGridScheduler(grid);
    }

    // ---------------------------------------------------------------- the plan

    /**
     * TornadoVM hands device buffers from one task graph to the next one executed: an object a graph
     * consumes must be on the device in the graph run just before it. So every shared activation, once
     * introduced (copied in on the first execution by the first graph whose tasks use it), is consumed and
     * persisted by every later graph, used there or not.
     */
    private final List<Object> carried = new ArrayList<>();

    private TaskGraph chained(String name, Object... used) {
        TaskGraph g = new TaskGraph(name);
        if (!carried.isEmpty()) g.consumeFromDevice(carried.toArray());
        List<Object> fresh = new ArrayList<>();
        for (Object o : used) {
            if (carried.stream().noneMatch(c -> c == o)) fresh.add(o);
        }
        if (!fresh.isEmpty()) g.transferToDevice(DataTransferMode.FIRST_EXECUTION, fresh.toArray());
        carried.addAll(fresh);
        return g;
    }

    private TaskGraph persistCarried(TaskGraph g) {
        return g.persistOnDevice(carried.toArray());
    }

    private Object[] layerActivations(boolean quantized) {
        List<Object> used = new ArrayList<>(List.of(kernelContext, step, hidden, normed, qkv, rope, context, ffnAct, noBias,
                partials, noKeyF32, noValueF32, noKeyF16, noValueF16, noKeyQ8, noValueQ8));
        if (quantized) used.addAll(List.of(quants, scales));
        return used.toArray();
    }

    private TaskGraph embeddingGraph() {
        TaskGraph g = new TaskGraph("embed")
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, step)
                .transferToDevice(DataTransferMode.FIRST_EXECUTION, kernelContext, hidden, weights.tokenEmbedding().data());
        carried.addAll(List.of(step, kernelContext, hidden));
        DeviceMatrix table = weights.tokenEmbedding();
        if (table.quantized()) {
            g.task("lookup", Kernels::embedQ8, kernelContext, step, table.blocks(), hidden, config.hidden());
        } else {
            g.task("lookup", Kernels::embedF32, kernelContext, step, table.floats(), hidden, config.hidden());
        }
        perToken(tokenGrids, "embed.lookup", config.hidden(), Kernels.LOCAL);
        return persistCarried(g);
    }

    private TaskGraph layerGraph(int l) {
        ModelConfig c = config;
        DeviceWeights.Layer w = weights.layers()[l];
        String name = "layer" + l;
        boolean quantized = w.qkv().quantized() || w.attnOutput().quantized() || w.ffnGateUp().quantized()
                || w.ffnDown().quantized();
        TaskGraph g = chained(name, layerActivations(quantized))
                .transferToDevice(DataTransferMode.FIRST_EXECUTION, w.attnNorm(), w.qkv().data(), w.qkvBias(),
                        w.attnOutput().data(), w.ffnNorm(), w.ffnGateUp().data(), w.ffnDown().data());
        g.transferToDevice(DataTransferMode.FIRST_EXECUTION, layerCaches(l));

        // attention block
        g.task("attnNorm", Kernels::rmsNorm, kernelContext, step, hidden, w.attnNorm(), normed, c.hidden(), c.rmsEps());
        perToken(tokenGrids, name + ".attnNorm", Kernels.LOCAL, Kernels.LOCAL);
        matmul(g, step, tokenGrids, name, "qkv", w.qkv(), normed, Kind.BIAS, w.qkvBias(), qkv);
        if (kvType == KvCacheType.Q8_0) {
            g.task("rope", AttentionKernels::ropeAndCacheQ8, kernelContext, step, qkv, rope, keyQ8[l], valueQ8[l],
                    c.heads(), c.kvHeads(), c.headDim(), c.ropeDims());
            perToken(tokenGrids, name + ".rope", c.qkvDim() / Kernels.Q8_BLOCK, Kernels.LOCAL);
        } else {
            g.task("rope", AttentionKernels::ropeAndCache, kernelContext, step, qkv, rope, keyF32[l], keyF16[l],
                    valueF32[l], valueF16[l], c.heads(), c.kvHeads(), c.headDim(), c.ropeDims(), kvType.ordinal());
            perToken(tokenGrids, name + ".rope", (c.heads() + c.kvHeads()) * c.headDim() / 2, Kernels.LOCAL);
        }
        g.task("attention", AttentionKernels::attentionSpans, kernelContext, step, qkv, keyF32[l], keyF16[l], keyQ8[l],
                valueF32[l], valueF16[l], valueQ8[l], partials, c.heads(), c.kvHeads(), c.headDim(),
                (float) (1.0 / Math.sqrt(c.headDim())), kvType.ordinal());
        perToken(tokenGrids, name + ".attention", c.kvHeads() * AttentionKernels.SPLITS * Kernels.LOCAL, Kernels.LOCAL);
        g.task("merge", AttentionKernels::attentionMerge, kernelContext, step, partials, context, c.heads(), c.headDim());
        perToken(tokenGrids, name + ".merge", c.heads() * Kernels.LOCAL, Kernels.LOCAL);
        matmul(g, step, tokenGrids, name, "attnOutput", w.attnOutput(), context, Kind.RESIDUAL, null, hidden);

        // feed-forward block
        g.task("ffnNorm", Kernels::rmsNorm, kernelContext, step, hidden, w.ffnNorm(), normed, c.hidden(), c.rmsEps());
        perToken(tokenGrids, name + ".ffnNorm", Kernels.LOCAL, Kernels.LOCAL);
        matmul(g, step, tokenGrids, name, "gateUp", w.ffnGateUp(), normed, Kind.GATE_UP, null, ffnAct);
        matmul(g, step, tokenGrids, name, "down", w.ffnDown(), ffnAct, Kind.RESIDUAL, null, hidden);
        return persistCarried(g);
    }

    /** The layer's K and V cache arrays of the plan's KV type (the placeholders are carried with the activations). */
    private Object[] layerCaches(int l) {
        return switch (kvType) {
            case F32 -> new Object[] {keyF32[l], valueF32[l]};
            case F16 -> new Object[] {keyF16[l], valueF16[l]};
            case Q8_0 -> new Object[] {keyQ8[l], valueQ8[l]};
        };
    }

    /** The final norm and the logits for the rows listed in {@code logitRowList} ({@code [L, rows...]}). */
    private TaskGraph logitsGraph() {
        List<Object> used = new ArrayList<>(List.of(kernelContext, hidden, normed, noBias));
        if (weights.output().quantized()) used.addAll(List.of(quants, scales));
        TaskGraph g = chained("logits", used.toArray())
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, logitRowList)
                .transferToDevice(DataTransferMode.FIRST_EXECUTION, weights.outputNorm(), weights.output().data());
        g.task("norm", Kernels::rmsNormGather, kernelContext, logitRowList, hidden, weights.outputNorm(), normed,
                config.hidden(), config.rmsEps());
        perToken(logitGrids, "logits.norm", Kernels.LOCAL, Kernels.LOCAL);
        matmul(g, logitRowList, logitGrids, "logits", "output", weights.output(), normed, Kind.PLAIN, null, logits);
        return g.transferToHost(DataTransferMode.EVERY_EXECUTION, logits);
    }

    private enum Kind {
        PLAIN(MatrixKernels.PLAIN), BIAS(MatrixKernels.BIAS), RESIDUAL(MatrixKernels.RESIDUAL), GATE_UP(-1);

        final int mode;

        Kind(int mode) { this.mode = mode; }
    }

    /** Matrix kernels without a bias still take a bias argument; this one is never read. */
    private final FloatArray noBias = new FloatArray(1);

    private FloatArray biasOrDummy(FloatArray bias) {
        return bias != null ? bias : noBias;
    }

    /**
     * Adds {@code out[t] = W x[t]} for the tokens counted in {@code count} (with bias, residual add, or fused
     * gate/up SiLU) to {@code g}; Q8_0 weights first quantize each {@code x[t]} to Q8_0 blocks, as ggml does,
     * so the results match llama.cpp's.
     */
    private void matmul(TaskGraph g, IntArray count, List<SizedGrid> grids, String graph, String task, DeviceMatrix m,
                        FloatArray x, Kind kind, FloatArray bias, FloatArray out) {
        int cols = m.cols();
        int rows = kind == Kind.GATE_UP ? m.rows() / 2 : m.rows();
        if (m.quantized()) {
            g.task(task + "Quant", MatrixKernels::quantizeQ8, kernelContext, count, x, quants, scales, cols);
            perToken(grids, graph + "." + task + "Quant", cols / Kernels.Q8_BLOCK, 32);
            if (kind == Kind.GATE_UP) {
                g.task(task, MatrixKernels::gateUpSiluQ8, kernelContext, count, quants, scales, m.blocks(), out, cols, rows);
            } else {
                g.task(task, MatrixKernels::matmulQ8, kernelContext, count, quants, scales, m.blocks(), biasOrDummy(bias), out, cols, rows, kind.mode);
            }
        } else if (kind == Kind.GATE_UP) {
            g.task(task, MatrixKernels::gateUpSiluF32, kernelContext, count, x, m.floats(), out, cols, rows);
        } else {
            g.task(task, MatrixKernels::matmulF32, kernelContext, count, x, m.floats(), biasOrDummy(bias), out, cols, rows, kind.mode);
        }
        WorkerGrid2D w = new WorkerGrid2D(rows * Kernels.LOCAL, 1);
        w.setLocalWork(Kernels.LOCAL, 1, 1);
        grid.addWorkerGrid(graph + "." + task, w);
        grids.add(new SizedGrid(w, rows * Kernels.LOCAL, 0, 0));
    }

    /**
     * A grid sized per launch from its token (or logits row) count n: {@code perToken * n} threads rounded up
     * to {@code local} (1-D), or {@code [width, ceil(n / TILE)]} for a matrix over token tiles (2-D).
     */
    private record SizedGrid(WorkerGrid grid, int width, int perToken, int local) {
        void resize(int n) {
            if (perToken == 0) grid.setGlobalWork(width, (n + Kernels.TILE - 1) / Kernels.TILE, 1);
            else grid.setGlobalWork(roundUp(n * perToken, local), 1, 1);
        }
    }

    private void perToken(List<SizedGrid> grids, String task, int perToken, int local) {
        WorkerGrid1D w = new WorkerGrid1D(roundUp(perToken, local));
        w.setLocalWork(local, 1, 1);
        grid.addWorkerGrid(task, w);
        grids.add(new SizedGrid(w, 0, perToken, local));
    }

    private static int roundUp(int n, int multiple) {
        return (n + multiple - 1) / multiple * multiple;
    }

    /** Fails with the numbers, and what would fit, before anything is allocated on a device too small for the plan. */
    private void requireFits(TornadoDevice device, DevicePlan plan, KvCacheType kvType, long largestWeightArray) {
        String name = device.getPhysicalDevice().getDeviceName();
        String problem = plan.problem(device.getMaxGlobalMemory(), name, config, kvType, slots, slotContext);
        if (problem != null) {
            throw new IllegalStateException(problem + ": lower the context (maxContext, -D" + TornadoBackendProvider.CONTEXT_PROPERTY
                    + "), the sequences (maxBatch, -D" + TornadoBackendProvider.SLOTS_PROPERTY + ") or the KV cache type");
        }
        long maxAlloc = device.getMaxAllocMemory();
        long largest = Math.max(plan.largestKvArray(), largestWeightArray);
        if (maxAlloc > 0 && largest > maxAlloc) {
            throw new IllegalStateException(String.format(Locale.ROOT, "one array of the plan needs %s but %s allocates at most "
                    + "%s per buffer", MemoryEstimate.human(largest), name, MemoryEstimate.human(maxAlloc)));
        }
    }

    // ---------------------------------------------------------------- Backend

    @Override public String name() { return "tornado"; }

    @Override public ModelConfig config() { return config; }

    /** The OpenCL/PTX device the plan runs on. */
    public String deviceName() { return deviceName; }

    @Override
    public int maxSequenceTokens() {
        return slotContext;
    }

    @Override
    public synchronized SequenceCache newSequence(int capacity) {
        if (capacity <= 0) throw new IllegalArgumentException("capacity must be positive: " + capacity);
        if (capacity > slotContext) {
            throw new IllegalArgumentException("a sequence of " + capacity + " tokens does not fit the tornado backend's KV "
                    + "cache slots of " + slotContext + " tokens (set -D" + TornadoBackendProvider.CONTEXT_PROPERTY + " higher)");
        }
        for (int s = 0; s < slots; s++) {
            if (!slotTaken[s]) {
                slotTaken[s] = true;
                return new TornadoSequence(this, s, capacity);
            }
        }
        throw new IllegalStateException("all " + slots + " KV cache slots of the tornado backend are in use (set -D"
                + TornadoBackendProvider.SLOTS_PROPERTY + " higher)");
    }

    synchronized void release(int slot) {
        slotTaken[slot] = false;
    }

    @Override
    public synchronized List<float[]> forward(List<Step> steps) {
        Map<TornadoSequence, Boolean> seen = new IdentityHashMap<>();
        int total = 0;
        for (Step s : steps) {
            if (!(s.sequence() instanceof TornadoSequence seq) || seq.backend() != this || seq.closed()) {
                throw new IllegalArgumentException("sequence was not made by this tornado backend, or is closed");
            }
            if (seen.put(seq, Boolean.TRUE) != null) throw new IllegalArgumentException("a sequence appears twice in one step");
            for (int id : s.tokens()) {
                if (id < 0 || id >= config.vocabSize()) {
                    throw new IllegalArgumentException("token id " + id + " is outside the vocabulary [0, " + config.vocabSize() + ")");
                }
            }
            total += s.tokens().length;
        }

        // Flatten the step: token j of the whole step, its (id, position, cache slot) and where its logits go.
        int vocab = config.vocabSize();
        int[] ids = new int[total], positions = new int[total], cacheBases = new int[total];
        float[][] target = new float[total][];
        int[] targetRow = new int[total];
        List<float[]> out = new ArrayList<>(steps.size());
        int j = 0;
        for (Step s : steps) {
            TornadoSequence seq = (TornadoSequence) s.sequence();
            int n = s.tokens().length;
            float[] result = new float[(s.allLogits() ? n : 1) * vocab];
            out.add(result);
            for (int i = 0; i < n; i++, j++) {
                ids[j] = s.tokens()[i];
                positions[j] = seq.length() + i;
                cacheBases[j] = seq.slot() * slotContext;
                if (s.allLogits() || i == n - 1) {
                    target[j] = result;
                    targetRow[j] = s.allLogits() ? i : 0;
                }
            }
        }

        // Launches of at most maxStepTokens tokens; a sequence split over two launches finds its earlier
        // tokens' K/V already in its cache slot.
        for (int first = 0; first < total; first += maxStepTokens) {
            int n = Math.min(maxStepTokens, total - first);
            step.set(Kernels.COUNT, n);
            for (int t = 0; t < n; t++) {
                step.set(Kernels.stepIndex(t, Kernels.STEP_TOKEN), ids[first + t]);
                step.set(Kernels.stepIndex(t, Kernels.STEP_POSITION), positions[first + t]);
                step.set(Kernels.stepIndex(t, Kernels.STEP_CACHE_BASE), cacheBases[first + t]);
            }
            for (SizedGrid g : tokenGrids) g.resize(n);
            for (int g = 0; g < graphs - 1; g++) execute(g);

            List<Integer> wanted = new ArrayList<>();
            for (int t = 0; t < n; t++) if (target[first + t] != null) wanted.add(t);
            for (int from = 0; from < wanted.size(); from += logitRows) {
                int rows = Math.min(logitRows, wanted.size() - from);
                logitRowList.set(Kernels.COUNT, rows);
                for (int r = 0; r < rows; r++) logitRowList.set(1 + r, wanted.get(from + r));
                for (SizedGrid g : logitGrids) g.resize(rows);
                execute(graphs - 1);
                for (int r = 0; r < rows; r++) {
                    int token = first + wanted.get(from + r);
                    float[] result = target[token];
                    int at = targetRow[token] * vocab;
                    for (int v = 0; v < vocab; v++) result[at + v] = logits.get(r * vocab + v);
                }
            }
        }
        for (Step s : steps) ((TornadoSequence) s.sequence()).advance(s.tokens().length);
        return out;
    }

    private void execute(int graph) {
        try {
            plan.withGraph(graph).execute();
        } catch (RuntimeException e) {
            throw new IllegalStateException("TornadoVM failed in task graph " + graph + " of " + graphs, e);
        }
    }

    @Override
    public synchronized void close() {
        try {
            plan.freeDeviceMemory();
            plan.close();
        } catch (Exception e) {
            throw new IllegalStateException("closing the TornadoVM plan failed", e);
        }
    }
}
