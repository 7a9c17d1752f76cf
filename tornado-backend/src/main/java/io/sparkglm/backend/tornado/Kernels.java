package io.sparkglm.backend.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.ByteArray;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

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
 *   <li>no fp16 on PoCL: Q8_0 blocks are read from a {@link ByteArray} in GGUF layout (34 bytes: fp16
 *       scale, 32 int8) and the fp16 scale is decoded with integer and float arithmetic;</li>
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
        int bits = (bytes.get(offset) & 0xFF) | ((bytes.get(offset + 1) & 0xFF) << 8);
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
        float p = 1f;                                              // p = 2^floor(log2 v), by exact halving/doubling
        while (p > v) p *= 0.5f;
        while (p * 2f <= v) p *= 2f;
        float ulp = p * 9.765625e-4f;                              // 10 fraction bits: ulp = p * 2^-10
        return roundHalfEven(v / ulp) * ulp;
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
