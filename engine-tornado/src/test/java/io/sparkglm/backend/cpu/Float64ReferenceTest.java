package io.sparkglm.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkglm.backend.Backend;
import io.sparkglm.backend.Backend.Step;
import io.sparkglm.backend.BackendOptions;
import io.sparkglm.backend.SequenceCache;
import io.sparkglm.generate.Sampler;
import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.GgmlType;
import io.sparkglm.model.ModelConfig;
import io.sparkglm.model.ModelLoader;
import io.sparkglm.model.TinyModels;
import io.sparkglm.model.WeightTensor;
import io.sparkglm.tensor.WeightMatrix;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The CPU forward pass against a naive float64 GLM-4 written from FACTS.md alone, on random models of
 * shapes the oracle does not cover: the 1M model's 8 query heads per KV group, RoPE base 1e8, several
 * layers, a prompt long enough for RoPE to matter, and one that crosses the prompt attention's 256-position key
 * blocks and splits into several work items. Both see the same F32 weights.
 */
class Float64ReferenceTest {

    @ParameterizedTest(name = "hidden {0}, heads {1}/{2}, ffn {3}, layers {4}, rope base {5}, prompt {6}")
    @CsvSource({"128, 8, 1, 160, 2, 1e8, 40", "192, 6, 3, 256, 3, 5e6, 40", "256, 8, 2, 320, 1, 10000, 40",
            "64, 4, 2, 96, 1, 1e6, 300"})
    void logitsMatchANaiveFloat64ForwardPass(int hidden, int heads, int kvHeads, int ffn, int layers, double base,
                                             int promptLength, @TempDir Path dir) throws Exception {
        Path file = dir.resolve("model.gguf");
        TinyModels.writeGguf(new TinyModels.Spec(hidden, layers, heads, kvHeads, ffn, 300, base, GgmlType.F32, 11, 4096),
                file, null);
        int[] prompt = new Random(5).ints(promptLength, 0, 300).toArray();
        try (Checkpoint ckpt = ModelLoader.open(file);
             Backend backend = new CpuBackend(ckpt, new BackendOptions(2, "f32", -1));
             SequenceCache cache = backend.newSequence(prompt.length + 8)) {
            double[][] expected = new NaiveGlm4(ckpt).forward(prompt);
            float[] got = backend.forward(List.of(new Step(cache, prompt, true))).getFirst();
            int vocab = ckpt.config().vocabSize();
            double worst = 0;
            for (int p = 0; p < prompt.length; p++) {
                for (int v = 0; v < vocab; v++) worst = Math.max(worst, Math.abs(got[p * vocab + v] - expected[p][v]));
            }
            assertTrue(worst < 2e-4, "max |CPU - float64| over all positions = " + worst);
            // The greedy continuation agrees too (the float64 model extended token by token).
            int[] ids = new int[8];
            float[] last = java.util.Arrays.copyOfRange(got, (prompt.length - 1) * vocab, prompt.length * vocab);
            int[] context = prompt.clone();
            for (int i = 0; i < ids.length; i++) {
                ids[i] = Sampler.argmax(last);
                double[] ref = new NaiveGlm4(ckpt).forward(context)[context.length - 1];
                assertTrue(argmax(ref) == ids[i] || margin(ref) < 1e-3, "step " + i + ": float64 picks " + argmax(ref));
                context = java.util.Arrays.copyOf(context, context.length + 1);
                context[context.length - 1] = ids[i];
                last = backend.forward(List.of(Step.decode(cache, ids[i]))).getFirst();
            }
        }
    }

