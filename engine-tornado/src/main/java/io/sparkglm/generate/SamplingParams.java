package io.sparkglm.generate;

/**
 * How the next token is chosen. Temperature 0 is greedy (ties to the lowest id). The seed makes a
 * sampled request reproducible, alone or inside a batch. Serializable: Spark ships it to executors inside the
 * glm_generate functions' fixed options.
 */
public record SamplingParams(float temperature, int topK, float topP, float minP, float repetitionPenalty, long seed)
        implements java.io.Serializable {

    public static final SamplingParams GREEDY = new SamplingParams(0f, 0, 1f, 0f, 1f, 0L);

    public SamplingParams {
        if (!(temperature >= 0) || Float.isInfinite(temperature)) throw new IllegalArgumentException("temperature must be >= 0: " + temperature);
        if (topK < 0) throw new IllegalArgumentException("topK must be >= 0 (0 = off): " + topK);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("topP must be in (0, 1]: " + topP);
        if (!(minP >= 0 && minP < 1)) throw new IllegalArgumentException("minP must be in [0, 1): " + minP);
        if (!(repetitionPenalty > 0) || Float.isInfinite(repetitionPenalty)) throw new IllegalArgumentException("repetitionPenalty must be > 0: " + repetitionPenalty);
    }

    public boolean greedy() { return temperature == 0f; }

    public SamplingParams withTemperature(float t) { return new SamplingParams(t, topK, topP, minP, repetitionPenalty, seed); }
    public SamplingParams withTopP(float p) { return new SamplingParams(temperature, topK, p, minP, repetitionPenalty, seed); }
    public SamplingParams withTopK(int k) { return new SamplingParams(temperature, k, topP, minP, repetitionPenalty, seed); }
    public SamplingParams withMinP(float p) { return new SamplingParams(temperature, topK, topP, p, repetitionPenalty, seed); }
    public SamplingParams withRepetitionPenalty(float r) { return new SamplingParams(temperature, topK, topP, minP, r, seed); }
    public SamplingParams withSeed(long s) { return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, s); }
}
