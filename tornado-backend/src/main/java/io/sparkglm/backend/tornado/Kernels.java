package io.sparkglm.backend.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.ByteArray;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;
import uk.ac.manchester.tornado.api.types.arrays.ShortArray;

/**
 * The GLM-4 forward pass as TornadoVM kernels (KernelContext style), over a step of T tokens at once: this
 * class holds what every kernel shares (work-group sizes, the step array's layout, fp16 arithmetic without
 * bit casts) and the per-token kernels (embedding lookup, RMSNorm); {@link MatrixKernels} has the weight
 * side, {@link AttentionKernels} the RoPE, KV cache and attention side.
 *
 * <p>A step holds tokens of several sequences (prompt chunks and single decode tokens). Activations are
 * token-major blocks {@code [T, dim]}. A token's arithmetic does not depend on which tokens share its step,
 * so a step of T tokens gives the same logits as T steps of one token.
 *
 * <p>Every kernel is plain Java that TornadoVM compiles to OpenCL C (or PTX); the same methods also run on
 * the host, which is how the tests' references stay honest about what a kernel computes. Constraints that
 * shape the code (../shared/PLATFORM.md):
 * <ul>
 *   <li>no fp16 on PoCL: weights stay in their stored format, F16 and BF16 as 16-bit words in a
 *       {@link ShortArray}, quantized formats as their GGUF blocks in a {@link ByteArray}, and every fp16
 *       or bf16 value is decoded with integer and float arithmetic ({@link #fp16Value}, {@link #bf16Value});</li>
 *   <li>no {@code Float.intBitsToFloat} in the OpenCL backend: fp16 rounding is done with powers of two;</li>
 *   <li>scalar arguments are frozen when a task is created: the step's size and each token's id, position
 *       and cache slot come through an {@link IntArray} copied in every step ({@link #stepIndex});</li>
 *   <li>reductions use KernelContext local memory and barriers ({@code @Reduce} was wrong on PoCL).</li>
 * </ul>
 *
 * <p>Work-group shapes the host must use: row reductions run in groups of {@link #LOCAL} threads, one group
 * per (output row, token tile) for matrices (2-D grid {@code [rows * LOCAL, ceil(T / TILE)]}), per token
 * for RMSNorm and per (token, head) for attention. The host sizes grids to the step's T; kernels still check
 * every index against the count in the step array, so a larger grid is harmless.
 */
public final class Kernels {

    /** Threads per work-group for row reductions, RMSNorm and attention (a power of two). */
    public static final int LOCAL = 64;
    /** Tokens per matrix work-group: each weight is read once per tile of this many tokens. */
    public static final int TILE = 8;
    /** Largest head dimension the attention kernel's local accumulator holds. */
    public static final int MAX_HEAD_DIM = 256;
    /** GGUF Q8_0: 32 values per block, stored as an fp16 scale and 32 signed bytes. */
    public static final int Q8_BLOCK = 32;
    public static final int Q8_BLOCK_BYTES = 34;
    /**
     * GGUF blocks of 32 values in 4 or 5 bits (the {@code format} argument of the nibble kernels): Q4_0 (fp16 d,
     * 16 bytes of nibbles; value {@code d (q - 8)}), Q5_0 (fp16 d, 4 bytes of fifth bits, 16 of nibbles;
     * {@code d (q - 16)}) and Q5_1 (fp16 d, fp16 m, fifth bits, nibbles; {@code d q + m}). Value {@code j < 16} is
     * the low nibble of byte j, value {@code j + 16} its high nibble; a fifth bit {@code k} is bit k of the
     * little-endian 32-bit qh.
     */
    public static final int NIBBLE_Q4_0 = 0, NIBBLE_Q5_0 = 1, NIBBLE_Q5_1 = 2;
    public static final int Q4_BLOCK_BYTES = 18, Q5_0_BLOCK_BYTES = 22, Q5_1_BLOCK_BYTES = 24;
    /** K-quant superblocks of 256 values: Q4_K 144 bytes, Q5_K 176, Q6_K 210; Q8_K activations alike. */
    public static final int K_BLOCK = 256;
    public static final int Q4K_BLOCK_BYTES = 144;
    public static final int Q5K_BLOCK_BYTES = 176;
    public static final int Q6K_BLOCK_BYTES = 210;
    /** Q8_K activations keep the sum of every 16 quants (ggml's bsums). */
    public static final int K_GROUP = 16;
    /** The {@code format} argument of the 16-bit weight kernels. */
    public static final int HALF_F16 = 0, HALF_BF16 = 1;

