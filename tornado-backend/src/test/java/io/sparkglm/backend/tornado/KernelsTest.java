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
 * The shared kernels (fp16 helpers, embedding, RMSNorm) on the TornadoVM device against the JDK and float64
 * references, on random inputs.
 */
class KernelsTest {

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
}
