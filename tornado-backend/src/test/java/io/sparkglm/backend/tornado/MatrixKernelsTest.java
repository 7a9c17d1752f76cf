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
        runTiled(graph("mmF32", count, x, w, none).task("k", MatrixKernels::matmulF32, c, count, x, w, none, plain, cols, rows, MatrixKernels.PLAIN)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, plain), rows, CAPACITY);
        runTiled(graph("mmBiasF32", count, x, w, bias).task("k", MatrixKernels::matmulF32, c, count, x, w, bias, biased, cols, rows, MatrixKernels.BIAS)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, biased), rows, TOKENS);
        runTiled(graph("mmResF32", count, x, w, h, none).task("k", MatrixKernels::matmulF32, c, count, x, w, none, h, cols, rows, MatrixKernels.RESIDUAL)
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
        runTiled(graph("mmQ8", count, xq, xd, w, none).task("k", MatrixKernels::matmulQ8, c, count, xq, xd, w, none, plain, cols, rows, MatrixKernels.PLAIN)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, plain), rows, CAPACITY);
        runTiled(graph("mmBiasQ8", count, xq, xd, w, bias).task("k", MatrixKernels::matmulQ8, c, count, xq, xd, w, bias, biased, cols, rows, MatrixKernels.BIAS)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, biased), rows, TOKENS);
        runTiled(graph("mmResQ8", count, xq, xd, w, h, none).task("k", MatrixKernels::matmulQ8, c, count, xq, xd, w, none, h, cols, rows, MatrixKernels.RESIDUAL)
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

    // ---------------------------------------------------------------- RoPE, cache and attention (per token)
}
