package io.sparkglm.generate;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token of one sequence from its logits. Each sequence has its own sampler and seeded
 * random stream, so a request gives the same output alone or inside any batch.
 *
 * <p>Order, as llama.cpp's default chain: repetition penalty, then greedy (temperature 0) or
 * top-k, temperature, softmax, top-p, min-p, and one draw.
 */
public final class Sampler {

    /** How many recent tokens the repetition penalty looks at (llama.cpp's penalty_last_n default). */
    static final int PENALTY_WINDOW = 64;

    private final SamplingParams params;
    private final SplittableRandom random;
    private final int[] recent = new int[PENALTY_WINDOW];
    private int recentCount;

    public Sampler(SamplingParams params) {
        this.params = params;
        this.random = new SplittableRandom(params.seed());
    }

    /** Remembers a token of the context (prompt or generated) for the repetition penalty. */
    public void accept(int token) {
        recent[recentCount % PENALTY_WINDOW] = token;
        recentCount++;
    }

    /** Chooses the next token; {@code logits} may be modified. */
    public int sample(float[] logits) {
        applyRepetitionPenalty(logits);
        if (params.greedy()) return argmax(logits);

        int[] candidates = sortedByLogit(logits);          // best first
        int n = candidates.length;
        if (params.topK() > 0) n = Math.min(n, params.topK());

        double[] probs = new double[n];
        double max = logits[candidates[0]] / params.temperature();
        double sum = 0;
        for (int i = 0; i < n; i++) {
            probs[i] = Math.exp(logits[candidates[i]] / params.temperature() - max);
            sum += probs[i];
        }
        for (int i = 0; i < n; i++) probs[i] /= sum;

        if (params.topP() < 1f) {
            double cumulative = 0;
            for (int i = 0; i < n; i++) {
                cumulative += probs[i];
                if (cumulative >= params.topP()) { n = i + 1; break; }
            }
        }
        if (params.minP() > 0f) {
            double floor = params.minP() * probs[0];
            int keep = 1;
            while (keep < n && probs[keep] >= floor) keep++;
            n = keep;
        }

        while (n > 1 && probs[n - 1] == 0) n--;       // impossible tokens (masked: -inf) are never drawn
        double total = 0;
        for (int i = 0; i < n; i++) total += probs[i];
        double r = random.nextDouble() * total;
        for (int i = 0; i < n; i++) {
            r -= probs[i];
            if (r < 0) return candidates[i];
        }
        return candidates[n - 1];
    }

    private void applyRepetitionPenalty(float[] logits) {
        float penalty = params.repetitionPenalty();
        if (penalty == 1f) return;
        int count = Math.min(recentCount, PENALTY_WINDOW);
        int[] seen = Arrays.copyOf(recent, count);
        Arrays.sort(seen);
        for (int i = 0; i < count; i++) {
            if (i > 0 && seen[i] == seen[i - 1]) continue;   // penalise each token once
            int t = seen[i];
            if (t < 0 || t >= logits.length) continue;
            logits[t] = logits[t] > 0 ? logits[t] / penalty : logits[t] * penalty;
        }
    }

    /** The first index of the largest value (ties go to the lowest id, as the oracle's greedy path). */
    public static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) best = i;
        }
        return best;
    }

    /** Token ids ordered by logit, highest first (ties by lower id). NaN logits sort last. */
    private static int[] sortedByLogit(float[] logits) {
        long[] keys = new long[logits.length];
        for (int i = 0; i < logits.length; i++) {
            // Order-preserving int image of the float, inverted so ascending sort puts the largest first.
            int bits = Float.floatToIntBits(Float.isNaN(logits[i]) ? Float.NEGATIVE_INFINITY : logits[i]);
            int ordered = bits >= 0 ? bits : bits ^ 0x7fffffff;
            keys[i] = ((long) ~ordered << 32) | i;
        }
        Arrays.sort(keys);
        int[] ids = new int[keys.length];
        for (int i = 0; i < keys.length; i++) ids[i] = (int) keys[i];
        return ids;
    }
}
