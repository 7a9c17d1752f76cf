package io.sparkglm.backend.cpu;

import io.sparkglm.model.ModelConfig;
import io.sparkglm.tensor.ActivationFormat;
import io.sparkglm.tensor.FloatGemm;

/**
 * The Java heap the CPU backend's forward pass takes, worked out from how {@link CpuBackend} allocates (arrays of
 * floats; object headers and the few small objects per step are left out). Two kinds:
 *
 * <ul>
 *   <li><b>Step arrays</b>, made and dropped by every {@link CpuBackend#forward} of {@code T} tokens with {@code R}
 *       logit rows. Step-wide: {@code h [T*hidden]}, cos and sin {@code [T*ropeDims/2]} each; one set of layer arrays
 *       that every layer uses in turn: {@code x [T*hidden]}, QKV {@code [T*qkvDim]}, context {@code [T*qDim]}, a
 *       product output {@code [T*hidden]} (attention out, then down), gate|up {@code [T*2*ffn]}, SwiGLU
 *       {@code [T*ffn]}, and one {@link io.sparkglm.tensor.Activations} per input format and width (inputs of
 *       {@code hidden}, {@code qDim} and {@code ffn} columns, see {@link #activationsBytes}); the logits:
 *       {@code x [R*hidden]}, an Activations of R rows, {@code [R*vocab]} and its per-sequence copy
 *       {@code [R*vocab]}. {@link #liveBytes} is all of it: what a step holds at most and all it allocates (the test
 *       checks it against the JVM's own count). Until 2026-12-03 every layer made its own arrays, 40 sets per
 *       GLM-4-9B step, which only fed the collector.</li>
 *   <li><b>Per-thread scratch</b>, kept for the thread's life: attention's tiles ({@link Attention#scratchFloats}: a
 *       few blocks of 256 keys, whatever the context) and the panel kernel's two unpacked weight panels
 *       ({@code (cols + 16) * PANEL + cols * PANEL} floats for the widest input).</li>
 * </ul>
 *
 * <p>Both grow with {@code T}: a step that carries a whole prompt ({@code prefillChunk 0}) takes memory in
 * proportion to the prompt, and past {@code 2^31} floats in one array (for GLM-4-9B: gate|up at 78,398 tokens) a
 * Java array cannot hold it at all ({@link #largestArrayElements}).
 */
public final class CpuStepMemory {

    /** Tokens per KV cache page: a sequence's cache takes whole pages ({@link CpuSequenceCache}). */
    public static final int KV_PAGE_TOKENS = CpuSequenceCache.PAGE_TOKENS;

    private CpuStepMemory() {}

    /**
     * Heap bytes one step of {@code tokens} tokens ({@code logitRows} logit rows) allocates and holds at most: the
     * layers share one set of arrays, so this is also all a step allocates.
     */
    public static long liveBytes(ModelConfig c, ActivationFormat format, long tokens, long logitRows) {
        return stepWide(c, tokens) + perLayer(c, format, tokens) + logits(c, format, logitRows);
    }

    /**
     * Heap bytes each compute thread keeps once it has run steps (the same with any context: {@code context} is
     * kept for callers that plan by it).
     */
    public static long scratchBytesPerThread(ModelConfig c, int context) {
        int widest = Math.max(c.hidden(), Math.max(c.qDim(), c.ffnHidden()));
        long panel = (long) FloatGemm.tileWidth() * (widest + 16) + (long) FloatGemm.tileWidth() * widest;
        return 4L * (new Attention(c).scratchFloats() + panel);
    }

    /** Elements of the largest array a step of {@code tokens} tokens makes (a Java array holds under 2^31). */
    public static long largestArrayElements(ModelConfig c, long tokens, long logitRows) {
        int widest = Math.max(2 * c.ffnHidden(), Math.max(c.qkvDim(), c.ffnHidden() + 16));
        return Math.max(tokens * widest, logitRows * c.vocabSize());
    }

    /** The longest step (tokens) whose arrays a Java array can hold. */
    public static long maxStepTokens(ModelConfig c) {
        int widest = Math.max(2 * c.ffnHidden(), Math.max(c.qkvDim(), c.ffnHidden() + 16));
        return (Integer.MAX_VALUE - 16) / widest;
    }

    private static long stepWide(ModelConfig c, long t) {
        return 4L * (t * c.hidden() + t * c.ropeDims());       // h; cos and sin of ropeDims/2 each
    }

    /** The arrays the layers share, and one input buffer per input width (qkv and gate|up both take {@code hidden}). */
    private static long perLayer(ModelConfig c, ActivationFormat f, long t) {
        long floats = t * (c.hidden() + c.qkvDim() + c.qDim() + c.hidden() + 2L * c.ffnHidden() + c.ffnHidden());
        long inputs = java.util.stream.IntStream.of(c.hidden(), c.qDim(), c.ffnHidden()).distinct()
                .mapToLong(cols -> activationsBytes(f, t, cols, true)).sum();
        return 4L * floats + inputs;
    }

    private static long logits(ModelConfig c, ActivationFormat f, long rows) {
        return 4L * (rows * c.hidden() + 2 * rows * c.vocabSize()) + activationsBytes(f, rows, c.hidden(), false);
    }

    /**
     * Bytes of one {@link io.sparkglm.tensor.Activations} of {@code t} tokens x {@code cols}: values on a padded
     * stride of {@code cols + 16} floats; Q8_0 adds a scale per 32 values, the quants again as int16 and as
     * de-interleaved floats; Q8_1 a scale and a sum per 32; Q8_K a scale per 256, a sum per 16 and per 32 and the quants as int16; a prompt step's
     * quantized input also keeps its dequantized ("dense") values for the panel kernel.
     */
    public static long activationsBytes(ActivationFormat f, long t, int cols, boolean prompt) {
        long padded = t * (cols + 16L), size = t * cols;
        return 4 * padded + switch (f) {
            case F32, F16, BF16 -> 0;
            case Q8_0 -> 4 * (size / 32) + 2 * padded + 4 * padded + (prompt ? 4 * padded : 0);
            case Q8_1 -> 4 * (size / 32) + 4 * (size / 32) + (prompt ? 4 * padded : 0);
            case Q8_K -> 4 * (size / 256) + 4 * (size / 16) + 4 * (size / 32) + 2 * padded + (prompt ? 4 * padded : 0);
        };
    }
}