    /**
     * The per-step array: {@code [T, then per token t: token id, position, first cache row of its slot]}.
     * Index 0 (the count) is shared with the logits' row list {@code [L, row_0 .. row_L-1]}.
     */
    public static final int COUNT = 0;
    public static final int STEP_TOKEN = 0;
    public static final int STEP_POSITION = 1;
    public static final int STEP_CACHE_BASE = 2;
    public static final int STEP_FIELDS = 3;

    /** Index of {@code field} of token {@code t} in the step array. */
    public static int stepIndex(int t, int field) {
        return 1 + t * STEP_FIELDS + field;
    }

    private Kernels() {}

    // ---------------------------------------------------------------- scalar helpers (inlined into kernels)

    /** The fp16 value stored little-endian at {@code bytes[offset..offset+1]} (finite values; no inf/NaN in weights). */
    public static float fp16At(ByteArray bytes, int offset) {
        return fp16Value((bytes.get(offset) & 0xFF) | ((bytes.get(offset + 1) & 0xFF) << 8));
    }

    /** The fp16 value of the 16-bit pattern {@code bits} (finite values): {@code (1024+m) * 2^(e-25)}, no bit casts. */
    public static float fp16Value(int bits) {
        int exponent = (bits >> 10) & 0x1F;
        int mantissa = bits & 0x3FF;
        float magnitude;
        if (exponent == 0) {
            magnitude = mantissa * 5.9604645e-8f;                                // subnormal: m * 2^-24
        } else {
            magnitude = (1024 + mantissa) * ((float) (1 << exponent) * 2.9802322e-8f); // (1024+m) * 2^(e-25)
        }
        return (bits & 0x8000) != 0 ? -magnitude : magnitude;
    }

    /**
     * The bf16 value of the 16-bit pattern {@code bits} (the top half of an f32): {@code (1 + m/128) * 2^(e-127)},
     * the power of two built exactly from the exponent's bits (no {@code Float.intBitsToFloat} on the device), every
     * intermediate a normal float (devices that flush subnormals get the same result). Exponent 255 gives infinity.
     */
    public static float bf16Value(int bits) {
        int exponent = (bits >> 7) & 0xFF;
        float fraction = (bits & 0x7F) * 0.0078125f;                            // m / 128, exact
        float magnitude;
        if (exponent == 0) {
            magnitude = fraction * 0x1p-126f;                                    // subnormal: (m / 128) * 2^-126
        } else {
            int s = exponent - 1;                                                // 2^(e-127) = 2^(s-126), s in 0..254
            float p = (float) (1 << (s & 15)) * 0x1p-126f;
            if ((s & 16) != 0) p *= 0x1p16f;
            if ((s & 32) != 0) p *= 0x1p32f;
            if ((s & 64) != 0) p *= 0x1p64f;
            if ((s & 128) != 0) {
                p *= 0x1p64f;
                p *= 0x1p64f;
            }
            magnitude = (1f + fraction) * p;
        }
        return (bits & 0x8000) != 0 ? -magnitude : magnitude;
    }

