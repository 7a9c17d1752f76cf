package io.sparkglm.tensor;

import io.sparkglm.model.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

/**
 * Test-side knowledge of each weight format, written from ggml's block layouts independently of the
 * kernels: random valid blocks (random scales of varied magnitude, random quants) and a float64 decoder.
 */
final class TestFormats {

    private TestFormats() {}

    /**
     * A random matrix in one format: its bytes, a float64 decoding of every row, and per value the size of
     * the terms it is made of ({@code |d*scale*q| + |dmin*min|}), the scale for rounding tolerances.
     */
    record Matrix(GgmlType type, int rows, int cols, byte[] bytes, double[][] decoded, double[][] magnitude) {
        WeightMatrix open() {
            MemorySegment seg = Arena.ofAuto().allocate(bytes.length, 64);
            MemorySegment.copy(MemorySegment.ofArray(bytes), 0, seg, 0, bytes.length);
            return WeightMatrix.of(type, seg, rows, cols);
        }
    }

    static Matrix random(GgmlType type, int rows, int cols, Random rnd) {
        long rowBytes = type.byteSize(cols);
        byte[] bytes = new byte[Math.toIntExact(rows * rowBytes)];
        double[][] decoded = new double[rows][];
        double[][] magnitude = new double[rows][];
        for (int r = 0; r < rows; r++) {
            Block block = new Block(bytes, (int) (r * rowBytes));
            decoded[r] = new double[cols];
            magnitude[r] = new double[cols];
            Row row = new Row(decoded[r], magnitude[r]);
            switch (type) {
                case F32 -> randomF32(block, row, rnd);
                case F16 -> randomF16(block, row, rnd);
                case BF16 -> randomBf16(block, row, rnd);
                case Q8_0 -> randomQ8_0(block, row, rnd);
                case Q4_0 -> randomQ4_0(block, row, rnd);
                case Q5_0 -> randomQ5(block, row, rnd, false);
                case Q5_1 -> randomQ5(block, row, rnd, true);
                case Q4_K -> randomQ4_K(block, row, rnd, false);
                case Q5_K -> randomQ4_K(block, row, rnd, true);
                case Q6_K -> randomQ6_K(block, row, rnd);
            }
        }
        return new Matrix(type, rows, cols, bytes, decoded, magnitude);
    }

    /** A log-uniform magnitude in [2^-8, 2^2): scales and values of very different sizes. */
    static double magnitude(Random rnd) {
        return Math.pow(2, -8 + 10 * rnd.nextDouble());
    }

    /** A random normal value times a log-uniform magnitude, never zero. */
    static float value(Random rnd) {
        double v = rnd.nextGaussian() * magnitude(rnd);
        return (float) (v == 0 ? 1e-3 : v);
    }

    static float[] randomActivations(int n, int cols, Random rnd) {
        float[] x = new float[n * cols];
        for (int i = 0; i < x.length; i += 16) {
            double m = magnitude(rnd); // blocks of 16 share a magnitude, like real activations per channel group
            for (int j = i; j < Math.min(x.length, i + 16); j++) x[j] = (float) (rnd.nextGaussian() * m + 1e-4);
        }
        return x;
    }

    /** A random fp16 scale (positive, varied magnitude), written little-endian; returns its value. */
    static double fp16Scale(Block b, int at, Random rnd) {
        short h = Float.floatToFloat16((float) (magnitude(rnd) / 64));
        b.putShort(at, h);
        return Float.float16ToFloat(h);
    }

    /** One decoded row being filled: value and term magnitude per column. */
    record Row(double[] value, double[] magnitude) {
        int cols() { return value.length; }
        void set(int c, double v, double mag) { value[c] = v; magnitude[c] = mag; }
        void set(int c, double v) { set(c, v, Math.abs(v)); }
    }

    private static void randomF32(Block b, Row row, Random rnd) {
        for (int c = 0; c < row.cols(); c++) {
            float v = value(rnd);
            b.putInt(4 * c, Float.floatToRawIntBits(v));
            row.set(c, v);
        }
    }

