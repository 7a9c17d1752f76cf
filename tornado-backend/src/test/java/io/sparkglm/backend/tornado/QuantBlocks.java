package io.sparkglm.backend.tornado;

import io.sparkglm.model.GgmlType;
import io.sparkglm.tensor.WeightMatrix;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import uk.ac.manchester.tornado.api.types.arrays.ByteArray;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.ShortArray;

/**
 * Random weight matrices in every stored format, written from ggml's block layouts (as the engine's test
 * TestFormats, but with a chosen spread, so that a model built from them behaves like a trained one: values
 * of about {@code sigma}), with the float64 value of every weight. Every field of every block is random and
 * the extreme codes (6-bit scale and min 63, Q6_K scales -128 and 127) occur.
 */
final class QuantBlocks {

    private QuantBlocks() {}

    /** A matrix {@code [rows, cols]}: its bytes as stored and its values in float64 (row-major). */
    record Blocks(GgmlType type, int rows, int cols, byte[] bytes, double[] values) {

        double value(int row, int col) { return values[row * cols + col]; }

        MemorySegment segment() {
            MemorySegment s = Arena.ofAuto().allocate(bytes.length, 64);
            MemorySegment.copy(MemorySegment.ofArray(bytes), 0, s, 0, bytes.length);
            return s;
        }

        /** The engine's host matrix over the same bytes (its decoder is the spec the kernels follow). */
        WeightMatrix host() { return WeightMatrix.of(type, segment(), rows, cols); }

        /** The device array the backend would build: floats, 16-bit words or block bytes. */
        Object deviceArray() {
            return switch (type) {
                case F32 -> FloatArray.fromSegment(segment());
                case F16, BF16 -> ShortArray.fromSegment(segment());
                default -> ByteArray.fromSegment(segment());
            };
        }
    }

