package io.sparkglm.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkglm.model.GgmlType;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

/**
 * Differential tests of every weight format's kernels against float64 references on random blocks:
 * dequantizeRow against the test's own decoding, matmul against a float64 sum over the same prepared
 * activations (tight), and against float64 with the raw activations (bounded by the activation rounding).
 */
class WeightMatrixTest {

    static final int[] TOKEN_COUNTS = {1, 3, 17};

    static int colsFor(GgmlType type) {
        return switch (type) {
            case F32 -> 83;      // not a multiple of the vector length: exercises the tails
            case F16, BF16 -> 77;
            case Q8_0, Q4_0, Q5_0, Q5_1 -> 160;
            default -> 512;
        };
    }

    @ParameterizedTest
    @EnumSource
    void dequantizeRowMatchesFloat64Decoding(GgmlType type) {
        Random rnd = new Random(11 + type.ordinal());
        TestFormats.Matrix m = TestFormats.random(type, 9, colsFor(type), rnd);
        WeightMatrix w = m.open();
        assertEquals(type, w.type());
        float[] row = new float[w.cols() + 3];
        for (int r = 0; r < m.rows(); r++) {
            w.dequantizeRow(r, row, 3);
            for (int c = 0; c < w.cols(); c++) {
                assertEquals(m.decoded()[r][c], row[3 + c], m.magnitude()[r][c] * 2e-7, type + " row " + r + " col " + c);
            }
        }
    }