    /**
     * {@code x / y} rounded to the nearest float, as IEEE division (and the host's quantizers) on every device.
     * TornadoVM builds OpenCL kernels with {@code -cl-fast-relaxed-math}, whose division may be an ulp off (seen
     * on PoCL: a Q8_K scale one ulp away from the engine's). The device's quotient and its two float neighbours
     * are compared by their remainders {@code x - c * y}, computed exactly in double (a product of two floats
     * is exact there, and so is its difference from x when c is near x / y); the smallest wins (division has
     * no ties). Quotients beyond 2^±100 are returned as the device computed them.
     */
    public static float quotient(float x, float y) {
        float q = x / y;
        float a = TornadoMath.abs(q);
        if (a < 0x1p-100f || a > 0x1p100f) return q;
        float p = 1f;                                              // p = 2^floor(log2 |q|)
        while (p > a) p *= 0.5f;
        while (p * 2f <= a) p *= 2f;
        float up = p * 0x1p-23f;                                   // the float spacing above |q|
        float down = a == p ? up * 0.5f : up;                      // and below it (half at a power of two)
        float sign = q < 0f ? -1f : 1f;
        float below = sign * (a - down);
        float above = sign * (a + up);
        double dx = x;
        double dy = y;
        double rest = TornadoMath.abs(dx - (double) q * dy);
        double restBelow = TornadoMath.abs(dx - (double) below * dy);
        double restAbove = TornadoMath.abs(dx - (double) above * dy);
        float best = q;
        if (restBelow < rest) {
            best = below;
            rest = restBelow;
        }
        if (restAbove < rest) best = above;
        return best;
    }

    /** Round half to even, as {@code Math.rint} (and x86's default rounding in ggml's quantizer). */
    public static float roundHalfEven(float v) {
        float f = TornadoMath.floor(v);
        float r = v - f;                       // exact: f and v share the exponent range
        if (r > 0.5f) return f + 1f;
        if (r < 0.5f) return f;
        float half = f * 0.5f;
        return half == TornadoMath.floor(half) ? f : f + 1f;
    }

    /** A non-negative float rounded to the nearest fp16 value (ties to even), kept as a float; no bit casts. */
    public static float roundToFp16(float v) {
        if (v < 6.1035156e-5f) {                                   // below 2^-14: fp16 subnormal grid 2^-24
            return roundHalfEven(v * 16777216f) * 5.9604645e-8f;
        }
        if (v >= 65520f) return v * 0x1p127f;                      // rounds past fp16's largest value: infinity
        float p = 1f;                                              // p = 2^floor(log2 v), by exact halving/doubling
        while (p > v) p *= 0.5f;
        while (p * 2f <= v) p *= 2f;
        float ulp = p * 9.765625e-4f;                              // 10 fraction bits: ulp = p * 2^-10
        return roundHalfEven(v / ulp) * ulp;
    }

    /** Any finite float rounded to fp16 (ties to even, as {@code Float.floatToFloat16}), kept as a float. */
    public static float roundToFp16Signed(float v) {
        if (v == 0f) return v;
        return v < 0f ? -roundToFp16(-v) : roundToFp16(v);
    }

    /**
     * Any finite float rounded to bf16 as ggml_compute_fp32_to_bf16 does (nearest, ties to even; past the largest
     * bf16 to infinity), kept as a float: 8 significant bits, found with exact powers of two. The spacing u of
     * bf16 values around |v| is searched directly, so that no product can be regrouped (fast-relaxed-math lets
     * the compiler reassociate) into one that overflows; values below 2^-100 are scaled by 2^64 first, so that
     * u never is an f32 subnormal (devices may flush those).
     */
    public static float roundToBf16(float v) {
        if (v == 0f) return v;
        float a = TornadoMath.abs(v);
        float r;
        if (a < 0x1p-126f) {                                       // f32 subnormal: bf16 subnormal grid 2^-133
            r = roundHalfEven(a * 0x1p100f * 0x1p33f) * 0x1p-100f * 0x1p-33f;
        } else {
            boolean tiny = a < 0x1p-100f;
            float b = tiny ? a * 0x1p64f : a;                      // exact
            float u = 0.0078125f;                                  // u = 2^(floor(log2 b) - 7): b / u in [128, 256)
            while (u * 128f > b) u *= 0.5f;
            while (u * 256f <= b) u *= 2f;
            r = roundHalfEven(b / u) * u;                          // 256 * u past bf16's largest: infinity
            if (tiny) r *= 0x1p-64f;
        }
        return v < 0f ? -r : r;
    }

