package io.sparkglm.backend.tornado;

import io.sparkglm.backend.Backend;
import io.sparkglm.backend.BackendOptions;
import io.sparkglm.backend.Backends;
import io.sparkglm.backend.cpu.CpuBackend;
import io.sparkglm.backend.tornado.TornadoCpuParityTest.Run;
import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.GgmlType;
import io.sparkglm.model.GgufFile;
import io.sparkglm.model.GgufTensorInfo;
import io.sparkglm.model.GgufWriter;
import io.sparkglm.model.ModelLoader;
import io.sparkglm.model.Quantization;
import io.sparkglm.model.TensorBytes;
import io.sparkglm.model.TinyModels;
import io.sparkglm.tensor.ActivationFormat;
import io.sparkglm.tensor.Activations;
import io.sparkglm.tensor.WeightMatrix;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Test;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.WorkerGrid2D;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.types.arrays.ByteArray;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * The measurements behind "K-quants in their own kernels, not repacked to Q8_0 at load" (not part of the suite:
 * run it with -Dtest=StoredFormatBench): device bytes per weight of each choice, the largest logit difference
 * from the CPU backend of each choice on a Q4_K_M-like model, and PoCL's time for one Q4_K matrix product
 * against the same matrix repacked to Q8_0 (PoCL runs on two shared CPU cores: its speed says little about a GPU).
 */
class StoredFormatBench {

    @Test
    void kQuantsOwnKernelsVersusRepackedToQ8_0() throws Exception {
        Path dir = Files.createTempDirectory("stored-format-bench");
        Path model = dir.resolve("q4_k_m.gguf"), repacked = dir.resolve("q4_k_m-as-q8_0.gguf");
        TinyModels.Spec spec = new TinyModels.Spec(256, 2, 4, 1, 512, 300, 1e6, GgmlType.F32, 24, 4096);
        StoredFormatModels.write(spec, model, t -> {
            if (t.endsWith("attn_v.weight") || t.equals("output.weight") || t.equals("blk.0.ffn_down.weight")) return GgmlType.Q6_K;
            if (t.equals("blk.1.ffn_down.weight")) return GgmlType.Q5_K;
            return GgmlType.Q4_K;
        }, true);
        repackToQ8_0(model, repacked);
        Random random = new Random(11);
        int[] promptA = random.ints(Kernels.LOCAL + 17, 0, spec.vocab()).toArray();
        int[] promptB = random.ints(9, 0, spec.vocab()).toArray();
        try (Checkpoint original = ModelLoader.open(model); Checkpoint q8 = ModelLoader.open(repacked);
             Backend cpu = new CpuBackend(original, new BackendOptions(2, "f32", -1))) {
            Run expected = TornadoCpuParityTest.run(cpu, promptA, promptB);
            for (Checkpoint c : new Checkpoint[] {original, q8}) {
                long weights = 0, matrixBytes = 0;
                for (var t : c.tensors().values()) {
                    if (t.shape().length == 2) {
                        weights += t.elementCount();
                        matrixBytes += t.data().byteSize();
                    }
                }
                Run actual;
                try (Backend tornado = Backends.open("tornado", c, new BackendOptions(0, "f32", -1))) {
                    actual = TornadoCpuParityTest.run(tornado, promptA, promptB);
                }
                double max = 0;
                for (int r = 0; r < expected.rows().size(); r++) {
                    max = Math.max(max, TornadoCpuParityTest.maxAbsDiff(expected.rows().get(r), actual.rows().get(r)));
                }
                System.err.printf(Locale.ROOT, "BENCH %s: matrices %.4f bytes/weight (%.3f bits), device weights %d bytes, "
                                + "max |logit diff| vs CPU on the K-quant file %.3g, greedy A %s B %s%n",
                        c == original ? "own K-quant kernels" : "repacked to Q8_0", (double) matrixBytes / weights,
                        8.0 * matrixBytes / weights, DeviceWeights.from(c).bytes(), max,
                        java.util.Arrays.equals(expected.greedyA(), actual.greedyA()), java.util.Arrays.equals(expected.greedyB(), actual.greedyB()));
            }
        }
        kernelTimes();
    }

    /** The same file with every K-quant matrix dequantized exactly and quantized again to Q8_0 (what a repacking load would hold). */
    private static void repackToQ8_0(Path from, Path to) throws Exception {
        try (GgufFile source = GgufFile.open(from)) {
            GgufWriter w = new GgufWriter();
            for (String key : source.metadata().keySet()) w.copy(source, key);
            for (GgufTensorInfo info : source.tensors()) {
                long[] shape = info.shape();
                boolean kQuant = info.type() == GgmlType.Q4_K || info.type() == GgmlType.Q5_K || info.type() == GgmlType.Q6_K;
                if (!kQuant) {
                    w.addTensor(info.name(), info.type(), shape, TensorBytes.of(source.tensorData(info)));
                    continue;
                }
                int rows = (int) shape[0], cols = (int) shape[1];
                WeightMatrix m = WeightMatrix.of(info.type(), source.tensorData(info), rows, cols);
                float[] all = new float[rows * cols];
                for (int r = 0; r < rows; r++) m.dequantizeRow(r, all, r * cols);
                w.addTensor(info.name(), GgmlType.Q8_0, shape, TensorBytes.of(Quantization.encode(GgmlType.Q8_0, all)));
            }
            w.write(to);
        }
    }

