package io.sparkglm.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkglm.backend.KvCacheType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The q8_0 KV cache against a float64 reference: ggml's block layout byte for byte, the quantization round trip
 * within its bound, and the attention kernels (dot, axpy, copy) equal to naive loops over the dequantized values.
 * Data is random and never zero (a zero block would hide a wrong scale), with magnitudes spread over 2^-6 .. 2^4
 * per block, as keys and values of a real model are.
 */
class Q8_0CacheTest {

    private static final int LAYERS = 2, KV_DIM = 256, PAGE = 4;
    private static final ValueLayout.OfShort FP16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Random row of n values, never zero, block scales varying over 2^-6 .. 2^4. */
    private static float[] randomRow(Random r, int n) {
        float[] x = new float[n];
        for (int b = 0; b < n / 32; b++) {
            double scale = Math.pow(2, -6 + 10 * r.nextDouble());
            for (int i = 0; i < 32; i++) {
                double v;
                do v = r.nextGaussian() * scale; while (v == 0);
                x[b * 32 + i] = (float) v;
            }
        }
        return x;
    }

    /** A filled cache: positions 0..tokens-1 of both layers, with the rows it was given. */
    private record Filled(CpuSequenceCache cache, float[][][] keys, float[][][] values) {}

    private static Filled filled(int tokens, long seed) {
        Random r = new Random(seed);
        CpuSequenceCache cache = new CpuSequenceCache(LAYERS, tokens, KV_DIM, KvCacheType.Q8_0, PAGE);
        cache.reserve(tokens);
        float[][][] k = new float[LAYERS][tokens][], v = new float[LAYERS][tokens][];
        for (int p = 0; p < tokens; p++) {
            for (int l = 0; l < LAYERS; l++) {
                k[l][p] = randomRow(r, KV_DIM);
                v[l][p] = randomRow(r, KV_DIM);
                // the engine passes one qkv buffer with offsets: store from the middle of a larger array
                float[] buf = new float[3 * KV_DIM];
                System.arraycopy(k[l][p], 0, buf, KV_DIM / 2, KV_DIM);
                System.arraycopy(v[l][p], 0, buf, KV_DIM / 2 + KV_DIM, KV_DIM);
                cache.store(l, p, buf, KV_DIM / 2, buf, KV_DIM / 2 + KV_DIM);
            }
        }
        cache.advance(tokens);
        return new Filled(cache, k, v);
    }

