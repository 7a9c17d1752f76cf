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

    /** A random matrix in one format: its bytes and a float64 decoding of every row. */
    record Matrix(GgmlType type, int rows, int cols, byte[] bytes, double[][] decoded) {
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
        for (int r = 0; r < rows; r++) {
            Block block = new Block(bytes, (int) (r * rowBytes));
            decoded[r] = switch (type) {
                case F32 -> randomF32(block, cols, rnd);
                case Q8_0 -> randomQ8_0(block, cols, rnd);
                default -> throw new UnsupportedOperationException(type.toString());
            };
        }
        return new Matrix(type, rows, cols, bytes, decoded);
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

    private static double[] randomF32(Block b, int cols, Random rnd) {
        double[] row = new double[cols];
        for (int c = 0; c < cols; c++) {
            float v = value(rnd);
            b.putInt(4 * c, Float.floatToRawIntBits(v));
            row[c] = v;
        }
        return row;
    }

    /** block_q8_0: fp16 d, int8 qs[32]; value = d * q. */
    private static double[] randomQ8_0(Block b, int cols, Random rnd) {
        double[] row = new double[cols];
        for (int blk = 0; blk < cols / 32; blk++) {
            Block at = b.at(blk * 34);
            double d = fp16Scale(at, 0, rnd);
            for (int i = 0; i < 32; i++) {
                int q = rnd.nextInt(256) - 128;
                at.putByte(2 + i, q);
                row[blk * 32 + i] = d * q;
            }
        }
        return row;
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