    /** One matrix product [2048 x 4096] on PoCL: Q4_K blocks against Q8_K activations, and the same matrix repacked to Q8_0. */
    private static void kernelTimes() {
        int rows = 2048, cols = 4096, reps = 8;
        QuantBlocks.Blocks q4k = QuantBlocks.random(GgmlType.Q4_K, rows, cols, 0.05, new Random(3));
        WeightMatrix host = q4k.host();
        float[] all = new float[rows * cols];
        for (int r = 0; r < rows; r++) host.dequantizeRow(r, all, r * cols);
        ByteArray q8 = ByteArray.fromArray(Quantization.encode(GgmlType.Q8_0, all));
        ByteArray k4 = (ByteArray) q4k.deviceArray();
        for (int tokens : new int[] {1, 8}) {
            float[] x = new float[tokens * cols];
            Random random = new Random(5);
            for (int i = 0; i < x.length; i++) x[i] = (float) random.nextGaussian();
            Activations ak = Activations.prepare(ActivationFormat.Q8_K, x, 0, tokens, cols);
            Activations a8 = Activations.prepare(ActivationFormat.Q8_0, x, 0, tokens, cols);
            FloatArray kq = new FloatArray(tokens * cols), kd = new FloatArray(tokens * cols / 256), ks = new FloatArray(tokens * cols / 16);
            FloatArray q = new FloatArray(tokens * cols), d = new FloatArray(tokens * cols / 32);
            for (int t = 0; t < tokens; t++) {
                for (int c = 0; c < cols; c++) {
                    kq.set(t * cols + c, ak.quant(t, c));
                    q.set(t * cols + c, a8.quant(t, c));
                }
                for (int b = 0; b < cols / 256; b++) kd.set(t * cols / 256 + b, ak.blockScale(t, b));
                for (int g = 0; g < cols / 16; g++) ks.set(t * cols / 16 + g, ak.groupSum(t, g));
                for (int b = 0; b < cols / 32; b++) d.set(t * cols / 32 + b, a8.blockScale(t, b));
            }
            IntArray count = IntArray.fromElements(tokens);
            FloatArray none = new FloatArray(1), outK = new FloatArray(tokens * rows), out8 = new FloatArray(tokens * rows);
            KernelContext c = new KernelContext();
            TaskGraph gk = new TaskGraph("benchQ4K" + tokens)
                    .transferToDevice(DataTransferMode.FIRST_EXECUTION, count, kq, kd, ks, k4, none)
                    .task("k", MatrixKernels::matmulQ45K, c, count, kq, kd, ks, k4, none, outK, cols, rows, rows, 0, MatrixKernels.PLAIN, 0)
                    .transferToHost(DataTransferMode.EVERY_EXECUTION, outK);
            TaskGraph g8 = new TaskGraph("benchQ8" + tokens)
                    .transferToDevice(DataTransferMode.FIRST_EXECUTION, count, q, d, q8, none)
                    .task("k", MatrixKernels::matmulQ8, c, count, q, d, q8, none, out8, cols, rows, rows, 0, MatrixKernels.PLAIN)
                    .transferToHost(DataTransferMode.EVERY_EXECUTION, out8);
            double msK = time(gk, rows, tokens, reps), ms8 = time(g8, rows, tokens, reps);
            System.err.printf(Locale.ROOT, "BENCH PoCL %dx%d, %d token(s): Q4_K %.1f ms (%d weight bytes), Q8_0 %.1f ms (%d weight bytes)%n",
                    rows, cols, tokens, msK, k4.getSize(), ms8, q8.getSize());
        }
    }

    private static double time(TaskGraph graph, int rows, int tokens, int reps) {
        WorkerGrid2D grid = new WorkerGrid2D(rows * Kernels.LOCAL, (tokens + Kernels.TILE - 1) / Kernels.TILE);
        grid.setLocalWork(Kernels.LOCAL, 1, 1);
        try (TornadoExecutionPlan plan = new TornadoExecutionPlan(graph.snapshot())) {
            plan.withGridScheduler(new GridScheduler(graph.getTaskGraphName() + ".k", grid));
            plan.execute();
            plan.execute();                                        // compiled and weights on the device
            long start = System.nanoTime();
            for (int i = 0; i < reps; i++) plan.execute();
            return (System.nanoTime() - start) / 1e6 / reps;
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