    /** The float64 reference of one block: d = amax/127 as fp16, q = x / (amax/127) rounded to nearest. */
    private static void assertBlockMatchesReference(float[] x, int from, MemorySegment row, int block) {
        long blk = (long) block * 34;
        double amax = 0;
        for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs((double) x[from + i]));
        float d = Float.float16ToFloat(row.get(FP16, blk));
        assertEquals(Float.float16ToFloat(Float.floatToFloat16((float) (amax / 127))), d, "scale of block " + block);
        for (int i = 0; i < 32; i++) {
            int q = row.get(ValueLayout.JAVA_BYTE, blk + 2 + i);
            double exact = x[from + i] * 127 / amax;
            // the kernel rounds x * fl(127/amax) in float: it may differ from the float64 rounding only at a near-tie
            assertTrue(Math.abs(q - exact) <= 0.5 + 1e-5, "q of value " + i + " of block " + block + ": " + q + " vs " + exact);
            assertTrue(Math.abs(q) <= 127);
            // round trip: |x - q d| <= d_exact / 2 (rounding) + 127 |d - d_exact| (fp16 scale), d_exact = amax/127
            double dExact = amax / 127, err = Math.abs(x[from + i] - (double) q * d);
            assertTrue(err <= dExact / 2 * (1 + 1e-5) + 127 * Math.abs(d - dExact), "round trip of value " + i + ": " + err);
            assertTrue(err <= amax * (0.5 + 127 / 2048.0) / 127 * (1 + 1e-5), "bound of value " + i);
        }
    }

    @Test
    void rowsAreGgmlQ8_0BlocksWithReferenceQuantization() {
        Filled f = filled(9, 1);
        assertEquals(KV_DIM / 32 * 34, KvCacheType.Q8_0.rowBytes(KV_DIM));
        for (int l = 0; l < LAYERS; l++) {
            for (int p = 0; p < 9; p++) {
                MemorySegment keyRow = f.cache.rowBytes(true, l, p), valueRow = f.cache.rowBytes(false, l, p);
                assertEquals(KV_DIM / 32 * 34, keyRow.byteSize());
                for (int b = 0; b < KV_DIM / 32; b++) {
                    assertBlockMatchesReference(f.keys[l][p], b * 32, keyRow, b);
                    assertBlockMatchesReference(f.values[l][p], b * 32, valueRow, b);
                }
            }
        }
        f.cache.close();
    }

    @Test
    void extremeValuesOfABlockQuantizeTo127AndTiesRoundToEven() {
        CpuSequenceCache cache = new CpuSequenceCache(1, 1, 32, KvCacheType.Q8_0, 1);
        cache.reserve(1);
        float[] x = new float[64];
        // amax = 127: d = 1 exactly, so x = q exactly; 2.5 and -3.5 are ties (to even: 2 and -4), -127 the minimum
        for (int i = 0; i < 32; i++) x[i] = i - 16 + 0.25f;
        x[0] = 127f;
        x[1] = -127f;
        x[2] = 2.5f;
        x[3] = -3.5f;
        for (int i = 32; i < 64; i++) x[i] = 1e-3f * (i - 31);
        cache.store(0, 0, x, 0, x, 32);
        MemorySegment k = cache.rowBytes(true, 0, 0), v = cache.rowBytes(false, 0, 0);
        assertEquals(1f, Float.float16ToFloat(k.get(FP16, 0)));
        assertEquals(127, k.get(ValueLayout.JAVA_BYTE, 2));
        assertEquals(-127, k.get(ValueLayout.JAVA_BYTE, 3));
        assertEquals(2, k.get(ValueLayout.JAVA_BYTE, 4));
        assertEquals(-4, k.get(ValueLayout.JAVA_BYTE, 5));
        assertEquals(127, v.get(ValueLayout.JAVA_BYTE, 2 + 31), "the value of largest magnitude maps to 127");
        cache.close();
    }

    @Test
    void copiesEqualNaiveDequantization() {
        int tokens = 11;
        Filled f = filled(tokens, 2);
        Random r = new Random(3);
        for (int l = 0; l < LAYERS; l++) {
            // copyKeys / copyValues: exactly q * d, strided
            for (int[] range : new int[][] {{0, 128}, {128, 128}, {32, 64}, {8, 40}}) {
                int off = range[0], len = range[1], stride = len + 16;
                float[] keys = new float[tokens * stride + 7], values = new float[tokens * stride + 7];
                f.cache.copyKeys(l, 0, tokens, off, len, keys, 7, stride);
                f.cache.copyValues(l, 0, tokens, off, len, values, 7, stride);
                for (int p = 0; p < tokens; p++) {
                    float[] deqK = new float[KV_DIM], deqV = new float[KV_DIM];
                    dequantizeNaive(f.cache.rowBytes(true, l, p), deqK);
                    dequantizeNaive(f.cache.rowBytes(false, l, p), deqV);
                    for (int i = 0; i < len; i++) {
                        assertEquals(deqK[off + i], keys[7 + p * stride + i], "copyKeys");
                        assertEquals(deqV[off + i], values[7 + p * stride + i], "copyValues");
                    }
                }
            }
        }
        f.cache.close();
    }

    /** q * d in float64 (exact), from the raw block bytes. */
    private static void dequantizeNaive(MemorySegment row, float[] out) {
        for (int b = 0; b < out.length / 32; b++) {
            double d = Float.float16ToFloat(row.get(FP16, b * 34L));
            for (int i = 0; i < 32; i++) out[b * 32 + i] = (float) (row.get(ValueLayout.JAVA_BYTE, b * 34L + 2 + i) * d);
        }
    }

    @Test
    void sizesAreWholeBlocksAndOddWidthsAreRefused() {
        assertEquals(34L * 8, KvCacheType.Q8_0.rowBytes(256));
        assertEquals(2L * 256, KvCacheType.F16.rowBytes(256));
        assertEquals(4L * 256, KvCacheType.F32.rowBytes(256));
        // 2 * pages * layers * pageTokens * rowBytes: 300 tokens are two pages of 256
        assertEquals(2L * 2 * 40 * 256 * 272, CpuSequenceCache.bytesFor(300, 40, 256, KvCacheType.Q8_0, 256));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> KvCacheType.Q8_0.rowBytes(48));
        assertTrue(e.getMessage().contains("multiple of 32") && e.getMessage().contains("48"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"f32", "F16", "q8_0", "auto", "AUTO"})
    void optionValuesAreAccepted(String id) {
        assertTrue(KvCacheType.isValidOption(id));
    }

    @ParameterizedTest
    @ValueSource(strings = {"q4_0", "bf16", "", "q8"})
    void otherOptionValuesAreRefused(String id) {
        assertTrue(!KvCacheType.isValidOption(id));
        assertThrows(IllegalArgumentException.class, () -> KvCacheType.of(id));
    }

    @Test
    void storingNeverZeroValuesNeverGivesAllZeroBlocks() {
        Filled f = filled(3, 4);
        float[] row = new float[KV_DIM];
        f.cache.copyKeys(1, 2, 1, 0, KV_DIM, row, 0, KV_DIM);
        for (int b = 0; b < KV_DIM / 32; b++) {
            boolean any = false;
            for (int i = 0; i < 32; i++) any |= row[b * 32 + i] != 0;
            assertTrue(any, "block " + b);
        }
        float[] expect = new float[KV_DIM];
        dequantizeNaive(f.cache.rowBytes(true, 1, 2), expect);
        assertArrayEquals(expect, row);
        f.cache.close();
    }
}