    /** IEEE binary16, decoded here by hand: sign, 5-bit exponent (bias 15), 10-bit mantissa. */
    private static void randomF16(Block b, Row row, Random rnd) {
        for (int c = 0; c < row.cols(); c++) {
            int h = Float.floatToFloat16(value(rnd)) & 0xffff;
            if (c == 1) h = 0x0005 | (rnd.nextBoolean() ? 0x8000 : 0); // a subnormal
            b.putShort(2 * c, h);
            int e = (h >> 10) & 31, m = h & 1023;
            double v = e == 0 ? m * Math.pow(2, -24) : (1024 + m) * Math.pow(2, e - 25);
            row.set(c, (h & 0x8000) != 0 ? -v : v);
        }
    }

    /** bfloat16: the top 16 bits of a float. */
    private static void randomBf16(Block b, Row row, Random rnd) {
        for (int c = 0; c < row.cols(); c++) {
            int bits = Float.floatToRawIntBits(value(rnd)) >>> 16;
            b.putShort(2 * c, bits);
            row.set(c, Float.intBitsToFloat(bits << 16));
        }
    }

    /** block_q8_0: fp16 d, int8 qs[32]; value = d * q. */
    private static void randomQ8_0(Block b, Row row, Random rnd) {
        for (int blk = 0; blk < row.cols() / 32; blk++) {
            Block at = b.at(blk * 34);
            double d = fp16Scale(at, 0, rnd);
            for (int i = 0; i < 32; i++) {
                int q = rnd.nextInt(256) - 128;
                at.putByte(2 + i, q);
                row.set(blk * 32 + i, d * q);
            }
        }
    }

    /** block_q4_0: fp16 d, qs[16]; value j = d * (low nibble of qs[j] - 8), value j+16 = d * (high nibble - 8). */
    private static void randomQ4_0(Block b, Row row, Random rnd) {
        for (int blk = 0; blk < row.cols() / 32; blk++) {
            Block at = b.at(blk * 18);
            double d = fp16Scale(at, 0, rnd);
            int[] q = new int[32];
            for (int i = 0; i < 32; i++) {
                q[i] = rnd.nextInt(16);
                row.set(blk * 32 + i, d * (q[i] - 8));
            }
            for (int j = 0; j < 16; j++) at.putByte(2 + j, q[j] | q[j + 16] << 4);
        }
    }

    /**
     * block_q5_0 (22 bytes: fp16 d, uint32 qh, qs[16]; value = d * (q - 16)) or block_q5_1 (24 bytes: fp16 d,
     * fp16 m, uint32 qh, qs[16]; value = d * q + m), 5-bit q: value j's low four bits are the low nibble of qs[j],
     * value j+16's the high nibble; bit j of the little-endian qh is value j's fifth bit, bit j+16 value j+16's.
     */
    private static void randomQ5(Block b, Row row, Random rnd, boolean withMin) {
        int blockBytes = withMin ? 24 : 22, qhAt = withMin ? 4 : 2;
        for (int blk = 0; blk < row.cols() / 32; blk++) {
            Block at = b.at(blk * blockBytes);
            double d = fp16Scale(at, 0, rnd), m = 0;
            if (withMin) {
                short h = Float.floatToFloat16((float) ((rnd.nextBoolean() ? -1 : 1) * magnitude(rnd) / 4));
                at.putShort(2, h);
                m = Float.float16ToFloat(h);
            }
            int[] q = new int[32];
            long qh = 0;
            for (int i = 0; i < 32; i++) {
                q[i] = rnd.nextInt(32);
                qh |= (long) (q[i] >> 4) << i;
                double v = withMin ? d * q[i] + m : d * (q[i] - 16);
                row.set(blk * 32 + i, v, withMin ? Math.abs(d * q[i]) + Math.abs(m) : Math.abs(v));
            }
            at.putInt(qhAt, (int) qh);
            for (int j = 0; j < 16; j++) at.putByte(qhAt + 4 + j, (q[j] & 15) | (q[j + 16] & 15) << 4);
        }
    }