    // ---------------------------------------------------------------- embedding

    /** {@code x[t] = table[token_t]} for an F32 table {@code [vocab, dim]}. Global size {@code T * dim}. */
    public static void embedF32(KernelContext context, IntArray step, FloatArray table, FloatArray x, int dim) {
        int i = context.globalIdx;
        int t = i / dim;
        if (t < step.get(COUNT)) {
            x.set(i, table.get(step.get(stepIndex(t, STEP_TOKEN)) * dim + i % dim));
        }
    }

    /** {@code x[t] = dequantize(table[token_t])} for a Q8_0 table {@code [vocab, dim]}. Global size {@code T * dim}. */
    public static void embedQ8(KernelContext context, IntArray step, ByteArray table, FloatArray x, int dim) {
        int i = context.globalIdx;
        int t = i / dim;
        if (t < step.get(COUNT)) {
            int d = i % dim;
            int block = (step.get(stepIndex(t, STEP_TOKEN)) * (dim / Q8_BLOCK) + d / Q8_BLOCK) * Q8_BLOCK_BYTES;
            x.set(i, (float) table.get(block + 2 + d % Q8_BLOCK) * fp16At(table, block));
        }
    }

    /**
     * {@code x[t] = table[token_t]} for an F16 or BF16 table {@code [vocab, dim]} of 16-bit words ({@code format}
     * {@link #HALF_F16} or {@link #HALF_BF16}). Global size {@code T * dim}.
     */
    public static void embedHalf(KernelContext context, IntArray step, ShortArray table, FloatArray x, int dim, int format) {
        int i = context.globalIdx;
        int t = i / dim;
        if (t < step.get(COUNT)) {
            int bits = table.get(step.get(stepIndex(t, STEP_TOKEN)) * dim + i % dim) & 0xFFFF;
            x.set(i, format == HALF_BF16 ? bf16Value(bits) : fp16Value(bits));
        }
    }

    /** Bytes of one block of a nibble format ({@link #NIBBLE_Q4_0}, {@link #NIBBLE_Q5_0}, {@link #NIBBLE_Q5_1}). */
    public static int nibbleBlockBytes(int format) {
        return format == NIBBLE_Q4_0 ? Q4_BLOCK_BYTES : format == NIBBLE_Q5_0 ? Q5_0_BLOCK_BYTES : Q5_1_BLOCK_BYTES;
    }

    /**
     * The code of value {@code k} (0..31) of the nibble block at {@code block}, its offset already taken off (Q4_0:
     * q - 8, Q5_0: q - 16, Q5_1: q), as a float (offsets subtracted in float: converting a negative int to float went
     * wrong in TornadoVM's OpenCL).
     */
    public static float nibbleCode(ByteArray w, int block, int format, int k) {
        int qs = block + (format == NIBBLE_Q4_0 ? 2 : format == NIBBLE_Q5_0 ? 6 : 8);
        int packed = w.get(qs + (k & 15)) & 0xFF;
        int q = k < 16 ? (packed & 0x0F) : (packed >> 4);
        if (format == NIBBLE_Q4_0) return (float) q - 8f;
        int qh = block + (format == NIBBLE_Q5_0 ? 2 : 4);
        q |= ((w.get(qh + (k >> 3)) >> (k & 7)) & 1) << 4;
        return format == NIBBLE_Q5_0 ? (float) q - 16f : (float) q;
    }

