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

    /** Runs a matrix task "k" over {@code rows} rows and {@code tokens} tokens (2-D grid of token tiles). */
    private static void runTiled(TaskGraph graph, int rows, int tokens) {
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
    private static IntArray stepOf(int capacity, int[] tokens, int[] positions, int[] cacheBases) {
        IntArray step = new IntArray(1 + Kernels.STEP_FIELDS * capacity);
        step.set(Kernels.COUNT, tokens.length);
        for (int t = 0; t < tokens.length; t++) {
            step.set(Kernels.stepIndex(t, Kernels.STEP_TOKEN), tokens[t]);
            step.set(Kernels.stepIndex(t, Kernels.STEP_POSITION), positions[t]);
            step.set(Kernels.stepIndex(t, Kernels.STEP_CACHE_BASE), cacheBases[t]);
        }
        return step;
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
        return quantizeReference(x, 0, dim);
    }

    /** The same for the {@code dim} values of {@code x} from {@code offset} (one token of a [T, dim] block). */
    private static float[][] quantizeReference(FloatArray x, int offset, int dim) {
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

    // ---------------------------------------------------------------- embedding, norm, quantization (per token)

    @Test
    void embeddingRowsF32AndQ8ForEveryTokenOfTheStep() {
        int vocab = 50, dim = 96, capacity = 8;
        int[] tokens = {37, 0, 49, 37, 12};
        FloatArray table = randomFloats(vocab * dim, 0.5);
        ByteArray tableQ8 = randomQ8Matrix(vocab, dim, 0.5);
        IntArray step = stepOf(capacity, tokens, new int[5], new int[5]);
        FloatArray x = randomFloats(capacity * dim, 1.0), xq = randomFloats(capacity * dim, 1.0);
        float untouched = x.get(tokens.length * dim);
        KernelContext context = new KernelContext();
        run(graph("embedF32", step, table, x).task("k", Kernels::embedF32, context, step, table, x, dim)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, x), capacity * dim, 32);   // grid larger than T
        run(graph("embedQ8", step, tableQ8).task("k", Kernels::embedQ8, context, step, tableQ8, xq, dim)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, xq), tokens.length * dim, 32);
        for (int t = 0; t < tokens.length; t++) {
            for (int i = 0; i < dim; i++) {
                assertEquals(table.get(tokens[t] * dim + i), x.get(t * dim + i), "F32 token " + t + ", col " + i);
                assertEquals((float) q8Value(tableQ8, tokens[t], i, dim), xq.get(t * dim + i), "Q8_0 token " + t + ", col " + i);
            }
        }
        assertEquals(untouched, x.get(tokens.length * dim), "rows past T are left alone");
    }

    @Test
    void rmsNormPerTokenMatchesFloat64() {
        int dim = 320, tokens = 5, capacity = 7;
        float eps = 1.5625e-7f;
        FloatArray x = randomFloats(capacity * dim, 2.0), w = randomFloats(dim, 0.05), out = new FloatArray(capacity * dim);
        for (int i = 0; i < dim; i++) w.set(i, 1f + w.get(i));
        for (int i = 0; i < dim; i++) x.set(2 * dim + i, x.get(2 * dim + i) * 1e-3f);   // tokens of very different scales
        IntArray count = IntArray.fromElements(tokens);
        KernelContext context = new KernelContext();
        run(graph("rmsNorm", count, x, w).task("k", Kernels::rmsNorm, context, count, x, w, out, dim, eps)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, out), capacity * Kernels.LOCAL, Kernels.LOCAL);
        for (int t = 0; t < capacity; t++) {
            double ss = 0;
            for (int i = 0; i < dim; i++) ss += (double) x.get(t * dim + i) * x.get(t * dim + i);
            double scale = 1 / Math.sqrt(ss / dim + eps);
            for (int i = 0; i < dim; i++) {
                double expected = t < tokens ? x.get(t * dim + i) * scale * w.get(i) : 0;
                assertClose(expected, out.get(t * dim + i), 2e-6, "rmsNorm token " + t + " [" + i + "]");
            }
        }
        // the logits' gather variant: rows 4 and 1, in that order
        IntArray rows = IntArray.fromElements(2, 4, 1, 0);
        FloatArray gathered = new FloatArray(3 * dim);
        run(graph("rmsNormGather", rows, x, w).task("k", Kernels::rmsNormGather, context, rows, x, w, gathered, dim, eps)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, gathered), 3 * Kernels.LOCAL, Kernels.LOCAL);
        for (int i = 0; i < dim; i++) {
            assertEquals(out.get(4 * dim + i), gathered.get(i), "gathered row 0 = token 4");
            assertEquals(out.get(dim + i), gathered.get(dim + i), "gathered row 1 = token 1");
            assertEquals(0f, gathered.get(2 * dim + i), "rows past L untouched");
        }
    }

    @Test
    void activationQuantizationIsGgmlsBitForBitPerToken() {
        int dim = 256, tokens = 3;
        FloatArray x = randomFloats(tokens * dim, 1.0);
        for (int i = 0; i < 32; i++) x.set(64 + i, x.get(64 + i) * 1e-6f);   // a block with an fp16-subnormal scale
        for (int i = 0; i < 32; i++) x.set(dim + 128 + i, 0f);               // an all-zero block
        for (int i = 0; i < 32; i++) x.set(2 * dim + 160 + i, (i - 16) * 0.25f); // exact .5 ties after scaling
        FloatArray xq = new FloatArray(tokens * dim), xd = new FloatArray(tokens * dim / 32);
        IntArray count = IntArray.fromElements(tokens);
        KernelContext context = new KernelContext();
        run(graph("quantizeQ8", count, x).task("k", Kernels::quantizeQ8, context, count, x, xq, xd, dim)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, xq, xd), 32, 16);   // 24 blocks; grid rounded up
        for (int t = 0; t < tokens; t++) {
            float[][] ref = quantizeReference(x, t * dim, dim);
            for (int i = 0; i < dim; i++) assertEquals(ref[0][i], xq.get(t * dim + i), "token " + t + " quant " + i);
            for (int b = 0; b < dim / 32; b++) assertEquals(ref[1][b], xd.get(t * dim / 32 + b), "token " + t + " scale of block " + b);
        }
    }

    // ---------------------------------------------------------------- matrix products over token tiles

    /** 11 tokens: one full tile of 8 and a partial one; buffers hold 16 so rows past T must stay untouched. */
    private static final int TOKENS = 11, CAPACITY = 16;

    @Test
    void f32MatmulsWithBiasResidualAndGateUp() {
        int rows = 40, cols = 200, ffn = 20;
        FloatArray x = randomFloats(CAPACITY * cols, 1.0), w = randomFloats(rows * cols, 0.08), bias = randomFloats(rows, 0.1);
        FloatArray h = randomFloats(CAPACITY * rows, 1.0), h0 = FloatArray.fromArray(h.toHeapArray());
        FloatArray plain = new FloatArray(CAPACITY * rows), biased = new FloatArray(CAPACITY * rows), swiglu = new FloatArray(CAPACITY * ffn);
        IntArray count = IntArray.fromElements(TOKENS);
        FloatArray none = new FloatArray(1);                        // the bias argument of PLAIN and RESIDUAL
        KernelContext c = new KernelContext();
        runTiled(graph("mmF32", count, x, w, none).task("k", Kernels::matmulF32, c, count, x, w, none, plain, cols, rows, Kernels.PLAIN)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, plain), rows, CAPACITY);
        runTiled(graph("mmBiasF32", count, x, w, bias).task("k", Kernels::matmulF32, c, count, x, w, bias, biased, cols, rows, Kernels.BIAS)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, biased), rows, TOKENS);
        runTiled(graph("mmResF32", count, x, w, h, none).task("k", Kernels::matmulF32, c, count, x, w, none, h, cols, rows, Kernels.RESIDUAL)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, h), rows, TOKENS);
        runTiled(graph("gateUpF32", count, x, w).task("k", Kernels::gateUpSiluF32, c, count, x, w, swiglu, cols, ffn)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, swiglu), ffn, TOKENS);
        for (int t = 0; t < CAPACITY; t++) {
            double[] dots = new double[rows];
            for (int r = 0; r < rows; r++) {
                for (int k = 0; k < cols; k++) dots[r] += (double) w.get(r * cols + k) * x.get(t * cols + k);
                int at = t * rows + r;
                if (t >= TOKENS) {
                    assertEquals(0f, plain.get(at), "token " + t + " past T");
                    assertEquals(h0.get(at), h.get(at), "residual of token " + t + " past T");
                    continue;
                }
                assertClose(dots[r], plain.get(at), 1e-5, "token " + t + " W.x row " + r);
                assertClose(dots[r] + bias.get(r), biased.get(at), 1e-5, "token " + t + " W.x+b row " + r);
                assertClose(h0.get(at) + dots[r], h.get(at), 1e-5, "token " + t + " h+W.x row " + r);
            }
            for (int i = 0; t < TOKENS && i < ffn; i++) {
                double g = dots[i], u = dots[ffn + i];
                assertClose(g / (1 + Math.exp(-g)) * u, swiglu.get(t * ffn + i), 1e-5, "token " + t + " silu(gate)*up " + i);
            }
        }
    }

    @Test
    void q8MatmulsAgainstDequantizedFloat64() {
        int rows = 36, cols = 256, ffn = 18, blocks = cols / 32;
        FloatArray x = randomFloats(CAPACITY * cols, 1.0), bias = randomFloats(rows, 0.1);
        ByteArray w = randomQ8Matrix(rows, cols, 0.08);
        FloatArray xq = new FloatArray(CAPACITY * cols), xd = new FloatArray(CAPACITY * blocks);
        for (int t = 0; t < CAPACITY; t++) {
            float[][] q = quantizeReference(x, t * cols, cols);
            for (int i = 0; i < cols; i++) xq.set(t * cols + i, q[0][i]);
            for (int b = 0; b < blocks; b++) xd.set(t * blocks + b, q[1][b]);
        }
        FloatArray h = randomFloats(CAPACITY * rows, 1.0), h0 = FloatArray.fromArray(h.toHeapArray());
        FloatArray plain = new FloatArray(CAPACITY * rows), biased = new FloatArray(CAPACITY * rows), swiglu = new FloatArray(CAPACITY * ffn);
        IntArray count = IntArray.fromElements(TOKENS);
        FloatArray none = new FloatArray(1);                        // the bias argument of PLAIN and RESIDUAL
        KernelContext c = new KernelContext();
        runTiled(graph("mmQ8", count, xq, xd, w, none).task("k", Kernels::matmulQ8, c, count, xq, xd, w, none, plain, cols, rows, Kernels.PLAIN)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, plain), rows, CAPACITY);
        runTiled(graph("mmBiasQ8", count, xq, xd, w, bias).task("k", Kernels::matmulQ8, c, count, xq, xd, w, bias, biased, cols, rows, Kernels.BIAS)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, biased), rows, TOKENS);
        runTiled(graph("mmResQ8", count, xq, xd, w, h, none).task("k", Kernels::matmulQ8, c, count, xq, xd, w, none, h, cols, rows, Kernels.RESIDUAL)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, h), rows, TOKENS);
        runTiled(graph("gateUpQ8", count, xq, xd, w).task("k", Kernels::gateUpSiluQ8, c, count, xq, xd, w, swiglu, cols, ffn)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, swiglu), ffn, TOKENS);
        for (int t = 0; t < CAPACITY; t++) {
            double[] dots = new double[rows];
            for (int r = 0; r < rows; r++) {
                for (int k = 0; k < cols; k++) dots[r] += q8Value(w, r, k, cols) * ((double) xq.get(t * cols + k) * xd.get(t * blocks + k / 32));
                int at = t * rows + r;
                if (t >= TOKENS) {
                    assertEquals(0f, plain.get(at), "token " + t + " past T");
                    assertEquals(h0.get(at), h.get(at), "residual of token " + t + " past T");
                    continue;
                }
                assertClose(dots[r], plain.get(at), 1e-5, "token " + t + " Q8 W.x row " + r);
                assertClose(dots[r] + bias.get(r), biased.get(at), 1e-5, "token " + t + " Q8 W.x+b row " + r);
                assertClose(h0.get(at) + dots[r], h.get(at), 1e-5, "token " + t + " Q8 h+W.x row " + r);
            }
            for (int i = 0; t < TOKENS && i < ffn; i++) {
                double g = dots[i], u = dots[ffn + i];
                assertClose(g / (1 + Math.exp(-g)) * u, swiglu.get(t * ffn + i), 1e-5, "token " + t + " Q8 silu(gate)*up " + i);
            }
        }
    }

    // ---------------------------------------------------------------- RoPE, cache and attention (per token)

    @Test
    void ropeRotatesAdjacentPairsOfTheFirstRopeDimsAndFillsEachTokensCacheRow() {
        int heads = 4, kvHeads = 2, headDim = 32, ropeDims = 16, capacity = 12;
        int qDim = heads * headDim, kvDim = kvHeads * headDim, qkvDim = qDim + 2 * kvDim;
        double ropeBase = 5_000_000;
        int[] positions = {9, 0, 3};
        int[] bases = {3, 3 + capacity, 3};                       // tokens 0 and 2 share a slot, token 1 has another
        int tokens = positions.length;
        FloatArray qkv = randomFloats(tokens * qkvDim, 1.0), original = FloatArray.fromArray(qkv.toHeapArray());
        FloatArray rope = RopeTable.of(capacity, ropeDims, ropeBase).table();
        FloatArray keys = new FloatArray((3 + 2 * capacity) * kvDim), values = new FloatArray((3 + 2 * capacity) * kvDim);
        IntArray step = stepOf(4, new int[tokens], positions, bases);
        KernelContext c = new KernelContext();
        run(graph("rope", step, qkv, rope, keys, values)
                .task("k", Kernels::ropeAndCache, c, step, qkv, rope, keys, values, heads, kvHeads, headDim, ropeDims)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, qkv, keys, values), tokens * (heads + kvHeads) * headDim / 2, 16);
        for (int t = 0; t < tokens; t++) {
            int row = bases[t] + positions[t];
            for (int head = 0; head < heads + kvHeads; head++) {
                for (int d = 0; d < headDim; d += 2) {
                    int i = t * qkvDim + head * headDim + d;
                    double x0 = original.get(i), x1 = original.get(i + 1), e0 = x0, e1 = x1;
                    if (d < ropeDims) {
                        double angle = positions[t] * Math.pow(ropeBase, -(double) d / ropeDims);
                        e0 = x0 * Math.cos(angle) - x1 * Math.sin(angle);
                        e1 = x0 * Math.sin(angle) + x1 * Math.cos(angle);
                    }
                    assertClose(e0, qkv.get(i), 1e-5, "token " + t + " rotated " + i);
                    assertClose(e1, qkv.get(i + 1), 1e-5, "token " + t + " rotated " + (i + 1));
                    if (head >= heads) {
                        assertEquals(qkv.get(i), keys.get(row * kvDim + (head - heads) * headDim + d), "token " + t + " cached key " + i);
                    }
                }
            }
            for (int j = 0; j < kvDim; j++) {
                assertEquals(original.get(t * qkvDim + qDim + kvDim + j), values.get(row * kvDim + j), "token " + t + " cached value " + j);
            }
        }
        assertEquals(0f, keys.get((3 + 8) * kvDim), "other positions untouched");
        assertEquals(0f, keys.get(9 * kvDim + 1), "rows outside the slots untouched");
    }

    @Test
    void attentionPerTokenOverItsOwnSlotWithOnlineSoftmaxAndGqa() {
        int heads = 6, kvHeads = 2, headDim = 40, capacity = 200;
        int qDim = heads * headDim, kvDim = kvHeads * headDim, qkvDim = qDim + 2 * kvDim;
        float scale = (float) (1 / Math.sqrt(headDim));
        int[] positions = {0, 5, Kernels.LOCAL - 1, Kernels.LOCAL, 150, 7};
        int[] bases = {7, 7, 7 + capacity, 7, 7 + capacity, 7 + capacity};   // two sequences' slots
        int tokens = positions.length;
        FloatArray qkv = randomFloats(tokens * qkvDim, 1.0);
        FloatArray keys = randomFloats((7 + 2 * capacity) * kvDim, 1.0), values = randomFloats((7 + 2 * capacity) * kvDim, 1.0);
        IntArray step = stepOf(8, new int[tokens], positions, bases);
        FloatArray out = new FloatArray(8 * qDim);
        KernelContext c = new KernelContext();
        run(graph("attention", step, qkv, keys, values)
                .task("k", Kernels::attention, c, step, qkv, keys, values, out, heads, kvHeads, headDim, scale)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, out), 8 * heads * Kernels.LOCAL, Kernels.LOCAL);
        for (int t = 0; t < tokens; t++) {
            int position = positions[t], base = bases[t];
            for (int h = 0; h < heads; h++) {
                int g = h / (heads / kvHeads);
                double[] s = new double[position + 1];
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int p = 0; p <= position; p++) {
                    for (int d = 0; d < headDim; d++) {
                        s[p] += (double) qkv.get(t * qkvDim + h * headDim + d) * keys.get((base + p) * kvDim + g * headDim + d);
                    }
                    s[p] *= scale;
                    max = Math.max(max, s[p]);
                }
                for (int p = 0; p <= position; p++) sum += s[p] = Math.exp(s[p] - max);
                for (int d = 0; d < headDim; d++) {
                    double ctx = 0;
                    for (int p = 0; p <= position; p++) ctx += s[p] / sum * values.get((base + p) * kvDim + g * headDim + d);
                    assertClose(ctx, out.get(t * qDim + h * headDim + d), 2e-5, "token " + t + " position " + position + " head " + h + " dim " + d);
                }
            }
        }
        for (int i = tokens * qDim; i < 8 * qDim; i++) assertEquals(0f, out.get(i), "tokens past T untouched");
    }
}
