package io.sparkglm.tensor;

import java.util.Objects;

/**
 * {@code n} tokens of {@code cols} activations each, prepared once for one {@link ActivationFormat} and
 * reused by every matrix that takes that format (Q, K, V, gate/up all read the same prepared input).
 *
 * <p>Everything is kept as floats, quantized values included: an int8 times int8 product and sums of a
 * few hundred of them are exact in float, so the kernels get ggml's exact integer block dot from plain
 * float FMAs and convert only the weights in their inner loop.
 *
 * <p>Layout: token {@code t}, column {@code c} is {@code values[t * stride + c]}, the stride padded by one
 * cache line past {@code cols} so that tokens read side by side do not fall into the same cache sets
 * (4096 floats apart they would); for quantized formats the
 * scale of block {@code b} (32 or 256 columns) of token {@code t} is {@code scales[t * (cols / block) + b]},
 * for Q8_K the sum of the 16 quants of group {@code g} is {@code bsums[t * (cols / 16) + g]} and that of the 32
 * quants of group {@code j} is {@code groupSums[t * (cols / 32) + j]}, and for Q8_1
 * block {@code b}'s {@code s = fp16(d * sum q)} is {@code sums[t * (cols / 32) + b]}.
 *
 * <p>An instance is not thread-safe to {@link #load}, but any number of threads may read it at once.
 */
public final class Activations {

    private final ActivationFormat format;
    private final int capacity;
    private final int cols;
    /** Floats from one token's values to the next: {@code cols} plus one cache line. */
    final int stride;
    private int tokens;

    final float[] values;
    final float[] scales;
    final float[] bsums;
    /**
     * Q8_K: the sum of each 32 quants as an int, the group that a Q4_K or Q5_K scale and min covers: their decode
     * kernel takes the mins' correction as one integer product per group (ggml's bsums come in 16s, for Q2_K/Q3_K).
     */
    final int[] groupSums;
    /** Q8_1: per block of 32, {@code d * sum(q)} rounded to fp16 (ggml's {@code block_q8_1.s}). */
    final float[] sums;
    /** Q8_0 and Q8_K: the quantized values again as int16 (the decode kernels multiply in int16). */
    final short[] quants;
    /**
     * Q8_0: the quantized values de-interleaved per chunk of {@code 2L} columns (L = float lanes): the even
     * columns, then the odd ones, so float lane i pairs columns 2i and 2i+1 as the int16 kernel does.
     */
    final float[] pairs;
    /** {@link #values} times their block scales (the panel kernel's input), valid when {@link #denseComplete}. */
    private float[] dense;
    private volatile boolean denseComplete;

    private Activations(ActivationFormat format, int capacity, int cols) {
        this.format = Objects.requireNonNull(format, "format");
        if (capacity < 1) throw new IllegalArgumentException("token capacity must be >= 1, got " + capacity);
        if (cols < 1 || cols % format.blockSize() != 0) {
            throw new IllegalArgumentException(format + " activations need a row length that is a positive multiple of "
                    + format.blockSize() + ", got " + cols);
        }
        this.stride = cols + 16;
        long size = (long) capacity * cols, padded = (long) capacity * stride;
        if (padded > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("too many activations: " + capacity + " tokens x " + cols);
        }
        this.capacity = capacity;
        this.cols = cols;
        this.values = new float[(int) padded];
        this.scales = quantized() ? new float[(int) (size / format.blockSize())] : new float[0];
        this.bsums = format == ActivationFormat.Q8_K ? new float[(int) (size / 16)] : new float[0];
        this.groupSums = format == ActivationFormat.Q8_K ? new int[(int) (size / 32)] : new int[0];
        this.sums = format == ActivationFormat.Q8_1 ? new float[(int) (size / 32)] : new float[0];
        this.quants = format == ActivationFormat.Q8_0 || format == ActivationFormat.Q8_K ? new short[(int) padded] : new short[0];
        this.pairs = format == ActivationFormat.Q8_0 ? new float[(int) padded] : new float[0];
    }

    /** Room for up to {@code maxTokens} tokens; fill it with {@link #load} (reuse it every step to avoid garbage). */
    public static Activations allocate(ActivationFormat format, int maxTokens, int cols) {
        return new Activations(format, maxTokens, cols);
    }

    /** {@code n} tokens read from {@code x[xOffset + t * cols + c]}, prepared for {@code format}. */
    public static Activations prepare(ActivationFormat format, float[] x, int xOffset, int n, int cols) {
        return allocate(format, n, cols).load(x, xOffset, n);
    }

    /** Re-prepares this buffer from {@code n <= capacity()} tokens at {@code x[xOffset + t * cols + c]}; returns this. */
    public Activations load(float[] x, int xOffset, int n) {
        Objects.requireNonNull(x, "x");
        resize(n);
        loadTokens(x, xOffset, 0, n, false);
        return this;
    }

