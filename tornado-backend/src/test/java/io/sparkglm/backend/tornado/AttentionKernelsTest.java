package io.sparkglm.backend.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.types.arrays.ByteArray;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;
import uk.ac.manchester.tornado.api.types.arrays.ShortArray;

import static io.sparkglm.backend.tornado.AttentionKernels.*;
import static io.sparkglm.backend.tornado.KernelTesting.*;

/**
 * RoPE with the KV-cache write (f32, f16, q8_0: the stored bits equal the CPU backend's), the fp16 and Q8_0
 * encoders, the span attention kernel and its merge on the TornadoVM device against float64 references, on
 * random inputs.
 */
class AttentionKernelsTest {

    // ---------------------------------------------------------------- encoders

    /** Values that exercise fp16 rounding: every tie between adjacent fp16 values, subnormals, zeros, overflow. */
    private static float[] hardFp16Values() {
        List<Float> v = new ArrayList<>();
        for (int bits = 0; bits < 0x7C00; bits++) {                     // each finite fp16 and the midpoint above it
            float a = Float.float16ToFloat((short) bits);
            float next = Float.float16ToFloat((short) (bits + 1));
            float mid = (a + next) / 2;                                 // exact: 11 significant bits + 1
            v.add(a);
            v.add(mid);
            v.add(Math.nextUp(mid));
            v.add(Math.nextDown(mid));
            v.add(-mid);
        }
        for (float f : new float[] {0f, 65504f, 65519.996f, 65520f, 1e9f, -1e9f, Float.MIN_VALUE, -Float.MIN_VALUE,
                1e-40f, 2.9802322e-8f, 2.9802326e-8f, -2.9802322e-8f, 5.9604645e-8f, 6.1035156e-5f, 6.1035153e-5f}) v.add(f);
        for (int i = 0; i < 200_000; i++) v.add((float) (RANDOM.nextGaussian() * Math.pow(10, RANDOM.nextInt(12) - 8)));
        float[] out = new float[v.size()];
        for (int i = 0; i < out.length; i++) out[i] = v.get(i);
        return out;
    }

    @Test
    void fp16BitsEqualTheJdksOnTiesSubnormalsAndRandomValuesAndDecodeBack() {
        for (float f : hardFp16Values()) {
            assertEquals(Float.floatToFloat16(f) & 0xFFFF, fp16Bits(f), "fp16 bits of " + f + " (" + Float.floatToRawIntBits(f) + ")");
        }
        for (int bits = 0; bits < 0x10000; bits++) {
            if ((bits & 0x7C00) == 0x7C00) continue;                      // inf/NaN are never stored
            assertEquals(Float.float16ToFloat((short) bits), Kernels.fp16Value(bits), "decode of " + Integer.toHexString(bits));
            assertEquals(Float.float16ToFloat((short) bits), Kernels.fp16Value((short) bits), "decode of a sign-extended short");
        }
        assertEquals(0, fp16Bits(-0f), "-0 is stored as +0 (the same value; see fp16Bits)");
    }

