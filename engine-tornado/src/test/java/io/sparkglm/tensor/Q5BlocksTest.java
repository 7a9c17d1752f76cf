package io.sparkglm.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkglm.model.GgmlType;
import io.sparkglm.model.Quantization;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Q5_0 and Q5_1 blocks written byte by byte, their values worked out by hand from ggml's layout (dequantize_row_q5_0
 * and _q5_1): the fifth bit of value j is bit j of the little-endian uint32 qh, for a low nibble (j < 16) and for a
 * high one (j >= 16, bit j of qh, nibble in byte j - 16). Both decoders (the kernels' dequantizeRow and
 * {@link Quantization#dequantize}) must give these values exactly.
 */
class Q5BlocksTest {

    /**
     * Block 0: qh bits 0, 3, 17 and 31 set (bytes 09 00 02 80), qs[0] = 0x2A, qs[1] = 0xF0, qs[3] = 0x7F,
     * qs[15] = 0xC5, every other qs byte 0. Block 1: every qh bit set, every qs byte 0x81.
     */
    private static final int[] QH0 = {0x09, 0x00, 0x02, 0x80};

    private static byte[] quants(int block) {
        byte[] qs = new byte[16];
        if (block == 0) {
            qs[0] = 0x2A;
            qs[1] = (byte) 0xF0;
            qs[3] = 0x7F;
            qs[15] = (byte) 0xC5;
        } else {
            java.util.Arrays.fill(qs, (byte) 0x81);
        }
        return qs;
    }

    /** The 5-bit q of each of the 32 values of block 0, from the bytes above, by hand. */
    private static int[] handQ0() {
        int[] q = new int[32];                   // a zero nibble without its fifth bit: q = 0
        q[0] = 0xA | 16;                         // low nibble of 0x2A, qh bit 0 set:  26
        q[16] = 0x2;                             // high nibble of 0x2A, bit 16 clear:   2
        q[1] = 0x0;                              // low nibble of 0xF0, bit 1 clear:     0
        q[17] = 0xF | 16;                        // high nibble of 0xF0, bit 17 set:    31
        q[3] = 0xF | 16;                         // low nibble of 0x7F, bit 3 set:      31
        q[19] = 0x7;                             // high nibble of 0x7F, bit 19 clear:   7
        q[15] = 0x5;                             // low nibble of 0xC5, bit 15 clear:    5
        q[31] = 0xC | 16;                        // high nibble of 0xC5, bit 31 set:    28
        return q;
    }

    @Test
    void q5_0HandMadeBlocks() {
        // block 0: d = 0.5 (fp16 0x3800); block 1: d = -2 (0xC000), q = 0x1 | 16 = 17 (j < 16), 0x8 | 16 = 24 (j >= 16)
        byte[] bytes = new byte[44];
        putBlock(bytes, 0, 0x3800, -1, QH0, quants(0));
        putBlock(bytes, 22, 0xC000, -1, new int[] {0xFF, 0xFF, 0xFF, 0xFF}, quants(1));
        float[] expected = new float[64];
        int[] q = handQ0();
        for (int j = 0; j < 32; j++) expected[j] = (q[j] - 16) * 0.5f;
        assertEquals(5.0f, expected[0]);     // (26 - 16) * 0.5
        assertEquals(-7.0f, expected[16]);   // (2 - 16) * 0.5
        assertEquals(-8.0f, expected[1]);    // (0 - 16) * 0.5
        assertEquals(7.5f, expected[17]);    // (31 - 16) * 0.5
        assertEquals(7.5f, expected[3]);
        assertEquals(-4.5f, expected[19]);   // (7 - 16) * 0.5
        assertEquals(-5.5f, expected[15]);   // (5 - 16) * 0.5
        assertEquals(6.0f, expected[31]);    // (28 - 16) * 0.5
        for (int j = 32; j < 48; j++) expected[j] = -2f;   // (17 - 16) * -2
        for (int j = 48; j < 64; j++) expected[j] = -16f;  // (24 - 16) * -2
        checkDecoders(GgmlType.Q5_0, bytes, expected);
    }

    @Test
    void q5_1HandMadeBlocks() {
        // block 0: d = 0.25 (0x3400), m = -1.5 (0xBE00); block 1: d = -2 (0xC000), m = 0.125 (0x3000)
        byte[] bytes = new byte[48];
        putBlock(bytes, 0, 0x3400, 0xBE00, QH0, quants(0));
        putBlock(bytes, 24, 0xC000, 0x3000, new int[] {0xFF, 0xFF, 0xFF, 0xFF}, quants(1));
        float[] expected = new float[64];
        int[] q = handQ0();
        for (int j = 0; j < 32; j++) expected[j] = q[j] * 0.25f - 1.5f;
        assertEquals(5.0f, expected[0]);     // 26 * 0.25 - 1.5
        assertEquals(-1.0f, expected[16]);   // 2 * 0.25 - 1.5
        assertEquals(-1.5f, expected[1]);    // 0 * 0.25 - 1.5
        assertEquals(6.25f, expected[17]);   // 31 * 0.25 - 1.5
        assertEquals(0.25f, expected[19]);   // 7 * 0.25 - 1.5
        assertEquals(-0.25f, expected[15]);  // 5 * 0.25 - 1.5
        assertEquals(5.5f, expected[31]);    // 28 * 0.25 - 1.5
        for (int j = 32; j < 48; j++) expected[j] = -33.875f;  // 17 * -2 + 0.125
        for (int j = 48; j < 64; j++) expected[j] = -47.875f;  // 24 * -2 + 0.125
        checkDecoders(GgmlType.Q5_1, bytes, expected);
    }

    /** Two rows of the same blocks (the second row shifted by a block size in the segment) decode alike. */
    private static void checkDecoders(GgmlType type, byte[] block, float[] expected) {
        byte[] twoRows = new byte[2 * block.length];
        System.arraycopy(block, 0, twoRows, 0, block.length);
        System.arraycopy(block, 0, twoRows, block.length, block.length);
        WeightMatrix w = WeightMatrix.of(type, MemorySegment.ofArray(twoRows), 2, 64);
        for (int r = 0; r < 2; r++) {
            float[] row = new float[64];
            w.dequantizeRow(r, row, 0);
            assertArrayEquals(expected, row, type + " dequantizeRow " + r);
            assertArrayEquals(expected, Quantization.dequantize(type, MemorySegment.ofArray(twoRows), 64L * r, 64),
                    type + " Quantization.dequantize row " + r);
        }
    }

    /** d, (m), qh, qs at {@code at}; {@code m < 0} for Q5_0 (no min). */
    private static void putBlock(byte[] b, int at, int d, int m, int[] qh, byte[] qs) {
        b[at] = (byte) d;
        b[at + 1] = (byte) (d >> 8);
        int p = at + 2;
        if (m >= 0) {
            b[p] = (byte) m;
            b[p + 1] = (byte) (m >> 8);
            p += 2;
        }
        for (int i = 0; i < 4; i++) b[p + i] = (byte) qh[i];
        System.arraycopy(qs, 0, b, p + 4, 16);
    }

    /**
     * Quantization.encode follows quantize_row_q5_0_ref / _q5_1_ref: every value comes back within half a step of
     * the block's scale (plus the scale's and min's fp16 rounding), random data of varied magnitude. Q5_0's scale is
     * set by the signed extreme, which takes q = 0 (value -16 d); the other side reaches only 15 d, so values of the
     * other sign beyond it are clamped (error up to a step: ggml's asymmetry, kept).
     */
    @Test
    void encodeRoundTripsWithinHalfAStep() {
        Random rnd = new Random(21);
        for (GgmlType type : new GgmlType[] {GgmlType.Q5_0, GgmlType.Q5_1}) {
            float[] x = TestFormats.randomActivations(1, 32 * 40, rnd);
            MemorySegment encoded = MemorySegment.ofArray(Quantization.encode(type, x));
            float[] back = Quantization.dequantize(type, encoded, 0, x.length);
            for (int b = 0; b < 40; b++) {
                float extreme = 0, min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
                for (int i = 32 * b; i < 32 * b + 32; i++) {
                    if (Math.abs(x[i]) > Math.abs(extreme)) extreme = x[i];
                    min = Math.min(min, x[i]);
                    max = Math.max(max, x[i]);
                }
                double step = type == GgmlType.Q5_0 ? Math.abs(extreme) / 16.0 : (max - min) / 31.0;
                for (int i = 32 * b; i < 32 * b + 32; i++) {
                    double bound = step * 0.5 * 1.001 + 32 * step * 0x1p-11 + Math.abs(min) * 0x1p-11;
                    if (type == GgmlType.Q5_0) {
                        boolean clamped = Math.signum(x[i]) != Math.signum(extreme) && Math.abs(x[i]) > 15.5 * step;
                        bound = (clamped ? Math.abs(x[i]) - 15 * step : step * 0.5) * 1.001 + 16 * step * 0x1p-11;
                    }
                    assertTrue(Math.abs(back[i] - x[i]) <= bound, type + " value " + i + ": " + x[i] + " came back as "
                            + back[i] + ", bound " + bound);
                }
            }
        }
    }
}