    /**
     * Sets the token count for a parallel load: {@link #loadTokens} then fills disjoint token ranges from several
     * threads (the backend prepares a long prompt chunk on all its cores); returns this.
     */
    public Activations resize(int n) {
        if (n < 1 || n > capacity) throw new IllegalArgumentException("token count " + n + " outside 1.." + capacity);
        tokens = n;
        denseComplete = false;
        return this;
    }

    /**
     * Prepares tokens {@code [from, to)} (of the count set by {@link #resize}) from {@code x[xOffset + t * cols + c]};
     * with {@code withDense} also their {@link #dense} values, so the prompt kernel finds them ready once every range
     * is loaded and {@link #denseLoaded} was called. Ranges that do not overlap may be loaded concurrently.
     */
    public void loadTokens(float[] x, int xOffset, int from, int to, boolean withDense) {
        Objects.requireNonNull(x, "x");
        if (from < 0 || to > tokens || from > to) {
            throw new IllegalArgumentException("token range [" + from + ", " + to + ") outside [0, " + tokens + ")");
        }
        if (xOffset < 0 || (long) xOffset + (long) to * cols > x.length) {
            throw new IllegalArgumentException("input of length " + x.length + " too short for " + to + " tokens x "
                    + cols + " from offset " + xOffset);
        }
        float[] d = withDense && quantized() ? denseArray() : null;
        for (int t = from; t < to; t++) {
            loadToken(x, xOffset + t * cols, t);
            if (d != null) denseToken(d, t);
        }
    }

    /** Declares that every token was loaded {@code withDense}: {@link #dense} returns them without recomputing. */
    public void denseLoaded() {
        denseComplete = true;
    }

    private boolean quantized() {
        return format == ActivationFormat.Q8_0 || format == ActivationFormat.Q8_1 || format == ActivationFormat.Q8_K;
    }

    private synchronized float[] denseArray() {
        if (dense == null) dense = new float[values.length];
        return dense;
    }

    /** Token {@code t}'s values times their block scales. */
    private void denseToken(float[] d, int t) {
        int block = format.blockSize(), blocks = cols / block;
        for (int b = 0; b < blocks; b++) {
            float scale = scales[t * blocks + b];
            int from = t * stride + b * block;
            for (int i = from; i < from + block; i++) d[i] = values[i] * scale;
        }
    }

    /**
     * The values the kernels multiply with, laid out like {@link #values}: {@code values} itself for float
     * formats, {@code q * d} per element for quantized ones (from {@link #loadTokens} with dense values, or
     * made here once per load; safe to call from many threads).
     */
    float[] dense() {
        if (!quantized()) return values;
        if (denseComplete) return dense;
        synchronized (this) {
            if (!denseComplete) {
                float[] d = denseArray();
                for (int t = 0; t < tokens; t++) denseToken(d, t);
                denseComplete = true;
            }
            return dense;
        }
    }

    /** Token {@code t} from {@code x[from .. from + cols)}. */
    private void loadToken(float[] x, int from, int t) {
        int to = t * stride;
        switch (format) {
            case F32 -> System.arraycopy(x, from, values, to, cols);
            case F16 -> {
                for (int i = 0; i < cols; i++) values[to + i] = roundToFp16(x[from + i]);
            }
            case BF16 -> {
                for (int i = 0; i < cols; i++) values[to + i] = roundToBf16(x[from + i]);
            }
            case Q8_0 -> {
                int blocks = cols / 32;
                for (int b = 0; b < blocks; b++) quantizeQ8_0Block(x, from + b * 32, to + b * 32, t * blocks + b);
            }
            case Q8_1 -> {
                int blocks = cols / 32;
                for (int b = 0; b < blocks; b++) quantizeQ8_1Block(x, from + b * 32, to + b * 32, t * blocks + b);
            }
            case Q8_K -> {
                int blocks = cols / 256;
                for (int b = 0; b < blocks; b++) quantizeQ8_KBlock(x, from + b * 256, to + b * 256, t * blocks + b);
            }
        }
    }

    public int tokens() { return tokens; }

    public int cols() { return cols; }

    public int capacity() { return capacity; }

    public ActivationFormat format() { return format; }

    /** The value the kernels actually multiply with: rounded, or dequantized ({@code q * d}). */
    public float get(int token, int col) {
        Objects.checkIndex(token, tokens);
        Objects.checkIndex(col, cols);
        float v = values[token * stride + col];
        return switch (format) {
            case F32, F16, BF16 -> v;
            case Q8_0, Q8_1, Q8_K -> v * scales[(token * cols + col) / format.blockSize()];
        };
    }

    /**
     * The stored value before its block scale: the rounded value (F16, BF16), the quant (Q8_0, Q8_K) or the
     * value itself (F32). With {@link #blockScale} and {@link #groupSum} this is ggml's block layout, which other
     * backends' kernels are checked against bit for bit.
     */
    public float quant(int token, int col) {
        Objects.checkIndex(token, tokens);
        Objects.checkIndex(col, cols);
        return values[token * stride + col];
    }