    private static int argmax(double[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    /** Gap between the best and second-best logit (ties make the greedy choice legitimately ambiguous). */
    private static double margin(double[] v) {
        int best = argmax(v);
        double second = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < v.length; i++) if (i != best) second = Math.max(second, v[i]);
        return v[best] - second;
    }

    /** GLM-4 in float64, straight from FACTS.md: no batching, no caching, no vectors. */
    private static final class NaiveGlm4 {
        private final Checkpoint ckpt;
        private final ModelConfig c;

        NaiveGlm4(Checkpoint ckpt) {
            this.ckpt = ckpt;
            this.c = ckpt.config();
        }

        double[][] forward(int[] tokens) {
            int n = tokens.length, hd = c.headDim();
            double[][] h = new double[n][];
            for (int t = 0; t < n; t++) h[t] = row("token_embd.weight", tokens[t]);
            for (int l = 0; l < c.layers(); l++) {
                String b = "blk." + l + ".";
                double[][] q = new double[n][], k = new double[n][], v = new double[n][];
                for (int t = 0; t < n; t++) {
                    double[] x = rmsNorm(h[t], vector(b + "attn_norm.weight"));
                    double[] qkv = add(matVec(b + "attn_qkv.weight", x), vector(b + "attn_qkv.bias"));
                    q[t] = java.util.Arrays.copyOfRange(qkv, 0, c.qDim());
                    k[t] = java.util.Arrays.copyOfRange(qkv, c.qDim(), c.qDim() + c.kvDim());
                    v[t] = java.util.Arrays.copyOfRange(qkv, c.qDim() + c.kvDim(), c.qkvDim());
                    for (int head = 0; head < c.heads(); head++) rope(q[t], head * hd, t);
                    for (int g = 0; g < c.kvHeads(); g++) rope(k[t], g * hd, t);
                }
                for (int t = 0; t < n; t++) {
                    double[] ctx = new double[c.qDim()];
                    for (int head = 0; head < c.heads(); head++) {
                        int g = head / (c.heads() / c.kvHeads());
                        double[] w = new double[t + 1];
                        double max = Double.NEGATIVE_INFINITY, sum = 0;
                        for (int s = 0; s <= t; s++) {
                            double dot = 0;
                            for (int d = 0; d < hd; d++) dot += q[t][head * hd + d] * k[s][g * hd + d];
                            w[s] = dot / Math.sqrt(hd);
                            max = Math.max(max, w[s]);
                        }
                        for (int s = 0; s <= t; s++) sum += (w[s] = Math.exp(w[s] - max));
                        for (int s = 0; s <= t; s++) {
                            for (int d = 0; d < hd; d++) ctx[head * hd + d] += w[s] / sum * v[s][g * hd + d];
                        }
                    }
                    h[t] = add(h[t], matVec(b + "attn_output.weight", ctx));
                    double[] x = rmsNorm(h[t], vector(b + "ffn_norm.weight"));
                    double[] gateUp = matVec(b + "ffn_up.weight", x);
                    double[] act = new double[c.ffnHidden()];
                    for (int i = 0; i < act.length; i++) {
                        double gate = gateUp[i];
                        act[i] = gate / (1 + Math.exp(-gate)) * gateUp[c.ffnHidden() + i];
                    }
                    h[t] = add(h[t], matVec(b + "ffn_down.weight", act));
                }
            }
            double[][] logits = new double[n][];
            for (int t = 0; t < n; t++) logits[t] = matVec("output.weight", rmsNorm(h[t], vector("output_norm.weight")));
            return logits;
        }

        /** Adjacent pairs (2i, 2i+1) of the first ropeDims dims, theta_i = base^(-2i/ropeDims). */
        private void rope(double[] x, int off, int position) {
            for (int i = 0; i < c.ropeDims() / 2; i++) {
                double angle = position * Math.pow(c.ropeBase(), -2.0 * i / c.ropeDims());
                double x0 = x[off + 2 * i], x1 = x[off + 2 * i + 1];
                x[off + 2 * i] = x0 * Math.cos(angle) - x1 * Math.sin(angle);
                x[off + 2 * i + 1] = x0 * Math.sin(angle) + x1 * Math.cos(angle);
            }
        }

        private double[] rmsNorm(double[] x, double[] w) {
            double ss = 0;
            for (double v : x) ss += v * v;
            double scale = 1 / Math.sqrt(ss / x.length + c.rmsEps());
            double[] out = new double[x.length];
            for (int i = 0; i < x.length; i++) out[i] = x[i] * scale * w[i];
            return out;
        }

        private double[] matVec(String name, double[] x) {
            WeightTensor t = ckpt.tensor(name);
            double[] out = new double[t.rows()];
            for (int r = 0; r < t.rows(); r++) {
                double[] w = row(name, r);
                double s = 0;
                for (int i = 0; i < x.length; i++) s += w[i] * x[i];
                out[r] = s;
            }
            return out;
        }

        private double[] row(String name, int r) {
            WeightTensor t = ckpt.tensor(name);
            float[] f = new float[t.cols()];
            WeightMatrix.of(t).dequantizeRow(r, f, 0);
            double[] d = new double[f.length];
            for (int i = 0; i < f.length; i++) d[i] = f[i];
            return d;
        }

        private double[] vector(String name) {
            return row(name, 0);
        }

        private static double[] add(double[] a, double[] b) {
            double[] out = new double[a.length];
            for (int i = 0; i < a.length; i++) out[i] = a[i] + b[i];
            return out;
        }
    }
}
