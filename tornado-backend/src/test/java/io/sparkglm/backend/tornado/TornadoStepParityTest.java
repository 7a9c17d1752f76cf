package io.sparkglm.backend.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkglm.backend.Backend;
import io.sparkglm.backend.Backend.Step;
import io.sparkglm.backend.BackendOptions;
import io.sparkglm.backend.Backends;
import io.sparkglm.backend.KvCacheType;
import io.sparkglm.backend.SequenceCache;
import io.sparkglm.backend.cpu.CpuBackend;
import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.GgmlType;
import io.sparkglm.model.ModelLoader;
import io.sparkglm.model.TinyModels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Multi-token steps (matrix-matrix kernels over token tiles) against the one-token path and the CPU backend:
 * a whole prompt in one step, the same prompt in chunks, and mixed steps where one sequence's prompt chunk
 * shares the step with another sequence's prefill or decode token; also with launches split because a step
 * is larger than the backend's maxStepTokens, and logits gathered over several logits launches.
 *
 * <p>Against the one-token path (the same backend fed one token per step) every row must be bit-identical:
 * a token's arithmetic does not depend on the tokens that share its step or its tile. Against the CPU
 * backend: F32 within 1e-4; Q8_0 within 1e-3 except rows moved by an activation rounding tie (reported,
 * within 1e-1, the size of the float-vs-Q8_0-activation difference; see TornadoCpuParityTest). With these
 * prompts a tie between the two backends' last bits shows from A's position 4 on (up to 6e-2); it is the
 * same in the one-token path, so it is a CPU-vs-device rounding difference, not a batching one.
 */
