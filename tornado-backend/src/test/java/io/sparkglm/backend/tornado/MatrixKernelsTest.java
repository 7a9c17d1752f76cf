package io.sparkglm.backend.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkglm.model.GgmlType;
import io.sparkglm.model.Quantization;
import io.sparkglm.tensor.ActivationFormat;
import io.sparkglm.tensor.Activations;
import io.sparkglm.tensor.WeightMatrix;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
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
import uk.ac.manchester.tornado.api.types.arrays.ShortArray;

import static io.sparkglm.backend.tornado.KernelTesting.*;

/**
 * Activation quantization and the matrix kernels on the TornadoVM device against ggml-exact and float64
 * references, on random inputs.
 */
class MatrixKernelsTest {

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
        run(graph("quantizeQ8", count, x).task("k", MatrixKernels::quantizeQ8, context, count, x, xq, xd, dim)
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
        runTiled(graph("mmF32", count, x, w, none).task("k", MatrixKernels::matmulF32, c, count, x, w, none, plain, cols, rows, rows, 0, MatrixKernels.PLAIN)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, plain), rows, CAPACITY);
        runTiled(graph("mmBiasF32", count, x, w, bias).task("k", MatrixKernels::matmulF32, c, count, x, w, bias, biased, cols, rows, rows, 0, MatrixKernels.BIAS)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, biased), rows, TOKENS);
        runTiled(graph("mmResF32", count, x, w, h, none).task("k", MatrixKernels::matmulF32, c, count, x, w, none, h, cols, rows, rows, 0, MatrixKernels.RESIDUAL)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, h), rows, TOKENS);
        runTiled(graph("gateUpF32", count, x, w).task("k", MatrixKernels::gateUpSiluF32, c, count, x, w, swiglu, cols, ffn)
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
        runTiled(graph("mmQ8", count, xq, xd, w, none).task("k", MatrixKernels::matmulQ8, c, count, xq, xd, w, none, plain, cols, rows, rows, 0, MatrixKernels.PLAIN)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, plain), rows, CAPACITY);
        runTiled(graph("mmBiasQ8", count, xq, xd, w, bias).task("k", MatrixKernels::matmulQ8, c, count, xq, xd, w, bias, biased, cols, rows, rows, 0, MatrixKernels.BIAS)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, biased), rows, TOKENS);
        runTiled(graph("mmResQ8", count, xq, xd, w, h, none).task("k", MatrixKernels::matmulQ8, c, count, xq, xd, w, none, h, cols, rows, rows, 0, MatrixKernels.RESIDUAL)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, h), rows, TOKENS);
        runTiled(graph("gateUpQ8", count, xq, xd, w).task("k", MatrixKernels::gateUpSiluQ8, c, count, xq, xd, w, swiglu, cols, ffn)
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

    // ---------------------------------------------------------------- activations for 16-bit and K-quant weights

    @Test
    void f16AndBf16ActivationRoundingIsTheEnginesBitForBit() {
        int dim = 96, tokens = 3, capacity = 4;
        FloatArray x = new FloatArray(capacity * dim);
        Random random = new Random(5);
        for (int i = 0; i < x.getSize(); i++) {
            x.set(i, (float) (random.nextGaussian() * Math.pow(2, -30 + 50 * random.nextDouble())));
        }
        float[] special = {1f + 0x1p-11f, 1f + 3 * 0x1p-11f, -(1f + 0x1p-11f), 1f + 0x1p-8f, 1f + 3 * 0x1p-8f, -(1f + 3 * 0x1p-8f),
                3e-6f, -1e-7f, 2.9802322e-8f, 65519f, 65520f, -70000f, 3.4e38f, -3.39e38f, 0x1p-126f, 1.5e-32f, 0.1f, -0.2f,
                1f + 0x1p-9f + 0x1p-11f, 1f + 0x1p-7f + 0x1p-9f};
        // Not covered: f32 subnormal activations (below 2^-126), which fast-relaxed-math kernels and devices that
        // flush subnormals do not round as ggml does; they move a rounded activation by at most 2^-133.
        for (int i = 0; i < special.length; i++) x.set(dim + i, special[i]);    // token 1
        IntArray count = IntArray.fromElements(tokens);
        FloatArray f16 = new FloatArray(capacity * dim), bf16 = new FloatArray(capacity * dim);
        KernelContext c = new KernelContext();
        run(graph("roundF16", count, x).task("k", MatrixKernels::roundF16, c, count, x, f16, dim)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, f16), capacity * dim, 32);
        run(graph("roundBf16", count, x).task("k", MatrixKernels::roundBf16, c, count, x, bf16, dim)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, bf16), capacity * dim, 32);
        for (int i = 0; i < tokens * dim; i++) {                // past T: see q8KQuantizationIsTheEnginesBitForBit
            float v = x.get(i);
            assertEquals(Float.float16ToFloat(Float.floatToFloat16(v)), f16.get(i), "fp16 rounding of " + v);
            assertEquals(Quantization.fromBf16(Quantization.toBf16(v)), bf16.get(i), "bf16 rounding of " + v);
        }
    }

    /** Q8_1 (for Q5_1 weights): Q8_0's quants and scales plus s = fp16(d * sum q), bit for bit as the engine. */
    @Test
    void q8_1QuantizationIsTheEnginesBitForBit() {
        int dim = 256, tokens = 3, capacity = 4, blocks = dim / 32;
        Random random = new Random(9);
        float[] values = new float[capacity * dim];
        for (int i = 0; i < values.length; i++) values[i] = (float) (random.nextGaussian() * Math.pow(2, -6 + 8 * random.nextDouble()));
        for (int i = 0; i < 32; i++) values[32 + i] = 0f;                          // token 0, block 1: all zero
        for (int i = 0; i < 32; i++) values[dim + i] = -Math.abs(values[dim + i]); // token 1, block 0: a negative sum
        FloatArray x = FloatArray.fromArray(values);
        FloatArray xq = new FloatArray(capacity * dim), xd = new FloatArray(capacity * blocks), xs = new FloatArray(capacity * blocks);
        IntArray count = IntArray.fromElements(tokens);
        run(graph("quantizeQ8_1", count, x).task("k", MatrixKernels::quantizeQ8_1, new KernelContext(), count, x, xq, xd, xs, dim)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, xq, xd, xs), capacity * blocks, 32);
        Activations ref = Activations.prepare(ActivationFormat.Q8_1, values, 0, tokens, dim);
        for (int t = 0; t < tokens; t++) {
            for (int b = 0; b < blocks; b++) {
                assertEquals(ref.blockScale(t, b), xd.get(t * blocks + b), "token " + t + " d of block " + b);
                assertEquals(ref.blockSum(t, b), xs.get(t * blocks + b), "token " + t + " s of block " + b);
            }
            for (int i = 0; i < dim; i++) {
                assertTrue(ref.quant(t, i) == xq.get(t * dim + i), "token " + t + " quant " + i);   // -0 == 0: see below
            }
        }
        assertTrue(xs.get(blocks) < 0, "token 1 block 0: negative values, negative s");
    }

    @Test
    void q8KQuantizationIsTheEnginesBitForBit() {
        int dim = 768, tokens = 3, capacity = 4, blocks = dim / 256;
        float[] values = new float[capacity * dim];
        Random random = new Random(6);
        for (int i = 0; i < values.length; i += 16) {              // groups of 16 share a magnitude
            double m = Math.pow(2, -8 + 10 * random.nextDouble());
            for (int j = i; j < i + 16; j++) values[j] = (float) (random.nextGaussian() * m);
        }
        for (int i = 0; i < 256; i++) values[256 + i] = 0f;                       // token 0, block 1: all zero
        values[dim + 40] = 9f;                                                    // token 1, block 0: +9 then -9,
        values[dim + 200] = -9f;                                                  // the first wins (d < 0)
        values[dim + 512 + 7] = -30f;                                             // token 1, block 2: negative extreme
        for (int i = 0; i < 256; i++) values[2 * dim + 256 + i] = (i % 9 - 4) * 0.125f; // token 2, block 1: ties
        values[2 * dim + 256 + 5] = 4f * 127 / 128;
        FloatArray x = FloatArray.fromArray(values);
        FloatArray xq = new FloatArray(capacity * dim), xd = new FloatArray(capacity * blocks), sums = new FloatArray(capacity * dim / 16);
        IntArray count = IntArray.fromElements(tokens);
        run(graph("quantizeQ8K", count, x).task("k", MatrixKernels::quantizeQ8K, new KernelContext(), count, x, xq, xd, sums, dim)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, xq, xd, sums), capacity * dim / 16, 16);
        Activations ref = Activations.prepare(ActivationFormat.Q8_K, values, 0, tokens, dim);
        // Tokens past T are not checked: TornadoVM (5.2.1, PoCL) does not copy these written-only outputs in, so
        // their rows come back as whatever the device buffers held (the backend never reads them).
        for (int t = 0; t < tokens; t++) {
            for (int b = 0; b < blocks; b++) {
                float d = ref.blockScale(t, b);
                assertEquals(d, xd.get(t * blocks + b), "token " + t + " d of block " + b);
            }
            for (int g = 0; g < dim / 16; g++) {
                float sum = ref.groupSum(t, g);
                assertEquals(sum, sums.get(t * dim / 16 + g), "token " + t + " bsum " + g);
            }
            for (int i = 0; i < dim; i++) {
                // compared as numbers: a zero quant may come back as -0 (TornadoVM builds OpenCL with
                // -cl-fast-relaxed-math, which drops signed zeros); ggml stores it as the int8 0 either way
                float q = ref.quant(t, i);
                assertTrue(q == xq.get(t * dim + i), "token " + t + " quant " + i + ": expected " + q + ", got " + xq.get(t * dim + i));
            }
        }
        assertEquals(-1, Math.signum(xd.get(blocks)), "block with +9 first: d = 1/(-127/9) < 0");
    }

    // ---------------------------------------------------------------- products on weights as stored

    /** Activations prepared on the host by the engine (the spec) for a weight type: stored values, scales, sums, and q*d. */
    private record Prepared(FloatArray values, FloatArray scales, FloatArray sums, double[] dense) {}

    private static Prepared prepare(GgmlType type, FloatArray x, int tokens, int cols) {
        ActivationFormat format = DeviceWeights.activationFormat(type);
        Activations a = Activations.prepare(format, x.toHeapArray(), 0, tokens, cols);
        boolean quantized = format == ActivationFormat.Q8_0 || format == ActivationFormat.Q8_1 || format == ActivationFormat.Q8_K;
        int block = format.blockSize();
        FloatArray values = new FloatArray(tokens * cols);
        FloatArray scales = new FloatArray(Math.max(1, quantized ? tokens * cols / block : 1));
        FloatArray sums = new FloatArray(Math.max(1, format == ActivationFormat.Q8_K ? tokens * cols / 16
                : format == ActivationFormat.Q8_1 ? tokens * cols / 32 : 1));
        double[] dense = new double[tokens * cols];
        for (int t = 0; t < tokens; t++) {
            for (int c = 0; c < cols; c++) {
                values.set(t * cols + c, a.quant(t, c));
                dense[t * cols + c] = quantized ? (double) a.quant(t, c) * a.blockScale(t, c / block) : a.quant(t, c);
            }
            for (int b = 0; quantized && b < cols / block; b++) scales.set(t * (cols / block) + b, a.blockScale(t, b));
            for (int g = 0; format == ActivationFormat.Q8_K && g < cols / 16; g++) sums.set(t * (cols / 16) + g, a.groupSum(t, g));
            for (int b = 0; format == ActivationFormat.Q8_1 && b < cols / 32; b++) sums.set(t * (cols / 32) + b, a.blockSum(t, b));
        }
        return new Prepared(values, scales, sums, dense);
    }

    /** {@code out = W x} (mode, output stride and offset as given) by the kernel of {@code type}. */
    private static void matmul(String name, GgmlType type, Prepared x, Object w, FloatArray bias, FloatArray out, IntArray count,
                               int cols, int rows, int outStride, int outOffset, int mode) {
        KernelContext c = new KernelContext();
        FloatArray v = x.values(), d = x.scales(), s = x.sums();
        TaskGraph g = graph(name, count, v, d, s, w, bias, out);
        switch (type) {
            case F32 -> g.task("k", MatrixKernels::matmulF32, c, count, v, (FloatArray) w, bias, out, cols, rows, outStride, outOffset, mode);
            case F16, BF16 -> g.task("k", MatrixKernels::matmulHalf, c, count, v, (ShortArray) w, bias, out, cols, rows, outStride,
                    outOffset, mode, type == GgmlType.BF16 ? Kernels.HALF_BF16 : Kernels.HALF_F16);
            case Q8_0 -> g.task("k", MatrixKernels::matmulQ8, c, count, v, d, (ByteArray) w, bias, out, cols, rows, outStride, outOffset, mode);
            case Q4_0, Q5_0, Q5_1 -> g.task("k", MatrixKernels::matmulNibbles, c, count, v, d, s, (ByteArray) w, bias, out, cols, rows,
                    outStride, outOffset, mode, TornadoBackend.nibbleFormat(type));
            case Q4_K, Q5_K -> g.task("k", MatrixKernels::matmulQ45K, c, count, v, d, s, (ByteArray) w, bias, out, cols, rows, outStride,
                    outOffset, mode, type == GgmlType.Q5_K ? 1 : 0);
            case Q6_K -> g.task("k", MatrixKernels::matmulQ6K, c, count, v, d, (ByteArray) w, bias, out, cols, rows, outStride, outOffset, mode);
        }
        runTiled(g.transferToHost(DataTransferMode.EVERY_EXECUTION, out), rows, CAPACITY);
    }

    private static void gateUp(String name, GgmlType type, Prepared x, Object w, FloatArray out, IntArray count, int cols, int ffn) {
        KernelContext c = new KernelContext();
        FloatArray v = x.values(), d = x.scales(), s = x.sums();
        TaskGraph g = graph(name, count, v, d, s, w);
        switch (type) {
            case F32 -> g.task("k", MatrixKernels::gateUpSiluF32, c, count, v, (FloatArray) w, out, cols, ffn);
            case F16, BF16 -> g.task("k", MatrixKernels::gateUpSiluHalf, c, count, v, (ShortArray) w, out, cols, ffn,
                    type == GgmlType.BF16 ? Kernels.HALF_BF16 : Kernels.HALF_F16);
            case Q8_0 -> g.task("k", MatrixKernels::gateUpSiluQ8, c, count, v, d, (ByteArray) w, out, cols, ffn);
            case Q4_0, Q5_0, Q5_1 -> g.task("k", MatrixKernels::gateUpSiluNibbles, c, count, v, d, s, (ByteArray) w, out, cols, ffn,
                    TornadoBackend.nibbleFormat(type));
            case Q4_K, Q5_K -> g.task("k", MatrixKernels::gateUpSiluQ45K, c, count, v, d, s, (ByteArray) w, out, cols, ffn,
                    type == GgmlType.Q5_K ? 1 : 0);
            case Q6_K -> g.task("k", MatrixKernels::gateUpSiluQ6K, c, count, v, d, (ByteArray) w, out, cols, ffn);
        }
        runTiled(g.transferToHost(DataTransferMode.EVERY_EXECUTION, out), ffn, CAPACITY);
    }

    /**
     * Every stored format's product kernels (plain; bias; residual into a wider output at a row offset, as one part
     * of a fused QKV does; fused gate/up + SiLU) against a float64 reference: the weights' exact values times the
     * activations the engine prepares for that format (fp16/bf16-rounded values, or Q8_0/Q8_K quants times
     * scales). 11 tokens (a full tile and a partial one); the residual output's tokens past T and its columns
     * outside the part stay untouched (written-only outputs past T are not checked: see
     * q8KQuantizationIsTheEnginesBitForBit).
     */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F16", "BF16", "Q4_0", "Q5_0", "Q5_1", "Q8_0", "Q4_K", "Q5_K", "Q6_K"})
    void storedFormatMatmulsAgainstFloat64(GgmlType type) {
        int rows = 24, cols = 512, ffn = 12, wide = rows + 5, offset = 3;
        Random random = new Random(type.ordinal() + 40);
        QuantBlocks.Blocks blocks = QuantBlocks.random(type, rows, cols, 0.05, random);
        Object w = blocks.deviceArray();
        FloatArray x = new FloatArray(CAPACITY * cols);
        for (int i = 0; i < x.getSize(); i += 16) {
            double m = Math.pow(2, -3 + 4 * random.nextDouble());
            for (int j = i; j < i + 16; j++) x.set(j, (float) (random.nextGaussian() * m));
        }
        Prepared p = prepare(type, x, CAPACITY, cols);
        FloatArray bias = randomFloats(rows, 0.1);
        FloatArray h = randomFloats(CAPACITY * wide, 1.0), h0 = FloatArray.fromArray(h.toHeapArray());
        FloatArray plain = new FloatArray(CAPACITY * rows), biased = new FloatArray(CAPACITY * rows), swiglu = new FloatArray(CAPACITY * ffn);
        IntArray count = IntArray.fromElements(TOKENS);
        FloatArray none = new FloatArray(1);
        matmul("plain" + type, type, p, w, none, plain, count, cols, rows, rows, 0, MatrixKernels.PLAIN);
        matmul("bias" + type, type, p, w, bias, biased, count, cols, rows, rows, 0, MatrixKernels.BIAS);
        matmul("res" + type, type, p, w, none, h, count, cols, rows, wide, offset, MatrixKernels.RESIDUAL);
        gateUp("gateUp" + type, type, p, w, swiglu, count, cols, ffn);
        for (int t = 0; t < CAPACITY; t++) {
            double[] dots = new double[rows], mags = new double[rows];
            for (int r = 0; r < rows; r++) {
                for (int k = 0; k < cols; k++) {
                    double term = blocks.value(r, k) * p.dense()[t * cols + k];
                    dots[r] += term;
                    mags[r] += Math.abs(term);
                }
                // Q5_1 against Q8_1 (ggml): each block's min meets the stored s = fp16(d * sum q), not sum(q * fp16(d))
                for (int b = 0; type == GgmlType.Q5_1 && t < TOKENS && b < cols / 32; b++) {
                    double dense = 0;
                    for (int k = b * 32; k < b * 32 + 32; k++) dense += p.dense()[t * cols + k];
                    dots[r] += QuantBlocks.q5_1Min(blocks, r, b) * (p.sums().get(t * (cols / 32) + b) - dense);
                }
            }
            for (int col = 0; col < wide; col++) {
                int at = t * wide + col;
                boolean inPart = col >= offset && col < offset + rows;
                if (t >= TOKENS || !inPart) {
                    assertEquals(h0.get(at), h.get(at), "token " + t + " column " + col + " (outside the part or past T)");
                } else {
                    int r = col - offset;
                    assertClose(h0.get(at) + dots[r], h.get(at), 4e-6 * mags[r] + 2e-6, type + " token " + t + " h+W.x row " + r);
                }
            }
            for (int r = 0; t < TOKENS && r < rows; r++) {
                int at = t * rows + r;
                double tol = 4e-6 * mags[r] + 1e-6;
                assertClose(dots[r], plain.get(at), tol, type + " token " + t + " W.x row " + r);
                assertClose(dots[r] + bias.get(r), biased.get(at), tol, type + " token " + t + " W.x+b row " + r);
            }
            for (int i = 0; t < TOKENS && i < ffn; i++) {
                double g = dots[i], u = dots[ffn + i], silu = g / (1 + Math.exp(-g));
                double tol = 4e-6 * (mags[i] * Math.abs(u) * 1.1 + mags[ffn + i] * Math.abs(silu)) + 1e-6;
                assertClose(silu * u, swiglu.get(t * ffn + i), tol, type + " token " + t + " silu(gate)*up " + i);
            }
        }
    }

    /** Every stored format's embedding lookup: rows decoded bit for bit as the engine's host code decodes them. */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class)
    void embeddingLookupPerFormatIsTheEnginesRow(GgmlType type) {
        int vocab = 12, dim = 512, capacity = 8;
        int[] tokens = {5, 0, 11, 5, 7};
        QuantBlocks.Blocks blocks = QuantBlocks.random(type, vocab, dim, 0.5, new Random(type.ordinal() + 60));
        Object table = blocks.deviceArray();
        IntArray step = stepOf(capacity, tokens, new int[tokens.length], new int[tokens.length]);
        FloatArray x = new FloatArray(capacity * dim);
        x.init(7f);
        KernelContext c = new KernelContext();
        TaskGraph g = graph("embed" + type, step, table, x);
        switch (type) {
            case F32 -> g.task("k", Kernels::embedF32, c, step, (FloatArray) table, x, dim);
            case F16 -> g.task("k", Kernels::embedHalf, c, step, (ShortArray) table, x, dim, Kernels.HALF_F16);
            case BF16 -> g.task("k", Kernels::embedHalf, c, step, (ShortArray) table, x, dim, Kernels.HALF_BF16);
            case Q8_0 -> g.task("k", Kernels::embedQ8, c, step, (ByteArray) table, x, dim);
            case Q4_0, Q5_0, Q5_1 -> g.task("k", Kernels::embedNibbles, c, step, (ByteArray) table, x, dim,
                    TornadoBackend.nibbleFormat(type));
            case Q4_K -> g.task("k", Kernels::embedQ45K, c, step, (ByteArray) table, x, dim, 0);
            case Q5_K -> g.task("k", Kernels::embedQ45K, c, step, (ByteArray) table, x, dim, 1);
            case Q6_K -> g.task("k", Kernels::embedQ6K, c, step, (ByteArray) table, x, dim);
        }
        run(g.transferToHost(DataTransferMode.EVERY_EXECUTION, x), capacity * dim, Kernels.LOCAL);
        WeightMatrix host = blocks.host();
        float[] row = new float[dim];
        for (int t = 0; t < capacity; t++) {
            if (t < tokens.length) host.dequantizeRow(tokens[t], row, 0);
            for (int i = 0; i < dim; i++) {
                if (t >= tokens.length) {
                    // Seen with TornadoVM 5.2.1 on PoCL: when the task also takes a ByteArray or ShortArray, the
                    // written-only x is not copied in, so rows past T come back as whatever the device buffer held
                    // (the backend never reads them). Only the F32 lookup can show that it leaves them alone.
                    if (type == GgmlType.F32) assertEquals(7f, x.get(t * dim + i), "token " + t + " past T");
                    continue;
                }
                assertEquals(row[i], x.get(t * dim + i), type + " token " + t + " value " + i);
                double exact = blocks.value(tokens[t], i);
                assertClose(exact, x.get(t * dim + i), 1e-6 * Math.abs(exact) + 1e-30, type + " token " + t + " value " + i + " vs float64");
            }
        }
    }

    // ---------------------------------------------------------------- RoPE, cache and attention (per token)
}
