package io.sparkglm.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkglm.backend.Backend.Step;
import io.sparkglm.backend.BackendOptions;
import io.sparkglm.backend.SequenceCache;
import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.ModelLoader;
import io.sparkglm.testing.SharedFiles;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * f16 and q8_0 KV caches against the f32 cache on a 4096-token prompt (the oracle's tiny f32 model: 3 layers,
 * kvDim 64, context 131072; random prompt ids), then {@value #STEPS} decode steps teacher-forced along the f32
 * greedy path, so every step compares logits for the same prefix. Reported: the largest |logit - f32 logit| of
 * the prompt's last row and of the decode steps, and at how many steps each type's argmax equals f32's (with
 * teacher forcing, the first disagreement is where free-running greedy paths would part).
 *
 * <p>Measured (docs/adr/0011-kv-cache-types.md; AVX-512, and AVX2 within 1% of these): f16 6.6e-5 on the prompt's
 * last row and 1.9e-4 over the decode steps; q8_0 1.6e-3 and 3.9e-3. The bounds are 3x those. Greedy ids agreed at
 * all 32 steps for both types; the smallest f32 top-2 margin on the path is 3.5e-3, below q8_0's largest
 * difference, so that agreement is a measured fact of this prompt (the numerics are deterministic), not a
 * guarantee: in general ids must agree only where the f32 margin exceeds twice the step's difference, which is
 * asserted per step.
 */
class KvCacheExactnessTest {

    static final int PROMPT = 4096, STEPS = 32, CHUNK = 512;

    /** Bounds on max |logit - f32 logit|, 3x what was measured (see class comment / ADR 0011). */
    static final double F16_BOUND = 6e-4, Q8_0_BOUND = 1.2e-2;

    private record Run(float[] promptLast, float[][] steps) {}

    @Test
    void f16AndQ8_0CachesStayCloseToF32OnA4kPrompt() {
        int[] prompt = new Random(11).ints(PROMPT, 0, 384).toArray();
        try (Checkpoint ckpt = ModelLoader.open(SharedFiles.tinyF32())) {
            int vocab = ckpt.config().vocabSize();
            Run f32 = run(ckpt, "f32", prompt, null);
            int[] path = new int[STEPS];
            for (int i = 0; i < STEPS; i++) path[i] = argmax(i == 0 ? f32.promptLast : f32.steps[i - 1]);
            // the f32 run already decoded along its own greedy path: check that was what it fed
            Run f32Again = run(ckpt, "f32", prompt, path);
            assertTrue(Arrays.equals(f32.promptLast, f32Again.promptLast) && Arrays.deepEquals(f32.steps, f32Again.steps),
                    "f32 is deterministic and followed its greedy path");
            for (String kv : new String[] {"f16", "q8_0"}) {
                Run other = run(ckpt, kv, prompt, path);
                double promptDiff = maxAbsDiff(f32.promptLast, other.promptLast), stepDiff = 0, minMargin = Double.MAX_VALUE;
                int agree = 0;
                boolean allAgree = true;
                for (int i = 0; i < STEPS; i++) {
                    float[] ref = i == 0 ? f32.promptLast : f32.steps[i - 1], got = i == 0 ? other.promptLast : other.steps[i - 1];
                    double diff = maxAbsDiff(ref, got);
                    stepDiff = Math.max(stepDiff, diff);
                    double margin = margin(ref);
                    minMargin = Math.min(minMargin, margin);
                    boolean same = argmax(got) == argmax(ref);
                    if (same && allAgree) agree++;
                    else allAgree = false;
                    if (margin > 2 * diff) assertEquals(argmax(ref), argmax(got), kv + " step " + i + ": margin " + margin + " > 2 x diff " + diff);
                }
                // the last decode step's logits too (the argmax loop covers steps 0..STEPS-1 of the path)
                stepDiff = Math.max(stepDiff, maxAbsDiff(f32.steps[STEPS - 1], other.steps[STEPS - 1]));
                System.out.printf(Locale.ROOT, "kv %s vs f32, %d-token prompt: prompt last row max|dlogit| %.3g, %d decode "
                        + "steps max|dlogit| %.3g, greedy ids agree for %d/%d steps (smallest f32 top-2 margin %.3g), vocab %d%n",
                        kv, PROMPT, promptDiff, STEPS, stepDiff, agree, STEPS, minMargin, vocab);
                double bound = kv.equals("f16") ? F16_BOUND : Q8_0_BOUND;
                assertTrue(promptDiff > 0, kv + " rounds: its logits differ from f32's somewhere");
                assertTrue(promptDiff < bound, kv + " prompt diff " + promptDiff + " >= " + bound);
                assertTrue(stepDiff < bound, kv + " decode diff " + stepDiff + " >= " + bound);
                assertEquals(STEPS, agree, kv + " greedy ids agree with f32 along the whole path");
            }
        }
    }

