package io.sparkglm.backend.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.WorkerGrid2D;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.types.arrays.ByteArray;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * What the kernel tests share: running one task on a grid, step arrays, random data and its float64 or
 * ggml-exact host references. Tests run with -Dtornado.recover.bailout=False (the module's surefire setup),
 * so a kernel that does not compile for the device fails instead of silently running on the host.
 */
final class KernelTesting {

    static final Random RANDOM = new Random(20260822);

    private KernelTesting() {}

    /** Runs {@code graph}'s single task "k" on {@code global} threads in groups of {@code local}. */
    static void run(TaskGraph graph, int global, int local) {
        WorkerGrid1D grid = new WorkerGrid1D(global);
        grid.setLocalWork(local, 1, 1);
        GridScheduler scheduler = new GridScheduler(graph.getTaskGraphName() + ".k", grid);
        try (TornadoExecutionPlan plan = new TornadoExecutionPlan(graph.snapshot())) {
            plan.withGridScheduler(scheduler).execute();
        } catch (Exception e) {
            throw new AssertionError("TornadoVM run of " + graph.getTaskGraphName() + " failed", e);
        }
    }

    /** Runs a matrix task "k" over {@code rows} rows and {@code tokens} tokens (2-D grid of token tiles). */
    static void runTiled(TaskGraph graph, int rows, int tokens) {
        WorkerGrid2D grid = new WorkerGrid2D(rows * Kernels.LOCAL, (tokens + Kernels.TILE - 1) / Kernels.TILE);
        grid.setLocalWork(Kernels.LOCAL, 1, 1);
        GridScheduler scheduler = new GridScheduler(graph.getTaskGraphName() + ".k", grid);
        try (TornadoExecutionPlan plan = new TornadoExecutionPlan(graph.snapshot())) {
            plan.withGridScheduler(scheduler).execute();
        } catch (Exception e) {
            throw new AssertionError("TornadoVM run of " + graph.getTaskGraphName() + " failed", e);
        }
    }

    /** A step array {@code [T, (token, position, cacheBase) per token]} with room for {@code capacity} tokens. */
    static IntArray stepOf(int capacity, int[] tokens, int[] positions, int[] cacheBases) {
        IntArray step = new IntArray(1 + Kernels.STEP_FIELDS * capacity);
        step.set(Kernels.COUNT, tokens.length);
        for (int t = 0; t < tokens.length; t++) {
            step.set(Kernels.stepIndex(t, Kernels.STEP_TOKEN), tokens[t]);
            step.set(Kernels.stepIndex(t, Kernels.STEP_POSITION), positions[t]);
            step.set(Kernels.stepIndex(t, Kernels.STEP_CACHE_BASE), cacheBases[t]);
        }
        return step;
    }

    static TaskGraph graph(String name, Object... inputs) {
        return new TaskGraph(name).transferToDevice(DataTransferMode.EVERY_EXECUTION, inputs);
    }

    static FloatArray randomFloats(int n, double scale) {
        FloatArray a = new FloatArray(n);
        for (int i = 0; i < n; i++) a.set(i, (float) (RANDOM.nextGaussian() * scale));
        return a;
    }

    static void assertClose(double expected, float actual, double tolerance, String what) {
        assertTrue(Math.abs(expected - actual) <= tolerance,
                what + ": expected " + expected + ", got " + actual + " (tolerance " + tolerance + ")");
    }

    // ---------------------------------------------------------------- Q8_0 data in GGUF layout

    /** Random rows quantized to GGUF Q8_0 blocks (fp16 scale little-endian, 32 int8). */
    static ByteArray randomQ8Matrix(int rows, int cols, double scale) {
        int blocks = rows * cols / 32;
        ByteArray bytes = new ByteArray(blocks * 34);
        for (int b = 0; b < blocks; b++) {
            float[] v = new float[32];
            float amax = 0f;
            for (int k = 0; k < 32; k++) {
                v[k] = (float) (RANDOM.nextGaussian() * scale);
                amax = Math.max(amax, Math.abs(v[k]));
            }
            short half = Float.floatToFloat16(amax / 127f);
            float d = Float.float16ToFloat(half);
            bytes.set(b * 34, (byte) half);
            bytes.set(b * 34 + 1, (byte) (half >> 8));
            for (int k = 0; k < 32; k++) bytes.set(b * 34 + 2 + k, (byte) Math.max(-127, Math.min(127, Math.rint(v[k] / d))));
        }
        return bytes;
    }

    static double q8Value(ByteArray w, int row, int col, int cols) {
        int block = (row * cols + col) / 32 * 34;
        short half = (short) ((w.get(block) & 0xFF) | (w.get(block + 1) << 8));
        return (double) Float.float16ToFloat(half) * w.get(block + 2 + col % 32);
    }

    /** ggml's quantize_row_q8_0 on the host (float arithmetic, as ggml): quants and scales. */
    static float[][] quantizeReference(FloatArray x, int dim) {
        return quantizeReference(x, 0, dim);
    }

    /** The same for the {@code dim} values of {@code x} from {@code offset} (one token of a [T, dim] block). */
    static float[][] quantizeReference(FloatArray x, int offset, int dim) {
        FloatArray row = new FloatArray(dim);
        for (int i = 0; i < dim; i++) row.set(i, x.get(offset + i));
        x = row;
        float[] q = new float[dim];
        float[] d = new float[dim / 32];
        for (int b = 0; b < dim / 32; b++) {
            float amax = 0f;
            for (int k = 0; k < 32; k++) amax = Math.max(amax, Math.abs(x.get(b * 32 + k)));
            float id = amax != 0f ? 127f / amax : 0f;
            d[b] = Float.float16ToFloat(Float.floatToFloat16(amax / 127f));
            for (int k = 0; k < 32; k++) q[b * 32 + k] = (float) Math.rint(x.get(b * 32 + k) * id) + 0f;
        }
        return new float[][] {q, d};
    }
}