    static Blocks random(GgmlType type, int rows, int cols, double sigma, Random rnd) {
        int rowBytes = Math.toIntExact(type.byteSize(cols));
        byte[] bytes = new byte[rows * rowBytes];
        double[] values = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            Writer w = new Writer(bytes, r * rowBytes);
            int v0 = r * cols;
            switch (type) {
                case F32 -> {
                    for (int c = 0; c < cols; c++) {
                        float v = (float) (rnd.nextGaussian() * sigma);
                        w.putInt(4 * c, Float.floatToRawIntBits(v));
                        values[v0 + c] = v;
                    }
                }
                case F16 -> {
                    for (int c = 0; c < cols; c++) {
                        short h = Float.floatToFloat16((float) (rnd.nextGaussian() * sigma));
                        if (c == 3) h = (short) (0x0007 | (rnd.nextBoolean() ? 0x8000 : 0));   // a subnormal
                        w.putShort(2 * c, h);
                        values[v0 + c] = Float.float16ToFloat(h);
                    }
                }
                case BF16 -> {
                    for (int c = 0; c < cols; c++) {
                        int bits = Float.floatToRawIntBits((float) (rnd.nextGaussian() * sigma)) >>> 16;
                        w.putShort(2 * c, bits);
                        values[v0 + c] = Float.intBitsToFloat(bits << 16);
                    }
                }
                case Q8_0 -> q8_0(w, values, v0, cols, sigma, rnd);
                case Q4_0 -> q4_0(w, values, v0, cols, sigma, rnd);
                case Q5_0 -> q5(w, values, v0, cols, sigma, rnd, false);
                case Q5_1 -> q5(w, values, v0, cols, sigma, rnd, true);
                case Q4_K -> q45K(w, values, v0, cols, sigma, rnd, false);
                case Q5_K -> q45K(w, values, v0, cols, sigma, rnd, true);
                case Q6_K -> q6K(w, values, v0, cols, sigma, rnd);
            }
        }
        return new Blocks(type, rows, cols, bytes, values);
    }

    /** An fp16 value written little-endian at {@code at}; returns it. */
    private static double fp16(Writer w, int at, double v) {
        short h = Float.floatToFloat16((float) v);
        w.putShort(at, h);
        return Float.float16ToFloat(h);
    }

    /** A positive factor in [0.5, 1.5): scales of neighbouring blocks differ. */
    private static double jitter(Random rnd) {
        return 0.5 + rnd.nextDouble();
    }

    /** block_q8_0: fp16 d, int8 qs[32]; value = d * q. */
    private static void q8_0(Writer w, double[] values, int v0, int cols, double sigma, Random rnd) {
        for (int b = 0; b < cols / 32; b++) {
            Writer at = w.at(b * 34);
            double d = fp16(at, 0, sigma * jitter(rnd) / 50);
            for (int i = 0; i < 32; i++) {
                int q = rnd.nextInt(255) - 127;
                at.putByte(2 + i, q);
                values[v0 + b * 32 + i] = d * q;
            }
        }
    }

    /** block_q4_0: fp16 d, qs[16]; value j = d * (low nibble of qs[j] - 8), value j + 16 = d * (high nibble - 8). */
    private static void q4_0(Writer w, double[] values, int v0, int cols, double sigma, Random rnd) {
        for (int b = 0; b < cols / 32; b++) {
            Writer at = w.at(b * 18);
            double d = fp16(at, 0, sigma * jitter(rnd) / 4.6);
            int[] q = new int[32];
            for (int i = 0; i < 32; i++) {
                q[i] = rnd.nextInt(16);
                values[v0 + b * 32 + i] = d * (q[i] - 8);
            }
            for (int j = 0; j < 16; j++) at.putByte(2 + j, q[j] | q[j + 16] << 4);
        }
    }

    /**
     * block_q5_0 (22 bytes: fp16 d, qh[4], qs[16]; value d * (q - 16)) or block_q5_1 (24: fp16 d, fp16 m, qh[4],
     * qs[16]; value d * q + m), q = nibble | bit k of the little-endian qh << 4 for value k. m near -16 d keeps
     * Q5_1's values centred, as a quantizer's would be.
     */
    private static void q5(Writer w, double[] values, int v0, int cols, double sigma, Random rnd, boolean withMin) {
        int blockBytes = withMin ? 24 : 22, qh = withMin ? 4 : 2;
        for (int b = 0; b < cols / 32; b++) {
            Writer at = w.at(b * blockBytes);
            double d = fp16(at, 0, sigma * jitter(rnd) / 9.2);
            double m = withMin ? fp16(at, 2, -16 * d * jitter(rnd)) : 0;
            int[] q = new int[32];
            int high = 0;
            for (int i = 0; i < 32; i++) {
                q[i] = rnd.nextInt(32);
                high |= (q[i] >> 4) << i;
                values[v0 + b * 32 + i] = withMin ? d * q[i] + m : d * (q[i] - 16);
            }
            at.putInt(qh, high);
            for (int j = 0; j < 16; j++) at.putByte(qh + 4 + j, (q[j] & 15) | (q[j + 16] & 15) << 4);
        }
    }

    /** The fp16 m of Q5_1 block {@code block} of row {@code row} (the min each block adds). */
    static double q5_1Min(Blocks b, int row, int block) {
        int at = row * Math.toIntExact(b.type().byteSize(b.cols())) + block * 24 + 2;
        return Float.float16ToFloat((short) ((b.bytes()[at] & 0xFF) | (b.bytes()[at + 1] << 8)));
    }

    /**
     * block_q4_K (144 bytes: d, dmin, scales[12], qs[128]) or block_q5_K (176: d, dmin, scales[12], qh[32],
     * qs[128]); value = d * sc[j] * q - dmin * m[j] for sub-block j of 32, the 6-bit sc and m packed as ggml's
     * quantizer packs them. Mins near the scale times the middle code keep the values centred.
     */
    private static void q45K(Writer w, double[] values, int v0, int cols, double sigma, Random rnd, boolean five) {
        int blockBytes = five ? 176 : 144, qsAt = five ? 48 : 16, levels = five ? 32 : 16;
        for (int sb = 0; sb < cols / 256; sb++) {
            Writer at = w.at(sb * blockBytes);
            double d = fp16(at, 0, sigma * jitter(rnd) / (five ? 290 : 147));
            double dmin = fp16(at, 2, d * (levels - 1) / 2.0 * jitter(rnd));
            int[] sc = new int[8], m = new int[8];
            for (int j = 0; j < 8; j++) {
                sc[j] = 1 + rnd.nextInt(63);
                m[j] = Math.min(63, (int) Math.round(sc[j] * jitter(rnd) * 0.8));
            }
            sc[0] = 63;
            m[7] = 63;
            for (int j = 0; j < 4; j++) {
                at.putByte(4 + j, sc[j] | (sc[j + 4] >> 4) << 6);
                at.putByte(4 + j + 4, m[j] | (m[j + 4] >> 4) << 6);
                at.putByte(4 + j + 8, (sc[j + 4] & 15) | (m[j + 4] & 15) << 4);
            }
            int[] q = new int[256];
            for (int i = 0; i < 256; i++) {
                q[i] = rnd.nextInt(levels);
                int j = i / 32;
                values[v0 + sb * 256 + i] = d * sc[j] * q[i] - dmin * m[j];
            }
            for (int k = 0; k < 4; k++) {
                for (int l = 0; l < 32; l++) at.putByte(qsAt + 32 * k + l, (q[64 * k + l] & 15) | (q[64 * k + 32 + l] & 15) << 4);
            }
            if (five) {
                for (int l = 0; l < 32; l++) {
                    int h = 0;
                    for (int j = 0; j < 8; j++) h |= (q[32 * j + l] >> 4) << j;
                    at.putByte(16 + l, h);
                }
            }
        }
    }

    /** block_q6_K (210 bytes: ql[128], qh[64], int8 scales[16], fp16 d); value i = d * scales[i/16] * (q[i] - 32). */
    private static void q6K(Writer w, double[] values, int v0, int cols, double sigma, Random rnd) {
        for (int sb = 0; sb < cols / 256; sb++) {
            Writer at = w.at(sb * 210);
            double d = fp16(at, 208, sigma * jitter(rnd) / 1370);
            int[] sc = new int[16];
            for (int g = 0; g < 16; g++) sc[g] = rnd.nextInt(256) - 128;
            sc[3] = -128;
            sc[4] = 127;
            for (int g = 0; g < 16; g++) at.putByte(192 + g, sc[g]);
            int[] q = new int[256];
            for (int i = 0; i < 256; i++) {
                q[i] = rnd.nextInt(64);
                values[v0 + sb * 256 + i] = d * sc[i / 16] * (q[i] - 32);
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
    private record Writer(byte[] bytes, int base) {
        Writer at(int offset) { return new Writer(bytes, base + offset); }
        void putByte(int i, int v) { bytes[base + i] = (byte) v; }
        void putShort(int i, int v) { putByte(i, v); putByte(i + 1, v >> 8); }
        void putInt(int i, int v) { putShort(i, v); putShort(i + 2, v >> 16); }
    }
}