class TornadoStepParityTest {

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0}: whole, chunked and mixed steps")
    @CsvSource({
            "F32,  256, 2, 4, 1, 320, 300, 1e4, 1e-4",
            "Q8_0, 192, 2, 6, 3, 224, 280, 1e8, 1e-3",
    })
    void multiTokenStepsMatchTheOneTokenPathAndTheCpuBackend(GgmlType type, int hidden, int layers, int heads, int kvHeads,
                                                             int ffn, int vocab, double ropeBase, double tolerance) throws Exception {
        Path model = dir.resolve("random-" + type + ".gguf");
        TinyModels.writeGguf(new TinyModels.Spec(hidden, layers, heads, kvHeads, ffn, vocab, ropeBase, type, 8, 4096), model, null);
        Random random = new Random(23);
        int[] promptA = random.ints(Kernels.LOCAL + 11, 0, vocab).toArray();   // > one attention tile, 9+ matrix tiles
        int[] promptB = random.ints(20, 0, vocab).toArray();
        int[] decodeB = random.ints(2, 0, vocab).toArray();                     // fed to B one token a step
        int[] allB = concat(promptB, decodeB);
        try (Checkpoint checkpoint = ModelLoader.open(model);
             Backend cpu = new CpuBackend(checkpoint, new BackendOptions(2, "f32", -1));
             Backend tornado = Backends.open("tornado", checkpoint, new BackendOptions(0, "f32", -1));
             Backend split = new TornadoBackend(checkpoint, KvCacheType.F32, 4, 256, 16, 3, -1)) {   // 16 tokens per launch, 3 logits rows
            List<float[]> cpuA = wholeAllLogits(cpu, promptA);
            List<float[]> cpuB = wholeAllLogits(cpu, allB);
            List<float[]> oneByOneA = oneTokenAtATime(tornado, promptA);
            List<float[]> oneByOneB = oneTokenAtATime(tornado, allB);

            List<String> beyond = new ArrayList<>();
            compareToCpu("one-token A", cpuA, oneByOneA, type, tolerance, beyond);
            compareToCpu("one-token B", cpuB, oneByOneB, type, tolerance, beyond);

            for (Backend backend : List.of(tornado, split)) {
                String name = backend == split ? "split launches" : "one launch";
                assertIdentical(name + ", whole prompt A", oneByOneA, wholeAllLogits(backend, promptA));
                Mixed mixed = mixedSteps(backend, promptA, promptB, decodeB);
                assertIdentical(name + ", A in chunks next to B", oneByOneA, mixed.a);
                assertIdentical(name + ", B prefill then decode next to A's chunks", oneByOneB, mixed.b);
                compareToCpu(name + " mixed A", cpuA, mixed.a, type, tolerance, beyond);
                compareToCpu(name + " mixed B", cpuB, mixed.b, type, tolerance, beyond);
            }
            if (!beyond.isEmpty()) System.err.println(type + " rows beyond " + tolerance + " vs CPU (rounding ties): " + beyond);
            assertTrue(type == GgmlType.Q8_0 || beyond.isEmpty(), "rows beyond " + tolerance + ": " + beyond);
        }
    }

    private record Mixed(List<float[]> a, List<float[]> b) {}

    /**
     * Step 1: A's first 7 tokens with B's whole prompt; step 2: A's next 30 with B's first decode token;
     * step 3: B's second decode token with the rest of A (B listed first). All logits of A; B's per token.
     */
    private static Mixed mixedSteps(Backend backend, int[] promptA, int[] promptB, int[] decodeB) {
        int vocab = backend.config().vocabSize();
        List<float[]> a = new ArrayList<>(), b = new ArrayList<>();
        try (SequenceCache sa = backend.newSequence(promptA.length);
             SequenceCache sb = backend.newSequence(promptB.length + decodeB.length)) {
            List<float[]> first = backend.forward(List.of(new Step(sa, Arrays.copyOfRange(promptA, 0, 7), true),
                    new Step(sb, promptB, true)));
            a.addAll(rows(first.get(0), vocab));
            b.addAll(rows(first.get(1), vocab));
            List<float[]> second = backend.forward(List.of(new Step(sa, Arrays.copyOfRange(promptA, 7, 37), true),
                    Step.decode(sb, decodeB[0])));
            a.addAll(rows(second.get(0), vocab));
            b.add(second.get(1));
            List<float[]> third = backend.forward(List.of(Step.decode(sb, decodeB[1]),
                    new Step(sa, Arrays.copyOfRange(promptA, 37, promptA.length), true)));
            b.add(third.get(0));
            a.addAll(rows(third.get(1), vocab));
            assertEquals(promptA.length, sa.length());
            assertEquals(promptB.length + decodeB.length, sb.length());
        }
        return new Mixed(a, b);
    }

    private static List<float[]> wholeAllLogits(Backend backend, int[] prompt) {
        try (SequenceCache s = backend.newSequence(prompt.length)) {
            return rows(backend.forward(List.of(new Step(s, prompt, true))).getFirst(), backend.config().vocabSize());
        }
    }

    private static List<float[]> oneTokenAtATime(Backend backend, int[] prompt) {
        List<float[]> out = new ArrayList<>();
        try (SequenceCache s = backend.newSequence(prompt.length)) {
            for (int id : prompt) out.add(backend.forward(List.of(new Step(s, new int[] {id}, false))).getFirst());
        }
        return out;
    }

    private static List<float[]> rows(float[] logits, int vocab) {
        List<float[]> out = new ArrayList<>();
        for (int p = 0; p < logits.length / vocab; p++) out.add(Arrays.copyOfRange(logits, p * vocab, (p + 1) * vocab));
        return out;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static void assertIdentical(String what, List<float[]> expected, List<float[]> actual) {
        assertEquals(expected.size(), actual.size(), what + ": rows");
        for (int r = 0; r < expected.size(); r++) {
            double diff = maxAbsDiff(expected.get(r), actual.get(r));
            assertEquals(0.0, diff, what + ": row " + r + " differs from the one-token path by " + diff);
        }
    }

    private static void compareToCpu(String what, List<float[]> cpu, List<float[]> tornado, GgmlType type, double tolerance,
                                     List<String> beyond) {
        assertEquals(cpu.size(), tornado.size(), what + ": rows");
        for (int r = 0; r < cpu.size(); r++) {
            double diff = maxAbsDiff(cpu.get(r), tornado.get(r));
            if (diff > tolerance) beyond.add(what + " row " + r + " (" + diff + ")");
            assertTrue(diff <= (type == GgmlType.Q8_0 ? 1e-1 : tolerance), what + " row " + r + ": max |diff| " + diff);
        }
    }

    private static double maxAbsDiff(float[] a, float[] b) {
        double max = 0;
        for (int i = 0; i < a.length; i++) max = Math.max(max, Math.abs((double) a[i] - b[i]));
        return max;
    }
}