    /**
     * The oracle's short sequences (every prefill row) with each cache type against llama.cpp's f32 logits: f32 stays
     * within the oracle tolerance (1e-4); f16 and q8_0 within bounds about 3x what was measured (f16 1.1e-3, q8_0 2.5e-2,
     * ADR 0011). Short contexts move more than the 4K prompt: a few keys carry all the attention weight, so one
     * key's rounding is not averaged away.
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "kv {0}")
    @org.junit.jupiter.params.provider.CsvSource({"f32, 1e-4", "f16, 3.3e-3", "q8_0, 8e-2"})
    void oracleSequencesWithEachCacheType(String kv, double bound) {
        try (Checkpoint ckpt = ModelLoader.open(SharedFiles.tinyF32());
             CpuBackend backend = new CpuBackend(ckpt, new BackendOptions(2, kv, -1))) {
            int vocab = ckpt.config().vocabSize();
            double worst = 0;
            List<int[]> seqs = io.sparkglm.testing.Oracle.sequences();
            for (int s = 0; s < seqs.size(); s++) {
                int[] ids = seqs.get(s);
                float[][] golden = io.sparkglm.testing.Oracle.logits("f32", s, "prefill");
                try (SequenceCache cache = backend.newSequence(ids.length)) {
                    float[] all = backend.forward(List.of(new Step(cache, ids, true))).getFirst();
                    for (int p = 0; p < ids.length; p++) {
                        worst = Math.max(worst, maxAbsDiff(Arrays.copyOfRange(all, p * vocab, (p + 1) * vocab), golden[p]));
                    }
                }
            }
            System.out.printf(Locale.ROOT, "kv %s vs llama.cpp f32 logits, oracle sequences, every prefill row: max|dlogit| %.3g%n", kv, worst);
            assertTrue(worst < bound, kv + ": " + worst + " >= " + bound);
        }
    }

    /** Prefill in chunks of 512 (prompt kernels), then decode {@code path} (or its own greedy path when null). */
    private static Run run(Checkpoint ckpt, String kv, int[] prompt, int[] path) {
        try (CpuBackend backend = new CpuBackend(ckpt, new BackendOptions(2, kv, -1));
             SequenceCache cache = backend.newSequence(prompt.length + STEPS)) {
            float[] last = null;
            for (int from = 0; from < prompt.length; from += CHUNK) {
                int[] part = Arrays.copyOfRange(prompt, from, Math.min(prompt.length, from + CHUNK));
                last = backend.forward(List.of(new Step(cache, part, false))).getFirst();
            }
            float[][] steps = new float[STEPS][];
            float[] prev = last;
            for (int i = 0; i < STEPS; i++) {
                int token = path != null ? path[i] : argmax(prev);
                steps[i] = backend.forward(List.of(Step.decode(cache, token))).getFirst();
                prev = steps[i];
            }
            return new Run(last, steps);
        }
    }

    static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    static double margin(float[] x) {
        int best = argmax(x);
        double second = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < x.length; i++) if (i != best) second = Math.max(second, x[i]);
        return x[best] - second;
    }

    static double maxAbsDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs((double) a[i] - b[i]));
        return m;
    }
}