    /**
     * {@code x[t] = dequantize(table[token_t])} for a Q4_0, Q5_0 or Q5_1 table ({@code format}), as the engine's host
     * code: {@code code * d}, plus m for Q5_1. Global size {@code T * dim}.
     */
    public static void embedNibbles(KernelContext context, IntArray step, ByteArray table, FloatArray x, int dim, int format) {
        int i = context.globalIdx;
        int t = i / dim;
        if (t < step.get(COUNT)) {
            int d = i % dim;
            int block = (step.get(stepIndex(t, STEP_TOKEN)) * (dim / Q8_BLOCK) + d / Q8_BLOCK) * nibbleBlockBytes(format);
            float value = nibbleCode(table, block, format, d % Q8_BLOCK) * fp16At(table, block);
            x.set(i, format == NIBBLE_Q5_1 ? value + fp16At(table, block + 2) : value);
        }
    }

    /** Scale {@code j} (0..7) of a Q4_K/Q5_K superblock's 12 scale bytes at {@code at} (ggml's get_scale_min_k4). */
    public static int kScale(ByteArray w, int at, int j) {
        return j < 4 ? (w.get(at + j) & 63)
                     : ((w.get(at + j + 4) & 0x0F) | (((w.get(at + j - 4) & 0xFF) >> 6) << 4));
    }

    /** Min {@code j} (0..7) of a Q4_K/Q5_K superblock's 12 scale bytes at {@code at}. */
    public static int kMin(ByteArray w, int at, int j) {
        return j < 4 ? (w.get(at + j + 4) & 63)
                     : (((w.get(at + j + 4) & 0xFF) >> 4) | (((w.get(at + j) & 0xFF) >> 6) << 4));
    }

    /**
     * {@code x[t] = dequantize(table[token_t])} for a Q4_K ({@code fiveBits} 0) or Q5_K ({@code fiveBits} 1) table,
     * exactly as the engine's host code: {@code (d * scale_j) * q - dmin * min_j}. Global size {@code T * dim}.
     */
    public static void embedQ45K(KernelContext context, IntArray step, ByteArray table, FloatArray x, int dim, int fiveBits) {
        int i = context.globalIdx;
        int t = i / dim;
        if (t < step.get(COUNT)) {
            int d = i % dim;
            int blockBytes = fiveBits == 1 ? Q5K_BLOCK_BYTES : Q4K_BLOCK_BYTES;
            int blk = (step.get(stepIndex(t, STEP_TOKEN)) * (dim / K_BLOCK) + d / K_BLOCK) * blockBytes;
            int within = d % K_BLOCK;
            int pair = within / 64, l = within % 32, sub = within / 32;  // sub-block 2 * pair (low nibbles) or 2 * pair + 1
            int packed = table.get(blk + (fiveBits == 1 ? 48 : 16) + 32 * pair + l) & 0xFF;
            int q = sub % 2 == 0 ? (packed & 0x0F) : (packed >> 4);
            if (fiveBits == 1) q |= (((table.get(blk + 16 + l) & 0xFF) >> sub) & 1) << 4;
            float scale = fp16At(table, blk) * (float) kScale(table, blk + 4, sub);
            float min = fp16At(table, blk + 2) * (float) kMin(table, blk + 4, sub);
            x.set(i, scale * (float) q - min);
        }
    }

    /** {@code x[t] = dequantize(table[token_t])} for a Q6_K table: {@code (d * scale_g) * (q - 32)}. Global size {@code T * dim}. */
    public static void embedQ6K(KernelContext context, IntArray step, ByteArray table, FloatArray x, int dim) {
        int i = context.globalIdx;
        int t = i / dim;
        if (t < step.get(COUNT)) {
            int d = i % dim;
            int blk = (step.get(stepIndex(t, STEP_TOKEN)) * (dim / K_BLOCK) + d / K_BLOCK) * Q6K_BLOCK_BYTES;
            int within = d % K_BLOCK;
            int half = within / 128, k = (within % 128) / 32, l = within % 32;
            int packed = table.get(blk + 64 * half + 32 * (k % 2) + l) & 0xFF;
            int low = k < 2 ? (packed & 0x0F) : (packed >> 4);
            int high = ((table.get(blk + 128 + 32 * half + l) & 0xFF) >> (2 * k)) & 3;
            float scale = fp16At(table, blk + 208) * (float) table.get(blk + 192 + 8 * half + 2 * k + l / 16);
            x.set(i, scale * ((float) (low | (high << 4)) - 32f));           // the host's order: (d * scale) * q
        }
    }