    /** Quantized formats: the scale {@code d} of block {@code block} (32 or 256 columns) of token {@code token}. */
    public float blockScale(int token, int block) {
        if (!quantized()) throw new IllegalStateException(format + " activations have no block scales");
        Objects.checkIndex(token, tokens);
        Objects.checkIndex(block, cols / format.blockSize());
        return scales[token * (cols / format.blockSize()) + block];
    }

    /** Q8_K: the sum of the 16 quants of group {@code group} of token {@code token} (ggml's bsums). */
    public float groupSum(int token, int group) {
        if (format != ActivationFormat.Q8_K) throw new IllegalStateException(format + " activations have no group sums");
        Objects.checkIndex(token, tokens);
        Objects.checkIndex(group, cols / 16);
        return bsums[token * (cols / 16) + group];
    }

    /** Q8_1: block {@code block}'s {@code s = fp16(d * sum q)} (ggml's block_q8_1.s) of token {@code token}. */
    public float blockSum(int token, int block) {
        if (format != ActivationFormat.Q8_1) throw new IllegalStateException(format + " activations have no block sums");
        Objects.checkIndex(token, tokens);
        Objects.checkIndex(block, cols / 32);
        return sums[token * (cols / 32) + block];
    }

    /** ggml's quantize_row_q8_0 (x86 path): d = amax/127 kept as fp16, q = rint(x * 127/amax). */
    private void quantizeQ8_0Block(float[] x, int from, int base, int block) {
        float amax = 0f;
        for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[from + i]));
        float d = amax / 127f;
        float id = amax != 0f ? 127f / amax : 0f;
        scales[block] = roundToFp16(d);
        for (int i = 0; i < 32; i++) values[base + i] = (float) Math.rint(x[from + i] * id) + 0f; // + 0f: an integer has no -0
        int lanes = Simd.L;
        for (int i = 0; i < 32; i++) {
            quants[base + i] = (short) values[base + i];
            int chunk = i / (2 * lanes) * (2 * lanes), within = i % (2 * lanes);
            pairs[base + chunk + (within % 2) * lanes + within / 2] = values[base + i];
        }
    }

    /**
     * ggml's quantize_row_q8_1 (x86 path): the quants and fp16 scale of {@link #quantizeQ8_0Block}, and
     * {@code s = fp16(d * sum q)} with the integer sum of the 32 quants and d = amax/127 before its fp16 rounding
     * (quantize_row_q8_1_ref computes the same s, but rounds quants half away from zero: the CPU backend does not).
     */
    private void quantizeQ8_1Block(float[] x, int from, int base, int block) {
        float amax = 0f;
        for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[from + i]));
        float d = amax / 127f;
        float id = amax != 0f ? 127f / amax : 0f;
        scales[block] = roundToFp16(d);
        int sum = 0;
        for (int i = 0; i < 32; i++) {
            float q = (float) Math.rint(x[from + i] * id) + 0f;
            values[base + i] = q;
            sum += (int) q;
        }
        sums[block] = roundToFp16(d * sum);
    }

    /** ggml's quantize_row_q8_K_ref: scale from the signed value of largest magnitude, d = 1/iscale, bsums per 16. */
    private void quantizeQ8_KBlock(float[] x, int from, int base, int block) {
        float max = 0f, amax = 0f;
        for (int i = 0; i < 256; i++) {
            float ax = Math.abs(x[from + i]);
            if (ax > amax) {
                amax = ax;
                max = x[from + i];
            }
        }
        if (amax == 0f) {
            scales[block] = 0f;
            java.util.Arrays.fill(values, base, base + 256, 0f);
            java.util.Arrays.fill(quants, base, base + 256, (short) 0);
            java.util.Arrays.fill(bsums, block * 16, block * 16 + 16, 0f);
            java.util.Arrays.fill(groupSums, block * 8, block * 8 + 8, 0);
            return;
        }
        float iscale = -127f / max;
        for (int i = 0; i < 256; i++) {
            values[base + i] = Math.min(127f, (float) Math.rint(iscale * x[from + i]) + 0f);
            quants[base + i] = (short) values[base + i];
        }
        for (int g = 0; g < 16; g++) {
            float sum = 0f;
            for (int i = 0; i < 16; i++) sum += values[base + g * 16 + i];
            bsums[block * 16 + g] = sum;
        }
        for (int j = 0; j < 8; j++) groupSums[block * 8 + j] = (int) (bsums[block * 16 + 2 * j] + bsums[block * 16 + 2 * j + 1]);
        scales[block] = 1f / iscale;
    }

    /** f32 -> fp16 -> f32, round to nearest even, subnormals and overflow to infinity included. */
    static float roundToFp16(float v) {
        return Float.float16ToFloat(Float.floatToFloat16(v));
    }

    /** f32 -> bf16 -> f32 exactly as ggml_compute_fp32_to_bf16: nearest even, NaN made quiet. */
    static float roundToBf16(float v) {
        return Float.intBitsToFloat(toBf16Bits(v) << 16);
    }

    static int toBf16Bits(float v) {
        int u = Float.floatToRawIntBits(v);
        if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 64) & 0xffff;
        return ((u + (0x7fff + ((u >>> 16) & 1))) >>> 16) & 0xffff;
    }
}
