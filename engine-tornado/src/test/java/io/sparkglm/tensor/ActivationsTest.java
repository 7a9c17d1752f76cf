package io.sparkglm.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The activation formats against independent float64 emulations of ggml's conversions and quantizers. */
class ActivationsTest {

    @Test
    void q8_0MatchesGgmlQuantizeRowQ8_0() {
        Random rnd = new Random(3);
        int n = 3, cols = 256;
        float[] x = TestFormats.randomActivations(n, cols, rnd);
        for (int i = 0; i < 32; i++) x[32 + i] = 0f; // an all-zero block: d = 0, q = 0
        Activations a = Activations.prepare(ActivationFormat.Q8_0, x, 0, n, cols);
        for (int b = 0; b < n * cols / 32; b++) {
            float amax = 0;
            for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[b * 32 + i]));
            double d = Float.float16ToFloat(Float.floatToFloat16(amax / 127f));
            float id = amax == 0 ? 0f : 127f / amax;
            assertEquals(d, a.scales[b], "scale of block " + b);
            for (int i = 0; i < 32; i++) {
                // round half to even of the float product, emulated in BigDecimal
                double q = new BigDecimal(x[b * 32 + i] * id).setScale(0, java.math.RoundingMode.HALF_EVEN).doubleValue();
                assertEquals(q, a.values[at(a, b * 32 + i)], "quant " + i + " of block " + b);
                assertTrue(Math.abs(q) <= 127);
            }
        }
        assertEquals(0f, a.get(0, 40));
    }

    /**
     * x86 quantize_row_q8_1: Q8_0's quants and fp16 d (rint of x * 127/amax), and s = fp16(d * sum q) with d the
     * float amax/127 before its fp16 rounding, the integer sum of the block's 32 quants.
     */
    @Test
    void q8_1MatchesGgmlQuantizeRowQ8_1() {
        Random rnd = new Random(13);
        int n = 3, cols = 256;
        float[] x = TestFormats.randomActivations(n, cols, rnd);
        for (int i = 0; i < 32; i++) x[64 + i] = 0f; // an all-zero block: d = 0, q = 0, s = 0
        for (int i = 0; i < 32; i++) x[128 + i] = 0.25f + i / 64f; // one sign: a large sum
        Activations a = Activations.prepare(ActivationFormat.Q8_1, x, 0, n, cols);
        Activations q8_0 = Activations.prepare(ActivationFormat.Q8_0, x, 0, n, cols);
        for (int b = 0; b < n * cols / 32; b++) {
            float amax = 0;
            for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[b * 32 + i]));
            float d = amax / 127f;
            assertEquals(q8_0.scales[b], a.scales[b], "scale of block " + b);
            long sum = 0;
            for (int i = 0; i < 32; i++) {
                assertEquals(q8_0.values[at(a, b * 32 + i)], a.values[at(a, b * 32 + i)], "quant " + i + " of block " + b);
                sum += (long) a.values[at(a, b * 32 + i)];
            }
            double s = Float.float16ToFloat(Float.floatToFloat16((float) ((double) d * sum)));
            assertEquals(s, a.sums[b], "s of block " + b + " (sum " + sum + ")");
        }
        assertEquals(0f, a.sums[2]);
        assertTrue(Math.abs(a.sums[4] - 15.75) < 0.05, "block 4's s (sum of x 15.75): " + a.sums[4]);
        assertEquals(0f, a.get(0, 70));
        assertEquals(q8_0.get(1, 5), a.get(1, 5));
    }

    @Test
    void q8_KMatchesGgmlQuantizeRowQ8_KRef() {
        Random rnd = new Random(4);
        int n = 2, cols = 512;
        float[] x = TestFormats.randomActivations(n, cols, rnd);
        x[300] = -50f; // the signed extreme is negative in this block
        Activations a = Activations.prepare(ActivationFormat.Q8_K, x, 0, n, cols);
        for (int b = 0; b < n * cols / 256; b++) {
            float max = 0, amax = 0;
            for (int i = 0; i < 256; i++) {
                if (Math.abs(x[b * 256 + i]) > amax) { amax = Math.abs(x[b * 256 + i]); max = x[b * 256 + i]; }
            }
            float iscale = -127f / max;
            assertEquals(1f / iscale, a.scales[b], "d of block " + b);
            for (int g = 0; g < 16; g++) {
                long sum = 0;
                for (int i = g * 16; i < g * 16 + 16; i++) {
                    long q = Math.min(127, new BigDecimal(iscale * x[b * 256 + i]).setScale(0, java.math.RoundingMode.HALF_EVEN).longValue());
                    assertEquals(q, a.values[at(a, b * 256 + i)], "quant " + i + " of block " + b);
                    sum += q;
                }
                assertEquals(sum, a.bsums[b * 16 + g], "bsum " + g + " of block " + b);
                assertEquals(a.bsums[b * 16 + g], a.groupSum(b / 2, b % 2 * 16 + g), "groupSum accessor");
                if (g % 2 == 1) assertEquals(a.bsums[b * 16 + g - 1] + sum, a.groupSums[b * 8 + g / 2], "sum of 32, group " + g / 2 + " of block " + b);
            }
            assertEquals(a.scales[b], a.blockScale(b / 2, b % 2), "blockScale accessor");
            for (int i = 0; i < 256; i++) assertEquals(a.values[at(a, b * 256 + i)], a.quant(b / 2, b % 2 * 256 + i), "quant accessor");
        }
    }

    @Test
    void f16AndBf16RoundToNearestEven() {
        Random rnd = new Random(5);
        float[] x = new float[4096];
        for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * Math.pow(2, rnd.nextInt(60) - 40));
        x[0] = 70000f;                         // overflows fp16
        x[1] = 3e-6f;                          // fp16 subnormal
        x[2] = Float.intBitsToFloat(0x3f808000); // exact bf16 tie: rounds to even (down)
        x[3] = Float.intBitsToFloat(0x3f818000); // exact bf16 tie: rounds to even (up)
        x[4] = Float.intBitsToFloat(0x7f800001); // signalling NaN: ggml makes it quiet
        Activations h = Activations.prepare(ActivationFormat.F16, x, 0, 1, x.length);
        Activations b = Activations.prepare(ActivationFormat.BF16, x, 0, 1, x.length);
        for (int i = 0; i < x.length; i++) {
            assertEquals(roundToPrecision(x[i], 11, -14, 65504), h.get(0, i), "fp16 of " + x[i]);
            if (i != 4) assertEquals(roundToPrecision(x[i], 8, -126, Float.MAX_VALUE), b.get(0, i), "bf16 of " + x[i]);
        }
        assertEquals(Float.POSITIVE_INFINITY, h.get(0, 0));
        assertEquals(1.0f, b.get(0, 2));
        assertEquals(Float.intBitsToFloat(0x3f820000), b.get(0, 3));
        assertEquals(0x7fc0, Activations.toBf16Bits(x[4]));
    }

    /** Round to a binary format with {@code bits} significant bits and minimum normal exponent {@code emin}, ties to even. */
    static double roundToPrecision(double v, int bits, int emin, double max) {
        if (v == 0) return v;
        int e = Math.max(Math.getExponent(v), emin);
        double ulp = Math.scalb(1.0, e - (bits - 1));
        double r = Math.rint(v / ulp) * ulp;
        if (Math.abs(r) > max) {
            // beyond the largest finite value: infinity once past the halfway point to the next power
            return Math.abs(v) >= max + Math.scalb(1.0, Math.getExponent(max) - bits) ? Math.copySign(Double.POSITIVE_INFINITY, v) : Math.copySign(max, v);
        }
        return r;
    }

    /** Where flat index {@code token * cols + col} of the input lies in the (row-padded) prepared values. */
    private static int at(Activations a, int flat) {
        return flat / a.cols() * a.stride + flat % a.cols();
    }

    /** Loading token ranges on several threads (as the backend does for prompt chunks) equals one sequential load. */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.EnumSource(ActivationFormat.class)
    void rangesLoadedConcurrentlyEqualOneSequentialLoad(ActivationFormat format) throws Exception {
        int n = 37, cols = 512;
        float[] x = TestFormats.randomActivations(n + 2, cols, new Random(9));
        Activations sequential = Activations.prepare(format, x, 2 * cols, n, cols);
        Activations parallel = Activations.allocate(format, n, cols).resize(n);
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(3);
        try {
            java.util.List<java.util.concurrent.Future<?>> parts = new java.util.ArrayList<>();
            for (int from = 0; from < n; from += 5) {
                int f = from, to = Math.min(n, from + 5);
                parts.add(pool.submit(() -> parallel.loadTokens(x, 2 * cols, f, to, true)));
            }
            for (var p : parts) p.get();
        } finally {
            pool.shutdownNow();
        }
        parallel.denseLoaded();
        float[] expectedDense = sequential.dense(), gotDense = parallel.dense();
        for (int t = 0; t < n; t++) {
            for (int c = 0; c < cols; c++) {
                assertEquals(sequential.get(t, c), parallel.get(t, c), format + " token " + t + " col " + c);
                int i = t * sequential.stride + c;
                assertEquals(expectedDense[i], gotDense[i], format + " dense token " + t + " col " + c);
                if (format == ActivationFormat.Q8_0) {
                    assertEquals(sequential.quants[i], parallel.quants[i]);
                    assertEquals(sequential.pairs[i], parallel.pairs[i]);
                }
            }
        }
        assertTrue(java.util.Arrays.equals(sequential.bsums, parallel.bsums), format + " bsums");
        assertTrue(java.util.Arrays.equals(sequential.groupSums, parallel.groupSums), format + " groupSums");
        assertTrue(java.util.Arrays.equals(sequential.sums, parallel.sums), format + " sums");
    }
}
