package io.sparkglm.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkglm.model.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A token's matmul output must not depend on how many tokens share the call nor on where it sits in
 * the token tiles: continuous batching gives a sequence the same greedy ids alone or in a batch only if
 * this holds bit for bit. Every format, every position of every batch size, random data.
 */
class BatchInvarianceTest {

    static final int[] BATCH_SIZES = {2, 3, 4, 5, 8, 17, 64};

    /** Row lengths that reach every tail of the kernels (no full vector pair, a leftover vector, scalars). */
    static int[] colsFor(GgmlType type) {
        return switch (type) {
            case F32, F16, BF16 -> new int[] {77, 112, 131};
            case Q8_0, Q4_0, Q5_0, Q5_1 -> new int[] {160};
            default -> new int[] {512};
        };
    }

    @ParameterizedTest
    @EnumSource
    void aTokensOutputIsBitIdenticalAloneAndAtEveryPositionOfEveryBatch(GgmlType type) {
        for (int cols : colsFor(type)) {
            Random rnd = new Random(31L * cols + type.ordinal());
            WeightMatrix w = TestFormats.random(type, 19, cols, rnd).open();
            int rows = w.rows();
            for (int n : BATCH_SIZES) {
                float[] raw = TestFormats.randomActivations(n, cols, rnd);
                float[] batched = new float[n * rows];
                w.matmul(Activations.prepare(w.activationFormat(), raw, 0, n, cols), batched, rows, 0, rows);
                float[] alone = new float[rows];
                for (int t = 0; t < n; t++) {
                    w.matmul(Activations.prepare(w.activationFormat(), raw, t * cols, 1, cols), alone, rows, 0, rows);
                    for (int r = 0; r < rows; r++) {
                        assertEquals(Float.floatToRawIntBits(alone[r]), Float.floatToRawIntBits(batched[t * rows + r]),
                                type + " cols=" + cols + " n=" + n + " token " + t + " row " + r + ": alone " + alone[r]
                                        + ", batched " + batched[t * rows + r]);
                    }
                }
            }
        }
    }

    /** The fast fp16 widening (finite rows) equals the exact conversion for every finite half. */
    @Test
    void fastHalfWideningIsExactForEveryFiniteHalf() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment halfs = arena.allocate(2L * 65536, 64);
            for (int h = 0; h < 65536; h++) halfs.set(Simd.FP16, 2L * h, (short) h);
            float[] lanes = new float[Simd.L];
            int checked = 0;
            for (int h = 0; h < 65536; h += Simd.L) {
                boolean finite = !Simd.hasNonFiniteHalf(halfs, 2L * h, Simd.L);
                assertEquals((h & 0x7c00) != 0x7c00, finite, "finiteness of halves from " + h);
                if (!finite) continue;
                Simd.finiteHalfsToFloats(halfs, 2L * h).intoArray(lanes, 0);
                for (int i = 0; i < Simd.L; i++) {
                    float expected = Float.float16ToFloat((short) (h + i));
                    assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(lanes[i]), "half 0x" + Integer.toHexString(h + i));
                    checked++;
                }
            }
            assertEquals(2 * 31 * 1024, checked);
        }
    }

    /** A row holding an infinity or NaN takes the exact widening; the other rows keep their values. */
    @Test
    void f16RowsWithInfinityOrNaNStayExact() {
        int cols = 96, rows = 3;
        Random rnd = new Random(5);
        TestFormats.Matrix m = TestFormats.random(GgmlType.F16, rows, cols, rnd);
        byte[] bytes = m.bytes().clone();
        putHalf(bytes, 0 * cols + 40, (short) 0x7c00);          // +inf in row 0
        putHalf(bytes, 1 * cols + 7, (short) 0x7e00);           // NaN in row 1
        MemorySegment seg = Arena.ofAuto().allocate(bytes.length, 64);
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, seg, 0, bytes.length);
        WeightMatrix w = WeightMatrix.of(GgmlType.F16, seg, rows, cols);
        float[] raw = new float[cols];
        for (int c = 0; c < cols; c++) raw[c] = 0.5f + rnd.nextFloat(); // positive: the infinity survives
        float[] out = new float[rows];
        w.matmul(Activations.prepare(ActivationFormat.F16, raw, 0, 1, cols), out, rows, 0, rows);
        assertEquals(Float.POSITIVE_INFINITY, out[0]);
        assertTrue(Float.isNaN(out[1]), "NaN row gives NaN, got " + out[1]);
        double exact = 0;
        for (int c = 0; c < cols; c++) exact += m.decoded()[2][c] * Activations.roundToFp16(raw[c]);
        assertEquals(exact, out[2], 1e-4 * Math.abs(exact) + 1e-6);
    }

    private static void putHalf(byte[] b, int index, short h) {
        b[2 * index] = (byte) h;
        b[2 * index + 1] = (byte) (h >> 8);
    }
}
