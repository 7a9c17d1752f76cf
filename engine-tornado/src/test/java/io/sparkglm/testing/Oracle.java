package io.sparkglm.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/** Reads llama.cpp's golden outputs for the tiny models ({@code testdata/oracle/golden}). */
public final class Oracle {

    private Oracle() {}

    /** The three oracle prompts (comma-separated ids per line). */
    public static List<int[]> sequences() {
        return lines(SharedFiles.golden().resolve("sequences.txt")).stream()
                .filter(l -> !l.isBlank())
                .map(l -> Arrays.stream(l.trim().split(",")).mapToInt(s -> Integer.parseInt(s.trim())).toArray())
                .toList();
    }

    /** Logit rows of a golden file ("prefill" or "decode") of a variant ("f32", "q8_0", "f32-kvf16-fa"). */
    public static float[][] logits(String variant, int seq, String kind) {
        return lines(SharedFiles.golden().resolve(variant).resolve("out.seq" + seq + "." + kind + ".txt")).stream()
                .filter(l -> !l.isBlank())
                .map(Oracle::floats)
                .toArray(float[][]::new);
    }

    /** The 20 greedy ids of a variant's sequence. */
    public static int[] greedy(String variant, int seq) {
        String all = String.join(" ", lines(SharedFiles.golden().resolve(variant).resolve("out.seq" + seq + ".greedy.txt")));
        return Arrays.stream(all.trim().split("[\\s,]+")).mapToInt(Integer::parseInt).toArray();
    }

    public static float[] floats(String line) {
        String[] parts = line.trim().split("\\s+");
        float[] out = new float[parts.length];
        for (int i = 0; i < parts.length; i++) out[i] = Float.parseFloat(parts[i]);
        return out;
    }

    public static double maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) throw new AssertionError("lengths differ: " + a.length + " vs " + b.length);
        double max = 0;
        for (int i = 0; i < a.length; i++) max = Math.max(max, Math.abs((double) a[i] - b[i]));
        return max;
    }

    private static List<String> lines(Path p) {
        try {
            return Files.readAllLines(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