    /**
     * block_q4_K (144 bytes: d, dmin, scales[12], qs[128]) or block_q5_K (176: d, dmin, scales[12], qh[32],
     * qs[128]). Eight sub-blocks of 32 with 6-bit scale sc[j] and min m[j], packed as ggml's quantizer packs
     * them; value = d * sc[j] * q - dmin * m[j]. Sub-block 2k takes the low nibbles of qs[32k..32k+32), 2k+1 the
     * high ones; in Q5_K bit j of qh[l] is the fifth bit of value l of sub-block j.
     */
    private static void randomQ4_K(Block b, Row row, Random rnd, boolean fiveBits) {
        int blockBytes = fiveBits ? 176 : 144, qsAt = fiveBits ? 48 : 16;
        for (int sb = 0; sb < row.cols() / 256; sb++) {
            Block at = b.at(sb * blockBytes);
            double d = fp16Scale(at, 0, rnd), dmin = fp16Scale(at, 2, rnd);
            int[] sc = new int[8], m = new int[8];
            for (int j = 0; j < 8; j++) { sc[j] = rnd.nextInt(64); m[j] = rnd.nextInt(64); }
            sc[0] = 63; m[7] = 63; // the largest values, with their top bits set
            for (int j = 0; j < 4; j++) {
                at.putByte(4 + j, sc[j] | (sc[j + 4] >> 4) << 6);
                at.putByte(4 + j + 4, m[j] | (m[j + 4] >> 4) << 6);
                at.putByte(4 + j + 8, (sc[j + 4] & 15) | (m[j + 4] & 15) << 4);
            }
            int[] q = new int[256];
            for (int i = 0; i < 256; i++) {
                q[i] = rnd.nextInt(fiveBits ? 32 : 16);
                int j = i / 32;
                double pos = d * sc[j] * q[i], neg = dmin * m[j];
                row.set(sb * 256 + i, pos - neg, Math.abs(pos) + Math.abs(neg));
            }
            for (int k = 0; k < 4; k++) {
                for (int l = 0; l < 32; l++) {
                    at.putByte(qsAt + 32 * k + l, (q[64 * k + l] & 15) | (q[64 * k + 32 + l] & 15) << 4);
                }
            }
            if (fiveBits) {
                for (int l = 0; l < 32; l++) {
                    int h = 0;
                    for (int j = 0; j < 8; j++) h |= (q[32 * j + l] >> 4) << j;
                    at.putByte(16 + l, h);
                }
            }
        }
    }

    /**
     * block_q6_K (210 bytes: ql[128], qh[64], int8 scales[16], fp16 d); value i = d * scales[i/16] * (q[i] - 32)
     * with 6-bit q packed as ggml's quantize_row_q6_K_ref packs it, per half of 128 values.
     */
    private static void randomQ6_K(Block b, Row row, Random rnd) {
        for (int sb = 0; sb < row.cols() / 256; sb++) {
            Block at = b.at(sb * 210);
            double d = fp16Scale(at, 208, rnd);
            int[] sc = new int[16];
            for (int g = 0; g < 16; g++) sc[g] = rnd.nextInt(256) - 128;
            sc[3] = -128; sc[4] = 127;
            for (int g = 0; g < 16; g++) at.putByte(192 + g, sc[g]);
            int[] q = new int[256];
            for (int i = 0; i < 256; i++) {
                q[i] = rnd.nextInt(64);
                row.set(sb * 256 + i, d * sc[i / 16] * (q[i] - 32));
            }
            for (int half = 0; half < 2; half++) {
                int j = 128 * half;
                for (int l = 0; l < 32; l++) {
                    at.putByte(64 * half + l, (q[j + l] & 15) | (q[j + l + 64] & 15) << 4);
                    at.putByte(64 * half + 32 + l, (q[j + l + 32] & 15) | (q[j + l + 96] & 15) << 4);
                    at.putByte(128 + 32 * half + l, (q[j + l] >> 4) | (q[j + l + 32] >> 4) << 2
                            | (q[j + l + 64] >> 4) << 4 | (q[j + l + 96] >> 4) << 6);
                }
            }
        }
    }

    /** A little-endian writer over part of a byte array. */
    record Block(byte[] bytes, int base) {
        Block at(int offset) { return new Block(bytes, base + offset); }
        void putByte(int i, int v) { bytes[base + i] = (byte) v; }
        void putShort(int i, int v) { putByte(i, v); putByte(i + 1, v >> 8); }
        void putInt(int i, int v) { putShort(i, v); putShort(i + 2, v >> 16); }
        int getByte(int i) { return bytes[base + i] & 0xff; }
    }
}
