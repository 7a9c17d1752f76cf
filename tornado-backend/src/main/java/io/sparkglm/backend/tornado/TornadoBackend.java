package io.sparkglm.backend.tornado;

import io.sparkglm.backend.Backend;
import io.sparkglm.backend.SequenceCache;
import io.sparkglm.backend.tornado.DeviceWeights.DeviceMatrix;
import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.ModelConfig;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.ImmutableTaskGraph;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * The GLM-4 forward pass on a TornadoVM device, one token at a time.
 *
 * <p>One execution plan holds {@code layers + 2} task graphs: the embedding lookup, one graph per layer,
 * and the final norm with the logits. Weights are copied to the device on the first execution and stay
 * there; the hidden state, scratch activations and the KV cache live on the device between graphs
 * ({@code persistOnDevice} / {@code consumeFromDevice}); only the per-step array {@code [token, position,
 * cacheBase]} goes in and only the logits come back, and only for tokens whose logits are wanted.
 *
 * <p>The KV cache is allocated once for {@code slots} sequences of up to {@code slotContext} tokens each
 * (the plan's arrays are fixed when it is built); a sequence takes a free slot and gives it back on close.
 * Tokens of one step are computed one after another, each with the same arithmetic, so a sequence gets
 * the same logits alone or in a batch.
 */
public final class TornadoBackend implements Backend {

    private final ModelConfig config;
    private final DeviceWeights weights;
    private final int slots;
    private final int slotContext;
    private final boolean[] slotTaken;
    private final TornadoExecutionPlan plan;
    private final GridScheduler grid = new GridScheduler();
    private final int graphs;
    private final String deviceName;

    // Per-step input and the activations that stay on the device.
    private final IntArray step = new IntArray(3);
    private final FloatArray hidden, normed, quants, scales, qkv, context, ffnAct, logits;
    private final FloatArray rope;
    private final FloatArray[] keyCache, valueCache;
    private final KernelContext kernelContext = new KernelContext();

    TornadoBackend(Checkpoint checkpoint, int slots, int slotContext, int deviceIndex) {
        this.config = checkpoint.config();
        ModelConfig c = config;
        if (c.headDim() > Kernels.MAX_HEAD_DIM) {
            throw new IllegalArgumentException("head dim " + c.headDim() + " exceeds the attention kernel's "
                    + Kernels.MAX_HEAD_DIM);
        }
        if (c.hidden() % Kernels.Q8_BLOCK != 0 || c.qDim() % Kernels.Q8_BLOCK != 0 || c.ffnHidden() % Kernels.Q8_BLOCK != 0) {
            throw new IllegalArgumentException("the tornado backend needs hidden, heads*headDim and ffn to be multiples of 32");
        }
        this.slots = slots;
        this.slotContext = slotContext;
        this.slotTaken = new boolean[slots];
        this.weights = DeviceWeights.from(checkpoint);

        MemoryPlan memory = MemoryPlan.of(c, weights.bytes(), slots, slotContext);
        TornadoDevice device = deviceIndex >= 0 ? TornadoExecutionPlan.getDevice(0, deviceIndex)
                                                : TornadoExecutionPlan.DEFAULT_DEVICE;
        memory.requireFits(device);
        this.deviceName = device.getPhysicalDevice().getDeviceName();

        int widest = Math.max(c.hidden(), Math.max(c.qDim(), c.ffnHidden()));
        hidden = new FloatArray(c.hidden());
        normed = new FloatArray(c.hidden());
        quants = new FloatArray(widest);
        scales = new FloatArray(widest / Kernels.Q8_BLOCK);
        qkv = new FloatArray(c.qkvDim());
        context = new FloatArray(c.qDim());
        ffnAct = new FloatArray(c.ffnHidden());
        logits = new FloatArray(c.vocabSize());
        rope = RopeTable.of(slotContext, c.ropeDims(), c.ropeBase()).table();
        keyCache = new FloatArray[c.layers()];
        valueCache = new FloatArray[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            keyCache[l] = new FloatArray(slots * slotContext * c.kvDim());
            valueCache[l] = new FloatArray(slots * slotContext * c.kvDim());
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
        List<Object> used = new ArrayList<>(List.of(kernelContext, step, hidden, normed, qkv, rope, context, ffnAct));
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
        threads("embed.lookup", roundUp(config.hidden(), Kernels.LOCAL), Kernels.LOCAL);
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
                        w.attnOutput().data(), w.ffnNorm(), w.ffnGateUp().data(), w.ffnDown().data(),
                        keyCache[l], valueCache[l]);

        // attention block
        g.task("attnNorm", Kernels::rmsNorm, kernelContext, hidden, w.attnNorm(), normed, c.hidden(), c.rmsEps());
        threads(name + ".attnNorm", Kernels.LOCAL, Kernels.LOCAL);
        matvec(g, name, "qkv", w.qkv(), normed, Kind.BIAS, w.qkvBias(), qkv);
        g.task("rope", Kernels::ropeAndCache, kernelContext, step, qkv, rope, keyCache[l], valueCache[l],
                c.heads(), c.kvHeads(), c.headDim(), c.ropeDims());
        threads(name + ".rope", roundUp((c.heads() + c.kvHeads()) * c.headDim() / 2, Kernels.LOCAL), Kernels.LOCAL);
        g.task("attention", Kernels::attention, kernelContext, step, qkv, keyCache[l], valueCache[l], context,
                c.heads(), c.kvHeads(), c.headDim(), (float) (1.0 / Math.sqrt(c.headDim())));
        threads(name + ".attention", c.heads() * Kernels.LOCAL, Kernels.LOCAL);
        matvec(g, name, "attnOutput", w.attnOutput(), context, Kind.RESIDUAL, null, hidden);

        // feed-forward block
        g.task("ffnNorm", Kernels::rmsNorm, kernelContext, hidden, w.ffnNorm(), normed, c.hidden(), c.rmsEps());
        threads(name + ".ffnNorm", Kernels.LOCAL, Kernels.LOCAL);
        matvec(g, name, "gateUp", w.ffnGateUp(), normed, Kind.GATE_UP, null, ffnAct);
        matvec(g, name, "down", w.ffnDown(), ffnAct, Kind.RESIDUAL, null, hidden);
        return persistCarried(g);
    }

    private TaskGraph logitsGraph() {
        List<Object> used = new ArrayList<>(List.of(kernelContext, hidden, normed));
        if (weights.output().quantized()) used.addAll(List.of(quants, scales));
        TaskGraph g = chained("logits", used.toArray())
                .transferToDevice(DataTransferMode.FIRST_EXECUTION, weights.outputNorm(), weights.output().data());
        g.task("norm", Kernels::rmsNorm, kernelContext, hidden, weights.outputNorm(), normed, config.hidden(), config.rmsEps());
        threads("logits.norm", Kernels.LOCAL, Kernels.LOCAL);
        matvec(g, "logits", "output", weights.output(), normed, Kind.PLAIN, null, logits);
        return g.transferToHost(DataTransferMode.EVERY_EXECUTION, logits);
    }

    private enum Kind { PLAIN, BIAS, RESIDUAL, GATE_UP }

    /**
     * Adds {@code out = W x} (with bias, residual add, or fused gate/up SiLU) to {@code g}; Q8_0 weights
     * first quantize {@code x} to Q8_0 blocks, as ggml does, so the results match llama.cpp's.
     */
    private void matvec(TaskGraph g, String graph, String task, DeviceMatrix m, FloatArray x, Kind kind,
                        FloatArray bias, FloatArray out) {
        int cols = m.cols();
        int rows = kind == Kind.GATE_UP ? m.rows() / 2 : m.rows();
        if (m.quantized()) {
            g.task(task + "Quant", Kernels::quantizeQ8, kernelContext, x, quants, scales, cols);
            threads(graph + "." + task + "Quant", roundUp(cols / Kernels.Q8_BLOCK, 32), 32);
            switch (kind) {
                case PLAIN -> g.task(task, Kernels::matvecQ8, kernelContext, quants, scales, m.blocks(), out, cols);
                case BIAS -> g.task(task, Kernels::matvecBiasQ8, kernelContext, quants, scales, m.blocks(), bias, out, cols);
                case RESIDUAL -> g.task(task, Kernels::matvecResidualQ8, kernelContext, quants, scales, m.blocks(), out, cols);
                case GATE_UP -> g.task(task, Kernels::gateUpSiluQ8, kernelContext, quants, scales, m.blocks(), out, cols, rows);
            }
        } else {
            switch (kind) {
                case PLAIN -> g.task(task, Kernels::matvecF32, kernelContext, x, m.floats(), out, cols);
                case BIAS -> g.task(task, Kernels::matvecBiasF32, kernelContext, x, m.floats(), bias, out, cols);
                case RESIDUAL -> g.task(task, Kernels::matvecResidualF32, kernelContext, x, m.floats(), out, cols);
                case GATE_UP -> g.task(task, Kernels::gateUpSiluF32, kernelContext, x, m.floats(), out, cols, rows);
            }
        }
        threads(graph + "." + task, rows * Kernels.LOCAL, Kernels.LOCAL);
    }

    private void threads(String task, int global, int local) {
        WorkerGrid1D w = new WorkerGrid1D(global);
        w.setLocalWork(local, 1, 1);
        grid.addWorkerGrid(task, w);
    }

    private static int roundUp(int n, int multiple) {
        return (n + multiple - 1) / multiple * multiple;
    }

    // ---------------------------------------------------------------- Backend

    @Override public String name() { return "tornado"; }

    @Override public ModelConfig config() { return config; }

    /** The OpenCL/PTX device the plan runs on. */
    public String deviceName() { return deviceName; }

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
        }
        int vocab = config.vocabSize();
        List<float[]> out = new ArrayList<>(steps.size());
        for (Step s : steps) {
            TornadoSequence seq = (TornadoSequence) s.sequence();
            int n = s.tokens().length;
            float[] result = new float[(s.allLogits() ? n : 1) * vocab];
            for (int j = 0; j < n; j++) {
                boolean wanted = s.allLogits() || j == n - 1;
                token(s.tokens()[j], seq.length() + j, seq.slot() * slotContext, wanted);
                if (wanted) {
                    int row = s.allLogits() ? j : 0;
                    for (int v = 0; v < vocab; v++) result[row * vocab + v] = logits.get(v);
                }
            }
            seq.advance(n);
            out.add(result);
        }
        return out;
    }

    /** Runs one token through the plan; the logits graph only when its logits are wanted. */
    private void token(int id, int position, int cacheBase, boolean wantLogits) {
        step.set(Kernels.STEP_TOKEN, id);
        step.set(Kernels.STEP_POSITION, position);
        step.set(Kernels.STEP_CACHE_BASE, cacheBase);
        int last = wantLogits ? graphs : graphs - 1;
        for (int g = 0; g < last; g++) {
            try {
                plan.withGraph(g).execute();
            } catch (RuntimeException e) {
                throw new IllegalStateException("TornadoVM failed in task graph " + g + " of " + graphs, e);
            }
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
