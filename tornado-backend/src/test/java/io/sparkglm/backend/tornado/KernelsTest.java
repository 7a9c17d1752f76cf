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
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.types.arrays.ByteArray;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * Every kernel on the TornadoVM device against a naive float64 reference, on random inputs. Run with
 * -Dtornado.recover.bailout=False (the module's surefire setup), so a kernel that does not compile for
 * the device fails here instead of silently running on the host.
 */
class KernelsTest {

    private static final Random RANDOM = new Random(20260822);

    // ---------------------------------------------------------------- harness

    /** Runs {@code graph}'s single task "k" on {@code global} threads in groups of {@code local}. */
    private static void run(TaskGraph graph, int global, int local) {
        WorkerGrid1D grid = new WorkerGrid1D(global);
        grid.setLocalWork(local, 1, 1);
        GridScheduler scheduler = new GridScheduler(graph.getTaskGraphName() + ".k", grid);
        try (TornadoExecutionPlan plan = new TornadoExecutionPlan(graph.snapshot())) {
            plan.withGridScheduler(scheduler).execute();
        } catch (Exception e) {
            throw new AssertionError("TornadoVM run of " + graph.getTaskGraphName() + " failed", e);
        }
    }

    private static TaskGraph graph(String name, Object... inputs) {
        return new TaskGraph(name).transferToDevice(DataTransferMode.EVERY_EXECUTION, inputs);
    }

    private static FloatArray randomFloats(int n, double scale) {
        FloatArray a = new FloatArray(n);
        for (int i = 0; i < n; i++) a.set(i, (float) (RANDOM.nextGaussian() * scale));
        return a;
    }

    private static void assertClose(double expected, float actual, double tolerance, String what) {
        assertTrue(Math.abs(expected - actual) <= tolerance,
                what + ": expected " + expected + ", got " + actual + " (tolerance " + tolerance + ")");
    }

    // ---------------------------------------------------------------- Q8_0 data in GGUF layout

    /** Random rows quantized to GGUF Q8_0 blocks (fp16 scale little-endian, 32 int8). */
    private static ByteArray randomQ8Matrix(int rows, int cols, double scale) {
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

    private static double q8Value(ByteArray w, int row, int col, int cols) {
        int block = (row * cols + col) / 32 * 34;
        short half = (short) ((w.get(block) & 0xFF) | (w.get(block + 1) << 8));
        return (double) Float.float16ToFloat(half) * w.get(block + 2 + col % 32);
    }

    /** ggml's quantize_row_q8_0 on the host (float arithmetic, as ggml): quants and scales. */
    private static float[][] quantizeReference(FloatArray x, int dim) {
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

    // ---------------------------------------------------------------- scalar helpers on the device

    @Test
    void fp16DecodeMatchesTheJdkForEveryFinitePattern() {
        int n = 31 * 1024 * 2;                                   // exponents 0..30, both signs
        ByteArray bytes = new ByteArray(2 * n);
        int i = 0;
        for (int sign = 0; sign < 2; sign++) {
            for (int bits = 0; bits < 31 * 1024; bits++, i++) {
                int h = (sign << 15) | bits;
                bytes.set(2 * i, (byte) h);
                bytes.set(2 * i + 1, (byte) (h >> 8));
            }
        }
        FloatArray out = new FloatArray(n);
        KernelContext context = new KernelContext();
        run(graph("fp16decode", bytes).task("k", TestKernels::decodeFp16, context, bytes, out, n)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, out), n, 64);
        for (int j = 0; j < n; j++) {
            short h = (short) ((bytes.get(2 * j) & 0xFF) | (bytes.get(2 * j + 1) << 8));
            assertEquals(Float.float16ToFloat(h), out.get(j), "fp16 pattern 0x" + Integer.toHexString(h & 0xFFFF));
        }
    }

    @Test
    void roundToFp16MatchesTheJdkIncludingTiesAndSubnormals() {
        int n = 4096;
        FloatArray in = new FloatArray(n);
        for (int j = 0; j < n; j++) {
            float v = switch (j % 4) {
                case 0 -> (float) Math.abs(RANDOM.nextGaussian() * Math.pow(10, RANDOM.nextInt(9) - 6));
                case 1 -> {                                          // exact midpoints between two fp16 values
                    short h = (short) RANDOM.nextInt(0x7BFF);
                    yield (Float.float16ToFloat(h) + Float.float16ToFloat((short) (h + 1))) / 2f;
                }
                case 2 -> (float) (RANDOM.nextDouble() * 6.1e-5);   // fp16 subnormal range
                default -> Float.float16ToFloat((short) RANDOM.nextInt(0x7BFF)); // already representable
            };
            in.set(j, v);
        }
        FloatArray out = new FloatArray(n);
        KernelContext context = new KernelContext();
        run(graph("fp16round", in).task("k", TestKernels::roundFp16, context, in, out, n)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, out), n, 64);
        for (int j = 0; j < n; j++) {
            assertEquals(Float.float16ToFloat(Float.floatToFloat16(in.get(j))), out.get(j), "round " + in.get(j));
        }
    }

    // ---------------------------------------------------------------- embedding, norm, quantization

    @Test
    void embeddingRowsF32AndQ8() {
        int vocab = 50, dim = 96;
        FloatArray table = randomFloats(vocab * dim, 0.5);
        ByteArray tableQ8 = randomQ8Matrix(vocab, dim, 0.5);
        IntArray step = IntArray.fromElements(37, 0, 0);
        FloatArray x = new FloatArray(dim), xq = new FloatArray(dim);
        KernelContext context = new KernelContext();
        run(graph("embedF32", step, table).task("k", Kernels::embedF32, context, step, table, x, dim)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, x), dim, 32);
        run(graph("embedQ8", step, tableQ8).task("k", Kernels::embedQ8, context, step, tableQ8, xq, dim)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, xq), dim, 32);
        for (int i = 0; i < dim; i++) {
            assertEquals(table.get(37 * dim + i), x.get(i), "F32 row, col " + i);
            assertEquals((float) q8Value(tableQ8, 37, i, dim), xq.get(i), "Q8_0 row, col " + i);
        }
    }

    @Test
    void rmsNormMatchesFloat64() {
        int dim = 320;
        float eps = 1.5625e-7f;
        FloatArray x = randomFloats(dim, 2.0), w = randomFloats(dim, 0.05), out = new FloatArray(dim);
        for (int i = 0; i < dim; i++) w.set(i, 1f + w.get(i));
        KernelContext context = new KernelContext();
        run(graph("rmsNorm", x, w).task("k", Kernels::rmsNorm, context, x, w, out, dim, eps)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, out), Kernels.LOCAL, Kernels.LOCAL);
        double ss = 0;
        for (int i = 0; i < dim; i++) ss += (double) x.get(i) * x.get(i);
        double scale = 1 / Math.sqrt(ss / dim + eps);
        for (int i = 0; i < dim; i++) assertClose(x.get(i) * scale * w.get(i), out.get(i), 2e-6, "rmsNorm[" + i + "]");
    }

    @Test
    void activationQuantizationIsGgmlsBitForBit() {
        int dim = 512;
        FloatArray x = randomFloats(dim, 1.0);
        for (int i = 0; i < 32; i++) x.set(64 + i, x.get(64 + i) * 1e-6f);   // a block with an fp16-subnormal scale
        for (int i = 0; i < 32; i++) x.set(128 + i, 0f);                      // an all-zero block
        for (int i = 0; i < 32; i++) x.set(160 + i, (i - 16) * 0.25f);         // exact .5 ties after scaling
        FloatArray xq = new FloatArray(dim), xd = new FloatArray(dim / 32);
        KernelContext context = new KernelContext();
        run(graph("quantizeQ8", x).task("k", Kernels::quantizeQ8, context, x, xq, xd, dim)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, xq, xd), dim / 32, 16);
        float[][] ref = quantizeReference(x, dim);
        for (int i = 0; i < dim; i++) assertEquals(ref[0][i], xq.get(i), "quant " + i + " of x=" + x.get(i));
        for (int b = 0; b < dim / 32; b++) assertEquals(ref[1][b], xd.get(b), "scale of block " + b);
    }

    // ---------------------------------------------------------------- matrix-vector products

    @Test
    void f32MatvecsWithBiasResidualAndGateUp() {
        int rows = 40, cols = 200, ffn = 20;
        FloatArray x = randomFloats(cols, 1.0), w = randomFloats(rows * cols, 0.08), bias = randomFloats(rows, 0.1);
        FloatArray h = randomFloats(rows, 1.0), h0 = FloatArray.fromArray(h.toHeapArray());
        FloatArray plain = new FloatArray(rows), biased = new FloatArray(rows), swiglu = new FloatArray(ffn);
        KernelContext c = new KernelContext();
        int global = rows * Kernels.LOCAL;
        run(graph("mvF32", x, w).task("k", Kernels::matvecF32, c, x, w, plain, cols)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, plain), global, Kernels.LOCAL);
        run(graph("mvBiasF32", x, w, bias).task("k", Kernels::matvecBiasF32, c, x, w, bias, biased, cols)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, biased), global, Kernels.LOCAL);
        run(graph("mvResF32", x, w, h).task("k", Kernels::matvecResidualF32, c, x, w, h, cols)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, h), global, Kernels.LOCAL);
        run(graph("gateUpF32", x, w).task("k", Kernels::gateUpSiluF32, c, x, w, swiglu, cols, ffn)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, swiglu), ffn * Kernels.LOCAL, Kernels.LOCAL);
        double[] dots = new double[rows];
        for (int r = 0; r < rows; r++) {
            for (int k = 0; k < cols; k++) dots[r] += (double) w.get(r * cols + k) * x.get(k);
            assertClose(dots[r], plain.get(r), 1e-5, "W.x row " + r);
            assertClose(dots[r] + bias.get(r), biased.get(r), 1e-5, "W.x+b row " + r);
            assertClose(h0.get(r) + dots[r], h.get(r), 1e-5, "h+W.x row " + r);
        }
        for (int i = 0; i < ffn; i++) {
            double g = dots[i], u = dots[ffn + i];
            assertClose(g / (1 + Math.exp(-g)) * u, swiglu.get(i), 1e-5, "silu(gate)*up " + i);
        }
    }

    @Test
    void q8MatvecsAgainstDequantizedFloat64() {
        int rows = 36, cols = 256, ffn = 18;
        FloatArray x = randomFloats(cols, 1.0), bias = randomFloats(rows, 0.1);
        ByteArray w = randomQ8Matrix(rows, cols, 0.08);
        float[][] q = quantizeReference(x, cols);
        FloatArray xq = FloatArray.fromArray(q[0]), xd = FloatArray.fromArray(q[1]);
        FloatArray h = randomFloats(rows, 1.0), h0 = FloatArray.fromArray(h.toHeapArray());
        FloatArray plain = new FloatArray(rows), biased = new FloatArray(rows), swiglu = new FloatArray(ffn);
        KernelContext c = new KernelContext();
        int global = rows * Kernels.LOCAL;
        run(graph("mvQ8", xq, xd, w).task("k", Kernels::matvecQ8, c, xq, xd, w, plain, cols)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, plain), global, Kernels.LOCAL);
        run(graph("mvBiasQ8", xq, xd, w, bias).task("k", Kernels::matvecBiasQ8, c, xq, xd, w, bias, biased, cols)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, biased), global, Kernels.LOCAL);
        run(graph("mvResQ8", xq, xd, w, h).task("k", Kernels::matvecResidualQ8, c, xq, xd, w, h, cols)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, h), global, Kernels.LOCAL);
        run(graph("gateUpQ8", xq, xd, w).task("k", Kernels::gateUpSiluQ8, c, xq, xd, w, swiglu, cols, ffn)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, swiglu), ffn * Kernels.LOCAL, Kernels.LOCAL);
        double[] dots = new double[rows];
        for (int r = 0; r < rows; r++) {
            for (int k = 0; k < cols; k++) dots[r] += q8Value(w, r, k, cols) * ((double) q[0][k] * q[1][k / 32]);
            assertClose(dots[r], plain.get(r), 1e-5, "Q8 W.x row " + r);
            assertClose(dots[r] + bias.get(r), biased.get(r), 1e-5, "Q8 W.x+b row " + r);
            assertClose(h0.get(r) + dots[r], h.get(r), 1e-5, "Q8 h+W.x row " + r);
        }
        for (int i = 0; i < ffn; i++) {
            double g = dots[i], u = dots[ffn + i];
            assertClose(g / (1 + Math.exp(-g)) * u, swiglu.get(i), 1e-5, "Q8 silu(gate)*up " + i);
        }
    }

    // ---------------------------------------------------------------- RoPE, cache and attention

    @Test
    void ropeRotatesAdjacentPairsOfTheFirstRopeDimsAndFillsTheCache() {
        int heads = 4, kvHeads = 2, headDim = 32, ropeDims = 16, capacity = 12, position = 9;
        int qDim = heads * headDim, kvDim = kvHeads * headDim;
        double ropeBase = 5_000_000;
        FloatArray qkv = randomFloats(qDim + 2 * kvDim, 1.0), original = FloatArray.fromArray(qkv.toHeapArray());
        FloatArray rope = RopeTable.of(capacity, ropeDims, ropeBase).table();
        int base = 3;                                              // this sequence's slot starts at cache row 3
        FloatArray keys = new FloatArray((base + capacity) * kvDim), values = new FloatArray((base + capacity) * kvDim);
        IntArray step = IntArray.fromElements(0, position, base);
        KernelContext c = new KernelContext();
        run(graph("rope", step, qkv, rope, keys, values)
                .task("k", Kernels::ropeAndCache, c, step, qkv, rope, keys, values, heads, kvHeads, headDim, ropeDims)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, qkv, keys, values), (heads + kvHeads) * headDim / 2, 16);
        for (int head = 0; head < heads + kvHeads; head++) {
            for (int d = 0; d < headDim; d += 2) {
                int i = head * headDim + d;
                double x0 = original.get(i), x1 = original.get(i + 1), e0 = x0, e1 = x1;
                if (d < ropeDims) {
                    double angle = position * Math.pow(ropeBase, -(double) d / ropeDims);
                    e0 = x0 * Math.cos(angle) - x1 * Math.sin(angle);
                    e1 = x0 * Math.sin(angle) + x1 * Math.cos(angle);
                }
                assertClose(e0, qkv.get(i), 1e-5, "rotated " + i);
                assertClose(e1, qkv.get(i + 1), 1e-5, "rotated " + (i + 1));
                if (head >= heads) {
                    assertEquals(qkv.get(i), keys.get((base + position) * kvDim + i - qDim), "cached key " + i);
                }
            }
        }
        for (int j = 0; j < kvDim; j++) {
            assertEquals(original.get(qDim + kvDim + j), values.get((base + position) * kvDim + j), "cached value " + j);
        }
        assertEquals(0f, keys.get((base + position - 1) * kvDim), "other positions untouched");
        assertEquals(0f, keys.get(position * kvDim + 1), "rows outside the slot untouched");
    }

    @Test
    void attentionWithOnlineSoftmaxOverSeveralTilesAndGqa() {
        int heads = 6, kvHeads = 2, headDim = 40, capacity = 200;
        int qDim = heads * headDim, kvDim = kvHeads * headDim;
        float scale = (float) (1 / Math.sqrt(headDim));
        FloatArray qkv = randomFloats(qDim + 2 * kvDim, 1.0);
        int base = 7;                                              // slot start: rows before it belong to others
        FloatArray keys = randomFloats((base + capacity) * kvDim, 1.0), values = randomFloats((base + capacity) * kvDim, 1.0);
        for (int position : new int[] {0, 5, Kernels.LOCAL - 1, Kernels.LOCAL, 150}) {
            IntArray step = IntArray.fromElements(0, position, base);
            FloatArray out = new FloatArray(qDim);
            KernelContext c = new KernelContext();
            run(graph("attention" + position, step, qkv, keys, values)
                    .task("k", Kernels::attention, c, step, qkv, keys, values, out, heads, kvHeads, headDim, scale)
                    .transferToHost(DataTransferMode.EVERY_EXECUTION, out), heads * Kernels.LOCAL, Kernels.LOCAL);
            for (int h = 0; h < heads; h++) {
                int g = h / (heads / kvHeads);
                double[] s = new double[position + 1];
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int p = 0; p <= position; p++) {
                    for (int d = 0; d < headDim; d++) s[p] += (double) qkv.get(h * headDim + d) * keys.get((base + p) * kvDim + g * headDim + d);
                    s[p] *= scale;
                    max = Math.max(max, s[p]);
                }
                for (int p = 0; p <= position; p++) sum += s[p] = Math.exp(s[p] - max);
                for (int d = 0; d < headDim; d++) {
                    double ctx = 0;
                    for (int p = 0; p <= position; p++) ctx += s[p] / sum * values.get((base + p) * kvDim + g * headDim + d);
                    assertClose(ctx, out.get(h * headDim + d), 2e-5, "position " + position + " head " + h + " dim " + d);
                }
            }
        }
    }
}
