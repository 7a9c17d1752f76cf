package io.sparkglm.backend.tornado;

import io.sparkglm.backend.Backend;
import io.sparkglm.backend.KvCacheType;
import io.sparkglm.backend.SequenceCache;
import io.sparkglm.backend.tornado.DeviceWeights.DeviceMatrix;
import io.sparkglm.generate.DevicePlan;
import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.GgmlType;
import io.sparkglm.model.MemoryEstimate;
import io.sparkglm.model.ModelConfig;
import io.sparkglm.tensor.ActivationFormat;
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
    // quants: a matrix's prepared input (fp16/bf16-rounded values, or Q8_0/Q8_K quants); scales: their block
    // scales; bsums: Q8_K's sums of 16 quants, or Q8_1's block sums. One set serves every matrix: each prepares its input right before it.
    private final FloatArray hidden, normed, quants, scales, bsums, qkv, context, ffnAct, logits;
    private final RopeTable ropeAngles;      // cos/sin of the launch's tokens, filled per launch
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
        if (kvType == KvCacheType.Q8_0) KvCacheType.requireWholeBlocks(c.kvDim());
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

        TornadoDevice device = device(deviceIndex);
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
        bsums = new FloatArray(m * widest / Kernels.K_GROUP);
        qkv = new FloatArray(m * c.qkvDim());
        context = new FloatArray(m * c.qDim());
        ffnAct = new FloatArray(m * c.ffnHidden());
        logits = new FloatArray(this.logitRows * c.vocabSize());
        ropeAngles = RopeTable.of(maxStepTokens, c.ropeDims(), c.ropeBase());
        rope = ropeAngles.table();
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

    /** The prepared-input buffers the matrices {@code ms} read (none for F32 weights). */
    private List<Object> preparedInputs(List<DeviceMatrix> ms) {
        List<Object> used = new ArrayList<>();
        for (DeviceMatrix m : ms) {
            ActivationFormat f = m.activation();
            if (f != ActivationFormat.F32 && !used.contains(quants)) used.add(quants);
            boolean blocks = f == ActivationFormat.Q8_0 || f == ActivationFormat.Q8_1 || f == ActivationFormat.Q8_K;
            boolean nibbles = m.type() == GgmlType.Q4_0 || m.type() == GgmlType.Q5_0 || m.type() == GgmlType.Q5_1;
            if (blocks && !used.contains(scales)) used.add(scales);
            // bsums: Q8_K's group sums, Q8_1's block sums; the nibble kernels take it whether or not they read it
            if ((f == ActivationFormat.Q8_K || nibbles) && !used.contains(bsums)) used.add(bsums);
        }
        return used;
    }

    private TaskGraph embeddingGraph() {
        DeviceMatrix table = weights.tokenEmbedding();
        TaskGraph g = new TaskGraph("embed")
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, step, rope)
                .transferToDevice(DataTransferMode.FIRST_EXECUTION, kernelContext, hidden, table.data());
        carried.addAll(List.of(step, rope, kernelContext, hidden));
        int dim = config.hidden();
        switch (table.type()) {
            case F32 -> g.task("lookup", Kernels::embedF32, kernelContext, step, table.floats(), hidden, dim);
            case F16 -> g.task("lookup", Kernels::embedHalf, kernelContext, step, table.halfs(), hidden, dim, Kernels.HALF_F16);
            case BF16 -> g.task("lookup", Kernels::embedHalf, kernelContext, step, table.halfs(), hidden, dim, Kernels.HALF_BF16);
            case Q8_0 -> g.task("lookup", Kernels::embedQ8, kernelContext, step, table.blocks(), hidden, dim);
            case Q4_0, Q5_0, Q5_1 -> g.task("lookup", Kernels::embedNibbles, kernelContext, step, table.blocks(), hidden, dim,
                    nibbleFormat(table.type()));
            case Q4_K -> g.task("lookup", Kernels::embedQ45K, kernelContext, step, table.blocks(), hidden, dim, 0);
            case Q5_K -> g.task("lookup", Kernels::embedQ45K, kernelContext, step, table.blocks(), hidden, dim, 1);
            case Q6_K -> g.task("lookup", Kernels::embedQ6K, kernelContext, step, table.blocks(), hidden, dim);
        }
        perToken(tokenGrids, "embed.lookup", dim, Kernels.LOCAL);
        return persistCarried(g);
    }

    private TaskGraph layerGraph(int l) {
        ModelConfig c = config;
        DeviceWeights.Layer w = weights.layers()[l];
        String name = "layer" + l;
        List<DeviceMatrix> matrices = new ArrayList<>(w.qkv());
        matrices.addAll(List.of(w.attnOutput(), w.ffnGateUp(), w.ffnDown()));
        List<Object> used = new ArrayList<>(List.of(kernelContext, step, hidden, normed, qkv, rope, context, ffnAct, noBias,
                partials, noKeyF32, noValueF32, noKeyF16, noValueF16, noKeyQ8, noValueQ8));
        used.addAll(preparedInputs(matrices));
        List<Object> layerData = new ArrayList<>(List.of(w.attnNorm(), w.qkvBias(), w.ffnNorm()));
        for (DeviceMatrix m : matrices) layerData.add(m.data());
        layerData.addAll(List.of(layerCaches(l)));
        TaskGraph g = chained(name, used.toArray())
                .transferToDevice(DataTransferMode.FIRST_EXECUTION, layerData.toArray());

        // attention block
        g.task("attnNorm", Kernels::rmsNorm, kernelContext, step, hidden, w.attnNorm(), normed, c.hidden(), c.rmsEps());
        perToken(tokenGrids, name + ".attnNorm", Kernels.LOCAL, Kernels.LOCAL);
        List<DeviceMatrix> qkvParts = w.qkv();
        if (qkvParts.size() == 1) {
            matmul(g, step, tokenGrids, name, "qkv", qkvParts.getFirst(), normed, Kind.BIAS, w.qkvBias(), qkv, c.qkvDim(), 0, true);
        } else {                                  // parts of differing types: each into its rows of qkv
            int offset = 0;
            for (int p = 0; p < qkvParts.size(); p++) {
                DeviceMatrix part = qkvParts.get(p);
                boolean prepare = p == 0 || part.activation() != qkvParts.get(p - 1).activation();
                matmul(g, step, tokenGrids, name, "qkv" + p, part, normed, Kind.BIAS, w.qkvBias(), qkv, c.qkvDim(), offset, prepare);
                offset += part.rows();
            }
        }
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
        used.addAll(preparedInputs(List.of(weights.output())));
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

    private void matmul(TaskGraph g, IntArray count, List<SizedGrid> grids, String graph, String task, DeviceMatrix m,
                        FloatArray x, Kind kind, FloatArray bias, FloatArray out) {
        matmul(g, count, grids, graph, task, m, x, kind, bias, out, kind == Kind.GATE_UP ? m.rows() / 2 : m.rows(), 0, true);
    }

    /**
     * Adds {@code out[t * outStride + outOffset + r] = W[r] . x[t]} for the tokens counted in {@code count} (with
     * bias, residual add, or fused gate/up SiLU) to {@code g}, on the weights as stored: first the input as ggml
     * prepares it for the weight type ({@code prepare}; false when the previous task left it in the same format),
     * rounded to fp16 or bf16, or quantized to Q8_0, Q8_1 or Q8_K blocks, so the results match the CPU backend's and
     * llama.cpp's; then the product.
     */
    private void matmul(TaskGraph g, IntArray count, List<SizedGrid> grids, String graph, String task, DeviceMatrix m,
                        FloatArray x, Kind kind, FloatArray bias, FloatArray out, int outStride, int outOffset, boolean prepare) {
        int cols = m.cols();
        int rows = kind == Kind.GATE_UP ? m.rows() / 2 : m.rows();
        String prep = task + "Prepare";
        ActivationFormat format = m.activation();
        if (prepare) {
            switch (format) {
                case F32 -> { }
                case F16 -> {
                    g.task(prep, MatrixKernels::roundF16, kernelContext, count, x, quants, cols);
                    perToken(grids, graph + "." + prep, cols, Kernels.LOCAL);
                }
                case BF16 -> {
                    g.task(prep, MatrixKernels::roundBf16, kernelContext, count, x, quants, cols);
                    perToken(grids, graph + "." + prep, cols, Kernels.LOCAL);
                }
                case Q8_0 -> {
                    g.task(prep, MatrixKernels::quantizeQ8, kernelContext, count, x, quants, scales, cols);
                    perToken(grids, graph + "." + prep, cols / Kernels.Q8_BLOCK, 32);
                }
                case Q8_1 -> {
                    g.task(prep, MatrixKernels::quantizeQ8_1, kernelContext, count, x, quants, scales, bsums, cols);
                    perToken(grids, graph + "." + prep, cols / Kernels.Q8_BLOCK, 32);
                }
                case Q8_K -> {
                    g.task(prep, MatrixKernels::quantizeQ8K, kernelContext, count, x, quants, scales, bsums, cols);
                    perToken(grids, graph + "." + prep, cols / Kernels.K_GROUP, Kernels.K_GROUP);
                }
            }
        }
        FloatArray b = biasOrDummy(bias);
        int mode = kind.mode;
        boolean gateUp = kind == Kind.GATE_UP;
        switch (m.type()) {
            case F32 -> {
                if (gateUp) g.task(task, MatrixKernels::gateUpSiluF32, kernelContext, count, x, m.floats(), out, cols, rows);
                else g.task(task, MatrixKernels::matmulF32, kernelContext, count, x, m.floats(), b, out, cols, rows, outStride, outOffset, mode);
            }
            case F16, BF16 -> {
                int half = m.type() == GgmlType.BF16 ? Kernels.HALF_BF16 : Kernels.HALF_F16;
                if (gateUp) g.task(task, MatrixKernels::gateUpSiluHalf, kernelContext, count, quants, m.halfs(), out, cols, rows, half);
                else g.task(task, MatrixKernels::matmulHalf, kernelContext, count, quants, m.halfs(), b, out, cols, rows, outStride, outOffset, mode, half);
            }
            case Q8_0 -> {
                if (gateUp) g.task(task, MatrixKernels::gateUpSiluQ8, kernelContext, count, quants, scales, m.blocks(), out, cols, rows);
                else g.task(task, MatrixKernels::matmulQ8, kernelContext, count, quants, scales, m.blocks(), b, out, cols, rows, outStride, outOffset, mode);
            }
            case Q4_0, Q5_0, Q5_1 -> {
                int nibbles = nibbleFormat(m.type());
                if (gateUp) g.task(task, MatrixKernels::gateUpSiluNibbles, kernelContext, count, quants, scales, bsums, m.blocks(), out, cols, rows, nibbles);
                else g.task(task, MatrixKernels::matmulNibbles, kernelContext, count, quants, scales, bsums, m.blocks(), b, out, cols, rows, outStride, outOffset, mode, nibbles);
            }
            case Q4_K, Q5_K -> {
                int five = m.type() == GgmlType.Q5_K ? 1 : 0;
                if (gateUp) g.task(task, MatrixKernels::gateUpSiluQ45K, kernelContext, count, quants, scales, bsums, m.blocks(), out, cols, rows, five);
                else g.task(task, MatrixKernels::matmulQ45K, kernelContext, count, quants, scales, bsums, m.blocks(), b, out, cols, rows, outStride, outOffset, mode, five);
            }
            case Q6_K -> {
                if (gateUp) g.task(task, MatrixKernels::gateUpSiluQ6K, kernelContext, count, quants, scales, m.blocks(), out, cols, rows);
                else g.task(task, MatrixKernels::matmulQ6K, kernelContext, count, quants, scales, m.blocks(), b, out, cols, rows, outStride, outOffset, mode);
            }
        }
        WorkerGrid2D w = new WorkerGrid2D(rows * Kernels.LOCAL, 1);
        w.setLocalWork(Kernels.LOCAL, 1, 1);
        grid.addWorkerGrid(graph + "." + task, w);
        grids.add(new SizedGrid(w, rows * Kernels.LOCAL, 0, 0));
    }

    /** The {@code format} argument of the nibble kernels for Q4_0, Q5_0 and Q5_1. */
    static int nibbleFormat(GgmlType type) {
        return switch (type) {
            case Q4_0 -> Kernels.NIBBLE_Q4_0;
            case Q5_0 -> Kernels.NIBBLE_Q5_0;
            case Q5_1 -> Kernels.NIBBLE_Q5_1;
            default -> throw new IllegalArgumentException(type + " is not a nibble format");
        };
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

    /** Device {@code index} of TornadoVM's first backend, or its default device for a negative index. */
    static TornadoDevice device(int index) {
        return index >= 0 ? TornadoExecutionPlan.getDevice(0, index) : TornadoExecutionPlan.DEFAULT_DEVICE;
    }

    /** TornadoVM's own cap on the device memory one JVM allocates (4 GB unless the JVM says otherwise). */
    static final String MEMORY_LIMIT_PROPERTY = "tornado.device.memory";

    static long tornadoMemoryLimit() {
        String value = System.getProperty(MEMORY_LIMIT_PROPERTY, "4GB").strip().toUpperCase(Locale.ROOT);
        long unit = value.endsWith("TB") ? 1L << 40 : value.endsWith("GB") ? 1L << 30 : value.endsWith("MB") ? 1L << 20
                : value.endsWith("KB") ? 1L << 10 : 1;
        String digits = value.replaceAll("[A-Z]+$", "");
        try {
            return Long.parseLong(digits) * unit;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("-D" + MEMORY_LIMIT_PROPERTY + " must be a size such as 24GB, not " + value);
        }
    }

    /** Fails with the numbers, and what would fit, before anything is allocated on a device too small for the plan. */
    private void requireFits(TornadoDevice device, DevicePlan plan, KvCacheType kvType, long largestWeightArray) {
        String name = device.getPhysicalDevice().getDeviceName();
        String problem = plan.problem(device.getMaxGlobalMemory(), name, config, kvType, slots, slotContext);
        if (problem != null) {
            throw new IllegalStateException(problem + ": lower the context (maxContext, -D" + TornadoBackendProvider.CONTEXT_PROPERTY
                    + "), the sequences (maxBatch, -D" + TornadoBackendProvider.SLOTS_PROPERTY + ") or the KV cache type");
        }
        long runtimeLimit = tornadoMemoryLimit();
        if (plan.total() > runtimeLimit) {
            throw new IllegalStateException(String.format(Locale.ROOT, "the plan needs %s on the device but TornadoVM lets a "
                    + "JVM use %s (-D%s=%s): start the JVM with -D%s=%dGB", MemoryEstimate.human(plan.total()),
                    MemoryEstimate.human(runtimeLimit), MEMORY_LIMIT_PROPERTY, System.getProperty(MEMORY_LIMIT_PROPERTY, "4GB (default)"),
                    MEMORY_LIMIT_PROPERTY, (plan.total() >> 30) + 1));
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
            ropeAngles.fill(positions, first, n);
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