    @Test
    void fp16EncoderAndDecoderOnTheDeviceEqualTheJdks() {
        float[] values = hardFp16Values();
        int n = values.length;
        FloatArray in = FloatArray.fromArray(values);
        IntArray bits = new IntArray(n);
        run(graph("encodeFp16", in).task("k", TestKernels::encodeFp16, new KernelContext(), in, bits, n)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, bits), (n + 63) / 64 * 64, 64);
        for (int i = 0; i < n; i++) {
            assertEquals(Float.floatToFloat16(values[i]) & 0xFFFF, bits.get(i), "device fp16 bits of " + values[i]);
        }
        ShortArray halves = new ShortArray(0x7C00 * 2);
        for (int b = 0; b < 0x7C00; b++) {
            halves.set(2 * b, (short) b);
            halves.set(2 * b + 1, (short) (b | 0x8000));
        }
        FloatArray decoded = new FloatArray(halves.getSize());
        run(graph("decodeFp16", halves).task("k", TestKernels::decodeFp16Bits, new KernelContext(), halves, decoded, halves.getSize())
                .transferToHost(DataTransferMode.EVERY_EXECUTION, decoded), halves.getSize(), 64);
        for (int i = 0; i < halves.getSize(); i++) {
            assertEquals(Float.float16ToFloat(halves.get(i)), decoded.get(i), "device decode of " + Integer.toHexString(halves.get(i) & 0xFFFF));
        }
    }

    @Test
    void q8EncoderOnTheDeviceEqualsTheCpuBackendsQuantizer() {
        int blocks = 4000;
        float[] values = hardQ8Values(blocks);
        FloatArray in = FloatArray.fromArray(values);
        ByteArray out = new ByteArray(blocks * 34);
        run(graph("quantizeQ8", in).task("k", TestKernels::quantizeQ8Blocks, new KernelContext(), in, out, blocks)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, out), (blocks + 63) / 64 * 64, 64);
        byte[] expected = cpuQuantizeQ8_0(values);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], out.get(i), "block " + i / 34 + " byte " + i % 34 + " (kind " + (i / 34) % 5 + ")");
        }
    }

    /** The CPU backend's Q8_0 row quantizer (package-private there), reached by reflection: the bits to match. */
    static byte[] cpuQuantizeQ8_0(float[] row) {
        try {
            Method m = Class.forName("io.sparkglm.backend.cpu.Kernels")
                    .getDeclaredMethod("quantizeQ8_0", float[].class, int.class, int.class, MemorySegment.class, long.class);
            m.setAccessible(true);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment seg = arena.allocate(row.length / 32 * 34L);
                m.invoke(null, row, 0, row.length, seg, 0L);
                return seg.toArray(ValueLayout.JAVA_BYTE);
            }
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    /** Rows of Q8_0-hard blocks: amax 127 (x * 127/amax = x exactly, so .5 values are ties), tiny and zero blocks. */
    private static float[] hardQ8Values(int blocks) {
        float[] v = new float[blocks * 32];
        for (int b = 0; b < blocks; b++) {
            int kind = b % 5;
            for (int k = 0; k < 32; k++) {
                float x = switch (kind) {
                    case 0 -> (RANDOM.nextInt(255) - 127) + 0.5f * RANDOM.nextInt(2);        // ties at amax = 127
                    case 1 -> (float) (RANDOM.nextGaussian() * 1e-3);                         // subnormal fp16 scale
                    case 2 -> 0f;                                                             // amax = 0
                    case 3 -> (float) (RANDOM.nextGaussian() * 3);
                    default -> (float) (RANDOM.nextGaussian() * 1e-6);
                };
                v[b * 32 + k] = x;
            }
            if (kind == 0) v[b * 32 + RANDOM.nextInt(32)] = RANDOM.nextBoolean() ? 127f : -127f;
        }
        return v;
    }

    // ---------------------------------------------------------------- RoPE + cache write, per KV type

    @ParameterizedTest(name = "kv type {0}")
    @ValueSource(ints = {KV_F32, KV_F16, KV_Q8_0})
    void ropeRotatesTheFirstRopeDimsAndWritesEachTokensCacheRowWithTheCpusBits(int kvType) {
        int heads = 4, kvHeads = 2, headDim = 64, ropeDims = 32, capacity = 12;
        int qDim = heads * headDim, kvDim = kvHeads * headDim, qkvDim = qDim + 2 * kvDim;
        double ropeBase = 5_000_000;
        int[] positions = {9, 0, 3, 11};
        int[] bases = {3, 3 + capacity, 3, 3 + capacity};          // two slots
        int tokens = positions.length, rows = 3 + 2 * capacity;
        FloatArray qkv = randomFloats(tokens * qkvDim, 1.0);
        // un-rotated dims (K past ropeDims, all of V) get fp16 ties and subnormals, or Q8_0 tie blocks
        float[] hard = kvType == KV_Q8_0 ? hardQ8Values(tokens * 2 * kvDim / 32) : hardFp16Values();
        int h = 0;
        for (int t = 0; t < tokens; t++) {
            for (int j = 0; j < 2 * kvDim; j++) {
                boolean rotated = j < kvDim && j % headDim < ropeDims;
                if (kvType == KV_Q8_0 ? !(j < kvDim && j % headDim < ropeDims && j % 32 < ropeDims) : !rotated) {
                    qkv.set(t * qkvDim + qDim + j, hard[(h++ * 7919) % hard.length]);
                }
            }
        }
        FloatArray original = FloatArray.fromArray(qkv.toHeapArray());
        RopeTable angles = RopeTable.of(6, ropeDims, ropeBase);                  // the launch's tokens' angles
        angles.fill(positions, 0, tokens);
        FloatArray rope = angles.table();
        int units = rows * kvDim;
        FloatArray kF = new FloatArray(kvType == KV_F32 ? units : 1), vF = new FloatArray(kvType == KV_F32 ? units : 1);
        ShortArray kH = new ShortArray(kvType == KV_F16 ? units : 1), vH = new ShortArray(kvType == KV_F16 ? units : 1);
        ByteArray kQ = new ByteArray(kvType == KV_Q8_0 ? rows * kvDim / 32 * 34 : 1);
        ByteArray vQ = new ByteArray(kvType == KV_Q8_0 ? rows * kvDim / 32 * 34 : 1);
        IntArray step = stepOf(6, new int[tokens], positions, bases);
        KernelContext c = new KernelContext();
        if (kvType == KV_Q8_0) {
            run(graph("ropeQ8", step, qkv, rope, kQ, vQ)
                    .task("k", AttentionKernels::ropeAndCacheQ8, c, step, qkv, rope, kQ, vQ, heads, kvHeads, headDim, ropeDims)
                    .transferToHost(DataTransferMode.EVERY_EXECUTION, qkv, kQ, vQ), 6 * qkvDim / 32, 16);
        } else {
            run(graph("rope", step, qkv, rope, kF, kH, vF, vH)
                    .task("k", AttentionKernels::ropeAndCache, c, step, qkv, rope, kF, kH, vF, vH, heads, kvHeads, headDim,
                            ropeDims, kvType)
                    .transferToHost(DataTransferMode.EVERY_EXECUTION, qkv, kF, kH, vF, vH), 6 * (heads + kvHeads) * headDim / 2, 16);
        }
        for (int t = 0; t < tokens; t++) {
            int row = bases[t] + positions[t];
            for (int head = 0; head < heads + kvHeads; head++) {
                for (int d = 0; d < headDim; d += 2) {
                    int i = t * qkvDim + head * headDim + d;
                    double x0 = original.get(i), x1 = original.get(i + 1), e0 = x0, e1 = x1;
                    if (d < ropeDims) {
                        double angle = positions[t] * Math.pow(ropeBase, -(double) d / ropeDims);
                        e0 = x0 * Math.cos(angle) - x1 * Math.sin(angle);
                        e1 = x0 * Math.sin(angle) + x1 * Math.cos(angle);
                    }
                    assertClose(e0, qkv.get(i), 1e-5, "token " + t + " rotated " + i);
                    assertClose(e1, qkv.get(i + 1), 1e-5, "token " + t + " rotated " + (i + 1));
                }
            }
            // the cache rows hold the rotated K and the V of qkv, in the CPU backend's bits
            float[] k = new float[kvDim], v = new float[kvDim];
            for (int j = 0; j < kvDim; j++) {
                k[j] = qkv.get(t * qkvDim + qDim + j);
                v[j] = qkv.get(t * qkvDim + qDim + kvDim + j);
            }
            for (int j = 0; j < kvDim; j++) {
                String what = "token " + t + " dim " + j;
                switch (kvType) {
                    case KV_F32 -> {
                        assertEquals(k[j], kF.get(row * kvDim + j), what + " key");
                        assertEquals(v[j], vF.get(row * kvDim + j), what + " value");
                    }
                    case KV_F16 -> {
                        assertEquals(Float.floatToFloat16(k[j]), kH.get(row * kvDim + j), what + " key bits of " + k[j]);
                        assertEquals(Float.floatToFloat16(v[j]), vH.get(row * kvDim + j), what + " value bits of " + v[j]);
                    }
                    default -> { }
                }
            }
            if (kvType == KV_Q8_0) {
                byte[] ek = cpuQuantizeQ8_0(k), ev = cpuQuantizeQ8_0(v);
                int rowBytes = kvDim / 32 * 34;
                for (int b = 0; b < rowBytes; b++) {
                    assertEquals(ek[b], kQ.get(row * rowBytes + b), "token " + t + " key byte " + b);
                    assertEquals(ev[b], vQ.get(row * rowBytes + b), "token " + t + " value byte " + b);
                }
            }
        }
        // rows of other positions untouched (checked for f32 only: TornadoVM does not copy the zeroed f16/q8_0
        // arrays in, the kernel only writes them, so their other rows come back with whatever the device held)
        if (kvType == KV_F32) assertEquals(0f, kF.get((3 + 8) * kvDim), "other positions untouched");
    }

    // ---------------------------------------------------------------- spans

    @Test
    void spansAreWholeTilesAtMostSixteenAndCoverTheKeys() {
        for (int length = 1; length <= 1 << 21; length = length < 5000 ? length + 1 : length * 3 / 2) {
            int span = spanLength(length), spans = spans(length);
            assertEquals(0, span % KEY_TILE, "span of " + length);
            assertTrue(spans >= 1 && spans <= SPLITS, length + " keys: " + spans + " spans");
            assertTrue((long) span * spans >= length && (long) span * (spans - 1) < length, length + " keys covered once");
        }
        assertEquals(16, spanLength(256));
        assertEquals(16, spans(256));
        assertEquals(65536, spanLength(1 << 20));
    }

    // ---------------------------------------------------------------- attention, per KV type

    @ParameterizedTest(name = "kv type {0}")
    @ValueSource(ints = {KV_F32, KV_F16, KV_Q8_0})
    void spanAttentionAndMergeMatchFloat64OverManySpansWithGqa(int kvType) {
        int heads = 6, kvHeads = 2, headDim = 32, capacity = 3100;
        int qDim = heads * headDim, kvDim = kvHeads * headDim, qkvDim = qDim + 2 * kvDim;
        float scale = (float) (1 / Math.sqrt(headDim));
        // positions: one key, partial tiles, exactly 16 x 16, several thousand keys (16 spans of 190+ keys)
        int[] positions = {0, 5, KEY_TILE - 1, 255, 256, 3071, 2999, 7, 1000};
        int[] bases = {7, 7, 7 + capacity, 7, 7 + capacity, 7 + capacity, 7, 7 + capacity, 7};   // two sequences' slots
        int tokens = positions.length, capTokens = 12, rows = 7 + 2 * capacity;
        FloatArray qkv = randomFloats(capTokens * qkvDim, 1.0);
        float[] keys = new float[rows * kvDim], values = new float[rows * kvDim];    // the values the cache holds
        FloatArray kF = new FloatArray(1), vF = new FloatArray(1);
        ShortArray kH = new ShortArray(1), vH = new ShortArray(1);
        ByteArray kQ = new ByteArray(1), vQ = new ByteArray(1);
        float[] rawK = new float[rows * kvDim], rawV = new float[rows * kvDim];
        for (int i = 0; i < rawK.length; i++) {
            rawK[i] = (float) (RANDOM.nextGaussian() * 2);               // scores of a few units: a peaked softmax
            rawV[i] = (float) RANDOM.nextGaussian();
        }
        switch (kvType) {
            case KV_F32 -> {
                kF = FloatArray.fromArray(rawK);
                vF = FloatArray.fromArray(rawV);
                keys = rawK;
                values = rawV;
            }
            case KV_F16 -> {
                kH = new ShortArray(rawK.length);
                vH = new ShortArray(rawV.length);
                for (int i = 0; i < rawK.length; i++) {
                    kH.set(i, Float.floatToFloat16(rawK[i]));
                    vH.set(i, Float.floatToFloat16(rawV[i]));
                    keys[i] = Float.float16ToFloat(kH.get(i));
                    values[i] = Float.float16ToFloat(vH.get(i));
                }
            }
            default -> {
                byte[] qk = cpuQuantizeQ8_0(rawK), qv = cpuQuantizeQ8_0(rawV);
                kQ = ByteArray.fromArray(qk);
                vQ = ByteArray.fromArray(qv);
                for (int i = 0; i < rawK.length; i++) {
                    int b = i / 32 * 34;
                    keys[i] = Float.float16ToFloat((short) ((qk[b] & 0xFF) | (qk[b + 1] << 8))) * qk[b + 2 + i % 32];
                    values[i] = Float.float16ToFloat((short) ((qv[b] & 0xFF) | (qv[b + 1] << 8))) * qv[b + 2 + i % 32];
                }
            }
        }
        IntArray step = stepOf(capTokens, new int[tokens], positions, bases);
        FloatArray partials = new FloatArray(capTokens * partialFloatsPerToken(heads, headDim));
        FloatArray out = new FloatArray(capTokens * qDim);
        KernelContext c = new KernelContext();
        run(graph("spans" + kvType, step, qkv, kF, kH, kQ, vF, vH, vQ, partials)
                .task("k", AttentionKernels::attentionSpans, c, step, qkv, kF, kH, kQ, vF, vH, vQ, partials, heads, kvHeads,
                        headDim, scale, kvType)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, partials), capTokens * kvHeads * SPLITS * Kernels.LOCAL, Kernels.LOCAL);
        run(graph("merge" + kvType, step, partials)
                .task("k", AttentionKernels::attentionMerge, c, step, partials, out, heads, headDim)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, out), capTokens * heads * Kernels.LOCAL, Kernels.LOCAL);
        double worst = 0;
        for (int t = 0; t < tokens; t++) {
            int position = positions[t], base = bases[t];
            for (int hd = 0; hd < heads; hd++) {
                int g = hd / (heads / kvHeads);
                double[] s = new double[position + 1];
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int p = 0; p <= position; p++) {
                    for (int d = 0; d < headDim; d++) {
                        s[p] += (double) qkv.get(t * qkvDim + hd * headDim + d) * keys[(base + p) * kvDim + g * headDim + d];
                    }
                    s[p] *= scale;
                    max = Math.max(max, s[p]);
                }
                for (int p = 0; p <= position; p++) sum += s[p] = Math.exp(s[p] - max);
                for (int d = 0; d < headDim; d++) {
                    double ctx = 0;
                    for (int p = 0; p <= position; p++) ctx += s[p] / sum * values[(base + p) * kvDim + g * headDim + d];
                    float got = out.get(t * qDim + hd * headDim + d);
                    worst = Math.max(worst, Math.abs(ctx - got));
                    assertClose(ctx, got, 2e-5, "token " + t + " position " + position + " head " + hd + " dim " + d);
                }
            }
        }
        System.out.println("span attention, kv type " + kvType + ": max |out - float64| " + worst);
        for (int i = tokens * qDim; i < capTokens * qDim; i++) assertEquals(0f, out.get(i), "tokens past T untouched");
    }

    @Test
    void mergeCombinesSpansInOrderAsFloat64() {
        int heads = 3, headDim = 40, capTokens = 4;
        int[] positions = {0, 100, 4000};                 // 1, 7 and 16 spans
        int stride = headDim + 2;
        FloatArray partials = new FloatArray(capTokens * partialFloatsPerToken(heads, headDim));
        for (int i = 0; i < partials.getSize(); i++) partials.set(i, (float) RANDOM.nextGaussian());
        for (int t = 0; t < positions.length; t++) {
            for (int h = 0; h < heads; h++) {
                for (int s = 0; s < SPLITS; s++) {
                    int at = ((t * heads + h) * SPLITS + s) * stride;
                    partials.set(at, (float) (RANDOM.nextGaussian() * 4));            // max
                    partials.set(at + 1, (float) (1 + RANDOM.nextDouble() * 50));     // sum of exponentials
                }
            }
        }
        IntArray step = stepOf(capTokens, new int[positions.length], positions, new int[positions.length]);
        FloatArray out = new FloatArray(capTokens * heads * headDim);
        run(graph("merge", step, partials)
                .task("k", AttentionKernels::attentionMerge, new KernelContext(), step, partials, out, heads, headDim)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, out), capTokens * heads * Kernels.LOCAL, Kernels.LOCAL);
        for (int t = 0; t < positions.length; t++) {
            int spans = spans(positions[t] + 1);
            for (int h = 0; h < heads; h++) {
                int base = (t * heads + h) * SPLITS * stride;
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int s = 0; s < spans; s++) max = Math.max(max, partials.get(base + s * stride));
                for (int s = 0; s < spans; s++) sum += partials.get(base + s * stride + 1) * Math.exp(partials.get(base + s * stride) - max);
                for (int d = 0; d < headDim; d++) {
                    double o = 0;
                    for (int s = 0; s < spans; s++) {
                        o += partials.get(base + s * stride + 2 + d) * Math.exp(partials.get(base + s * stride) - max);
                    }
                    assertClose(o / sum, out.get((t * heads + h) * headDim + d), 1e-5, "token " + t + " head " + h + " dim " + d);
                }
            }
        }
    }
}