    @ParameterizedTest
    @EnumSource
    void matmulMatchesFloat64OverTheSamePreparedActivations(GgmlType type) {
        Random rnd = new Random(23 + type.ordinal());
        TestFormats.Matrix m = TestFormats.random(type, 37, colsFor(type), rnd);
        WeightMatrix w = m.open();
        for (int n : TOKEN_COUNTS) {
            float[] raw = TestFormats.randomActivations(n, w.cols(), rnd);
            Activations x = Activations.prepare(w.activationFormat(), raw, 0, n, w.cols());
            int stride = w.rows() + 5;
            float[] out = new float[n * stride];
            w.matmul(x, out, stride, 0, w.rows());
            for (int t = 0; t < n; t++) {
                for (int r = 0; r < w.rows(); r++) {
                    double exact = 0, scale = 0;
                    for (int c = 0; c < w.cols(); c++) {
                        exact += m.decoded()[r][c] * x.get(t, c);
                        scale += m.magnitude()[r][c] * Math.abs(x.get(t, c));
                    }
                    if (x.format() == ActivationFormat.Q8_1) exact += q8_1SumCorrection(m, r, x, t);
                    assertEquals(exact, out[t * stride + r], 1e-5 * scale + 1e-30,
                            type + " n=" + n + " token " + t + " row " + r);
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource
    void matmulIsCloseToFloat64WithRawActivations(GgmlType type) {
        Random rnd = new Random(31 + type.ordinal());
        TestFormats.Matrix m = TestFormats.random(type, 21, colsFor(type), rnd);
        WeightMatrix w = m.open();
        int n = 3;
        float[] raw = TestFormats.randomActivations(n, w.cols(), rnd);
        Activations x = Activations.prepare(w.activationFormat(), raw, 0, n, w.cols());
        float[] out = new float[n * w.rows()];
        w.matmul(x, out, w.rows(), 0, w.rows());
        int block = w.activationFormat().blockSize();
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < w.rows(); r++) {
                double exact = 0, bound = 0;
                for (int c0 = 0; c0 < w.cols(); c0 += block) {
                    double amax = 0;
                    for (int c = c0; c < c0 + block; c++) amax = Math.max(amax, Math.abs(raw[t * w.cols() + c]));
                    for (int c = c0; c < c0 + block; c++) {
                        double wv = m.decoded()[r][c], xv = raw[t * w.cols() + c];
                        exact += wv * xv;
                        // with Q8_1 the min's term m * s carries the activations' error whatever d*q + m is: bound by
                        // |d*q| + |m| (the magnitude) rather than |d*q + m|
                        double weight = w.activationFormat() == ActivationFormat.Q8_1 ? m.magnitude()[r][c] : Math.abs(wv);
                        bound += weight * activationError(w.activationFormat(), xv, amax)
                                + 1e-5 * m.magnitude()[r][c] * Math.abs(xv);
                    }
                }
                double got = out[t * w.rows() + r];
                assertTrue(Math.abs(got - exact) <= bound, type + " token " + t + " row " + r + ": " + got
                        + " vs " + exact + ", bound " + bound);
            }
        }
    }

    /**
     * Q5_1 against Q8_1 (ggml_vec_dot_q5_1_q8_1) takes each block's {@code m * sum x} from the activations' stored
     * {@code s = fp16(d_x * sum q_x)}, not from the dequantized values: the float64 sum over {@code decoded * x.get}
     * (which has {@code m * fp16(d_x) * sum q_x}) needs {@code m * (s - fp16(d_x) * sum q_x)} added per block. The
     * block's m is read from the bytes (fp16 at offset 2 of each 24-byte block).
     */
    static double q8_1SumCorrection(TestFormats.Matrix m, int r, Activations x, int t) {
        assertEquals(GgmlType.Q5_1, m.type());
        int blocks = m.cols() / 32;
        double correction = 0;
        for (int b = 0; b < blocks; b++) {
            int at = (int) (r * m.type().byteSize(m.cols())) + 24 * b + 2;
            double min = Float.float16ToFloat((short) ((m.bytes()[at] & 0xff) | m.bytes()[at + 1] << 8));
            double fromScale = 0;
            for (int c = 32 * b; c < 32 * b + 32; c++) fromScale += x.get(t, c);
            correction += min * (x.sums[t * blocks + b] - fromScale);
        }
        return correction;
    }

    /** The largest change the activation format may make to one value {@code x} in a block with max |x| = amax. */
    static double activationError(ActivationFormat f, double x, double amax) {
        return switch (f) {
            case F32 -> 0;
            case F16 -> Math.abs(x) * 0x1p-11 + 0x1p-25;
            case BF16 -> Math.abs(x) * 0x1p-8;
            // half a quantization step, plus the fp16 rounding of the scale (relative 2^-11 of |x|)
            case Q8_0 -> amax / 127 * 0.5 * 1.001 + Math.abs(x) * 0x1p-11;
            // Q8_0's, and the block sum s's fp16 rounding (relative 2^-11 of |s| <= sum |x| plus half steps)
            case Q8_1 -> amax / 127 * 0.5 * 1.002 + Math.abs(x) * 0x1p-10;
            case Q8_K -> amax / 127 * 0.5 * 1.001;
        };
    }

    @ParameterizedTest
    @EnumSource
    void rowRangesAndThreadsGiveTheSameBitsAndTouchNothingElse(GgmlType type) throws Exception {
        Random rnd = new Random(47 + type.ordinal());
        TestFormats.Matrix m = TestFormats.random(type, 53, colsFor(type), rnd);
        WeightMatrix w = m.open();
        int n = 17;
        Activations x = Activations.prepare(w.activationFormat(), TestFormats.randomActivations(n, w.cols(), rnd), 0, n, w.cols());
        float[] whole = new float[n * w.rows()];
        w.matmul(x, whole, w.rows(), 0, w.rows());

        float[] split = new float[2 + n * w.rows()];
        Arrays.fill(split, Float.NaN);
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            List<Future<?>> parts = new ArrayList<>();
            for (int from = 0; from < w.rows(); from += 7) { // 53 rows: the last chunk is short
                int f = from, to = Math.min(w.rows(), from + 7);
                parts.add(pool.submit(() -> w.matmul(x, split, 1, w.rows(), f, to)));
            }
            for (Future<?> p : parts) p.get();
        } finally {
            pool.shutdownNow();
        }
        assertTrue(Float.isNaN(split[0]) && Float.isNaN(split[split.length - 1]), "wrote outside its range");
        assertArrayEquals(whole, Arrays.copyOfRange(split, 1, split.length - 1));

        float[] partial = new float[n * w.rows()];
        Arrays.fill(partial, -7f);
        w.matmul(x, partial, w.rows(), 10, 20);
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < w.rows(); r++) {
                float expected = r >= 10 && r < 20 ? whole[t * w.rows() + r] : -7f;
                assertEquals(expected, partial[t * w.rows() + r], "token " + t + " row " + r);
            }
        }
    }

    @ParameterizedTest
    @EnumSource
    void stackedMatrixIsItsPartsOneAfterAnother(GgmlType type) {
        Random rnd = new Random(59 + type.ordinal());
        int cols = colsFor(type);
        List<TestFormats.Matrix> parts = List.of(TestFormats.random(type, 12, cols, rnd),
                TestFormats.random(type, 5, cols, rnd), TestFormats.random(type, 9, cols, rnd));
        List<WeightMatrix> opened = parts.stream().map(TestFormats.Matrix::open).toList();
        WeightMatrix stack = WeightMatrix.stack(opened);
        assertEquals(26, stack.rows());
        int n = 3;
        Activations x = Activations.prepare(stack.activationFormat(), TestFormats.randomActivations(n, cols, rnd), 0, n, cols);
        float[] all = new float[n * 26];
        stack.matmul(x, all, 26, 8, 21); // spans all three parts
        int start = 0;
        float[] row = new float[cols], stackedRow = new float[cols];
        for (WeightMatrix part : opened) {
            float[] own = new float[n * part.rows()];
            part.matmul(x, own, part.rows(), 0, part.rows());
            for (int r = 0; r < part.rows(); r++) {
                int g = start + r;
                for (int t = 0; t < n; t++) {
                    float expected = g >= 8 && g < 21 ? own[t * part.rows() + r] : 0f;
                    assertEquals(expected, all[t * 26 + g], "stacked row " + g + " token " + t);
                }
                part.dequantizeRow(r, row, 0);
                stack.dequantizeRow(g, stackedRow, 0);
                assertArrayEquals(row, stackedRow);
            }
            start += part.rows();
        }
    }

    @Test
    void badInputGetsAClearException() {
        Random rnd = new Random(5);
        WeightMatrix w = TestFormats.random(GgmlType.Q8_0, 4, 64, rnd).open();
        Activations f32 = Activations.prepare(ActivationFormat.F32, new float[64], 0, 1, 64);
        var e = assertThrows(IllegalArgumentException.class, () -> w.matmul(f32, new float[4], 4, 0, 4));
        assertTrue(e.getMessage().contains("Q8_0"), e.getMessage());
        Activations q = Activations.prepare(ActivationFormat.Q8_0, new float[64], 0, 1, 64);
        assertThrows(IllegalArgumentException.class, () -> w.matmul(q, new float[3], 4, 0, 4));
        assertThrows(IllegalArgumentException.class, () -> w.matmul(q, new float[4], 4, 2, 5));
        assertThrows(IndexOutOfBoundsException.class, () -> w.dequantizeRow(4, new float[64], 0));
        assertThrows(IllegalArgumentException.class,
                () -> WeightMatrix.of(GgmlType.Q8_0, MemorySegment.ofArray(new byte[33]), 1, 32));
        assertThrows(IllegalArgumentException.class,
                () -> WeightMatrix.of(GgmlType.Q8_0, MemorySegment.ofArray(new byte[34]), 1, 30));
        assertThrows(IllegalArgumentException.class, () -> Activations.prepare(ActivationFormat.Q8_K, new float[100], 0, 1, 100));
        assertThrows(IllegalArgumentException.class, () -> Activations.prepare(ActivationFormat.F32, new float[10], 0, 2, 8));
    }
}