    /**
     * Value {@code 128 * half + 32 * k + l} of the Q6_K superblock at {@code blk} as {@code scale_g * (q - 32)}
     * (an integer of at most 4096 in magnitude), g = 8 * half + 2 * k + l / 16.
     */
    public static float q6Weight(ByteArray w, int blk, int half, int k, int l) {
        int packed = w.get(blk + 64 * half + 32 * (k % 2) + l) & 0xFF;
        int low = k < 2 ? (packed & 0x0F) : (packed >> 4);
        int high = ((w.get(blk + 128 + 32 * half + l) & 0xFF) >> (2 * k)) & 3;
        return (float) w.get(blk + 192 + 8 * half + 2 * k + l / 16) * ((float) (low | (high << 4)) - 32f);
    }

    // ---------------------------------------------------------------- normalization and quantization

    /*
     * Local arrays must not be passed to helper methods: TornadoVM (5.2.1-jdk25-dev, OpenCL) then indexes them
     * like Java heap arrays (byte offset plus a 16-byte header) and reads/writes outside them. Hence the
     * reductions below are written out in every kernel.
     */

    /**
     * {@code out[t] = (x[t] * rsqrt(mean(x[t]^2) + eps)) * w} in fp32, as ggml (rms_norm, then mul), for each
     * token of the step. One work-group of {@link #LOCAL} threads per token: global {@code T * LOCAL}.
     */
    public static void rmsNorm(KernelContext context, IntArray count, FloatArray x, FloatArray w, FloatArray out, int dim, float eps) {
        float[] scratch = context.allocateFloatLocalArray(LOCAL);
        int t = context.groupIdx;
        int lid = context.localIdx;
        if (t < count.get(COUNT)) {
            float squares = 0f;
            for (int i = lid; i < dim; i += LOCAL) {
                float v = x.get(t * dim + i);
                squares += v * v;
            }
            scratch[lid] = squares;
            context.localBarrier();
            for (int stride = LOCAL / 2; stride > 0; stride >>= 1) {
                if (lid < stride) scratch[lid] += scratch[lid + stride];
                context.localBarrier();
            }
            float scale = 1f / TornadoMath.sqrt(scratch[0] / dim + eps);
            for (int i = lid; i < dim; i += LOCAL) {
                out.set(t * dim + i, (x.get(t * dim + i) * scale) * w.get(i));
            }
        }
    }

    /**
     * The final norm for the rows whose logits are wanted: {@code out[j] = rmsNorm(x[rows[1 + j]])} for
     * {@code j < rows[0]}, so the logits matrix runs over those rows only. Global {@code L * LOCAL}.
     */
    public static void rmsNormGather(KernelContext context, IntArray rows, FloatArray x, FloatArray w, FloatArray out, int dim, float eps) {
        float[] scratch = context.allocateFloatLocalArray(LOCAL);
        int j = context.groupIdx;
        int lid = context.localIdx;
        if (j < rows.get(COUNT)) {
            int from = rows.get(1 + j);
            float squares = 0f;
            for (int i = lid; i < dim; i += LOCAL) {
                float v = x.get(from * dim + i);
                squares += v * v;
            }
            scratch[lid] = squares;
            context.localBarrier();
            for (int stride = LOCAL / 2; stride > 0; stride >>= 1) {
                if (lid < stride) scratch[lid] += scratch[lid + stride];
                context.localBarrier();
            }
            float scale = 1f / TornadoMath.sqrt(scratch[0] / dim + eps);
            for (int i = lid; i < dim; i += LOCAL) {
                out.set(j * dim + i, (x.get(from * dim + i) * scale) * w.get(i));
            }
        }
    }

}
