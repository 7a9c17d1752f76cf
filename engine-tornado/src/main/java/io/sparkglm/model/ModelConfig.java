package io.sparkglm.model;

/**
 * The architecture numbers of a GLM-4 model, read from the checkpoint (GGUF metadata or config.json):
 * the only view of a file format that the forward pass has.
 *
 * @param architecture  "chatglm" (GGUF) / "glm" (HF); informational
 * @param layers        transformer blocks
 * @param hidden        model width
 * @param ffnHidden     SwiGLU inner width (the fused gate|up matrix has 2 * ffnHidden rows)
 * @param heads         query heads
 * @param kvHeads       key/value groups ("multi_query_group_num")
 * @param headDim       dims per head
 * @param ropeDims      rotated dims per head (the first ropeDims, as adjacent pairs); GLM-4: headDim / 2
 * @param ropeBase      RoPE theta base (10000 * rope_ratio)
 * @param contextLength trained context length
 * @param vocabSize     rows of the embedding and output matrices (padded vocabulary)
 * @param rmsEps        RMSNorm epsilon
 * @param qkvBias       whether the QKV projection has a bias
 */
public record ModelConfig(
        String architecture,
        int layers,
        int hidden,
        int ffnHidden,
        int heads,
        int kvHeads,
        int headDim,
        int ropeDims,
        double ropeBase,
        int contextLength,
        int vocabSize,
        float rmsEps,
        boolean qkvBias) {

    public ModelConfig {
        requirePositive("layers", layers);
        requirePositive("hidden", hidden);
        requirePositive("ffnHidden", ffnHidden);
        requirePositive("heads", heads);
        requirePositive("kvHeads", kvHeads);
        requirePositive("headDim", headDim);
        requirePositive("contextLength", contextLength);
        requirePositive("vocabSize", vocabSize);
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException("heads (" + heads + ") is not a multiple of kvHeads (" + kvHeads + ")");
        }
        if (ropeDims <= 0 || ropeDims > headDim || ropeDims % 2 != 0) {
            throw new IllegalArgumentException("ropeDims " + ropeDims + " must be even and within headDim " + headDim);
        }
        if (!(ropeBase > 0) || Double.isInfinite(ropeBase)) {
            throw new IllegalArgumentException("ropeBase must be positive and finite: " + ropeBase);
        }
        if (!(rmsEps > 0) || Float.isInfinite(rmsEps)) {
            throw new IllegalArgumentException("rmsEps must be positive and finite: " + rmsEps);
        }
    }

    /** Width of all query heads together. */
    public int qDim() { return heads * headDim; }

    /** Width of all key (or value) groups together. */
    public int kvDim() { return kvHeads * headDim; }

    /** Rows of the fused QKV projection: [all Q heads | all K groups | all V groups]. */
    public int qkvDim() { return qDim() + 2 * kvDim(); }

    private static void requirePositive(String name, int value) {
        if (value <= 0) throw new IllegalArgumentException(name + " must be positive: " + value);
    }
}
