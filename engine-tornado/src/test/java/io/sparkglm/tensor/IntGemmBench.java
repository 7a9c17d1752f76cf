package io.sparkglm.tensor;

import io.sparkglm.model.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import static io.sparkglm.tensor.Simd.F;

/**
 * The experiment behind ADR 0015: Q8_0 weights times Q8_0 activations (the prompt GEMM) by integer products, against
 * today's float panel GEMM (not a test: run it by hand, single-threaded).
 * <pre>OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
 *     -Xmx6g -cp target/classes:target/test-classes io.sparkglm.tensor.IntGemmBench \
 *     [rows=4096,13696] [tokens=512] [rounds=3] [seconds=2]
 *     [kernels=panels,c2-1024,vapi,vapi-biased,dnnl-raw,dnnl-block,dnnl-block-calls,sgemm]</pre>
 * ({@code kernels=c2-ceiling} times the C2 loop alone instead; ADR 0015 has the numbers and how to see its instructions.)
 *
 * <p>Formulations (each output {@code out[t * rows + r]}, 4096 columns):
 * <ul>
 *   <li>{@code panels}: today's prompt kernel ({@link WeightMatrix#matmulPanels}), float FMA on dequantized panels;</li>
 *   <li>{@code c2-1024} (also {@code c2}, {@code c2-256}: the panel height): a plain Java loop
 *       {@code acc[i] += w[2i] * x[2i] + w[2i+1] * x[2i+1]} over int16 arrays, which C2's SuperWord turns into {@code vpdpwssd} on AVX-512 VNNI (weights repacked per 32-column block as row
 *       pairs, the activation pair replicated across the panel's lanes), int32 block sums, then the float scale;</li>
 *   <li>{@code vapi}: a Vector API register tile (64 rows x 2 tokens): int8 values widened to int16 lanes, two
 *       columns' products added in int16, the pair sums widened to int32 through shifts of the 32-bit view (as
 *       {@code Q8_0Matrix.dot1}), int32 block sums, then the float scale; {@code vapi-biased} widens with one
 *       operation less ({@link VapiTile#tileBiased});</li>
 *   <li>{@code dnnl-raw}: oneDNN's {@code dnnl_gemm_u8s8s32} over all 4096 columns at once, scales ignored (an upper
 *       bound: not the Q8_0 product);</li>
 *   <li>{@code dnnl-block}: the same call once per 32-column block (K = 32) into an int32 tile, then the float scale in
 *       Java: block-exact ({@code dnnl-block-calls}: its calls alone, no product; other tile shapes by name);</li>
 *   <li>{@code sgemm}: OpenBLAS {@code cblas_sgemm} on weights dequantized beforehand (not timed) and the dense
 *       activations: the float reference.</li>
 * </ul>
 * The block-exact formulations all compute, per row {@code r} and token {@code t}, {@code acc = fma((float) S_b,
 * d_w[r][b] * d_x[t][b], acc)} for blocks {@code b} in order from {@code 0}, {@code S_b} the exact int32 dot product of
 * the block's quants: the same bits whatever the tile or batch. Each formulation is checked first, on sampled outputs,
 * against a float64 reference of the same product and (block-exact ones) bit for bit against that scalar recipe; row 0
 * of the weights is all 127 and token 0 of the activations all 127 (saturation of any int16 intermediate would show).
 * Timing: this thread's CPU time, formulations interleaved round by round; prints min/median/max GFLOP/s. The native
 * formulations are skipped, with a message, where libdnnl or libopenblas is absent.
 */
public final class IntGemmBench {

    static final int BLOCK = 32;
    static final VectorSpecies<Short> S = ShortVector.SPECIES_PREFERRED;
    static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;

    /** One problem: Q8_0 weights (rows x cols) and Q8_0 activations (tokens x cols), in every layout the kernels want. */
    static final class Problem {
        final int rows, cols, tokens, blocks;
        final byte[] wq;           // [r * cols + c]
        final float[] dw;          // [r * blocks + b], fp16-exact
        final float[] dwT;         // [b * rows + r]
        final byte[] xq;           // [t * cols + c]
        final float[] dx;          // [t * blocks + b]
        final MemorySegment q8;    // the weights as GGUF Q8_0 blocks
        final Activations x;

        Problem(Arena arena, int rows, int cols, int tokens) {
            this.rows = rows; this.cols = cols; this.tokens = tokens; this.blocks = cols / BLOCK;
            Random rnd = new Random(7);
            wq = new byte[rows * cols];
            rnd.nextBytes(wq);
            Arrays.fill(wq, 0, cols, (byte) 127);
            dw = new float[rows * blocks];
            dwT = new float[rows * blocks];
            for (int i = 0; i < dw.length; i++) dw[i] = Float.float16ToFloat(Float.floatToFloat16((float) (0.002 + 0.01 * rnd.nextDouble())));
            for (int r = 0; r < rows; r++) for (int b = 0; b < blocks; b++) dwT[b * rows + r] = dw[r * blocks + b];
            q8 = arena.allocate((long) rows * blocks * 34, 64);
            var half = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
            for (int r = 0; r < rows; r++) {
                for (int b = 0; b < blocks; b++) {
                    long at = ((long) r * blocks + b) * 34;
                    q8.set(half, at, Float.floatToFloat16(dw[r * blocks + b]));
                    MemorySegment.copy(MemorySegment.ofArray(wq), (long) r * cols + b * BLOCK, q8, at + 2, BLOCK);
                }
            }
            float[] raw = new float[tokens * cols];
            for (int i = 0; i < raw.length; i++) raw[i] = (float) rnd.nextGaussian();
            Arrays.fill(raw, 0, cols, 1f);
            x = Activations.prepare(ActivationFormat.Q8_0, raw, 0, tokens, cols);
            xq = new byte[tokens * cols];
            for (int t = 0; t < tokens; t++) for (int c = 0; c < cols; c++) xq[t * cols + c] = (byte) x.quants[t * x.stride + c];
            dx = Arrays.copyOf(x.scales, tokens * blocks);
            x.dense(); // made once here, as the backend prepares it before the kernels run
        }

        int isum(int r, int t, int b) {
            int s = 0;
            for (int k = b * BLOCK; k < (b + 1) * BLOCK; k++) s += wq[r * cols + k] * xq[t * cols + k];
            return s;
        }

        /** The float64 value of the Q8_0 product, and the sum of its terms' magnitudes (for a relative error). */
        double[] reference(int r, int t) {
            double sum = 0, mag = 0;
            for (int b = 0; b < blocks; b++) {
                double v = (double) dw[r * blocks + b] * dx[t * blocks + b] * isum(r, t, b);
                sum += v;
                mag += Math.abs(v);
            }
            return new double[] {sum, mag};
        }

        /** The block-exact recipe every integer formulation implements, in scalar code. */
        float exact(int r, int t) {
            float acc = 0f;
            for (int b = 0; b < blocks; b++) acc = Math.fma((float) isum(r, t, b), dw[r * blocks + b] * dx[t * blocks + b], acc);
            return acc;
        }
    }

    interface Kernel {
        /** Null when it can run, else why not. */
        default String unavailable() { return null; }
        default void prepare(Problem p, Arena arena) {}
        void run(Problem p, float[] out);
        /** Whether it implements {@link Problem#exact} bit for bit. */
        boolean blockExact();
        /** Whether it computes the Q8_0 product at all (dnnl-raw ignores the scales). */
        default boolean q8Product() { return true; }
    }

    // ---- 0: today's float panel GEMM ----

    static final class Panels implements Kernel {
        WeightMatrix w;
        @Override public void prepare(Problem p, Arena arena) { w = WeightMatrix.of(GgmlType.Q8_0, p.q8, p.rows, p.cols); }
        @Override public void run(Problem p, float[] out) { w.matmulPanels(p.x, out, 0, p.rows, 0, p.rows); }
        @Override public boolean blockExact() { return false; }
    }

    // ---- 1: C2 auto-vectorization of int16 pair multiply-adds ----

    /**
     * Per 32-column block: the block's weights repacked as int16 {@code wb[((panel * 16 + pair) * P + i) * 2 + (0|1)]}
     * (i = row in a panel of P); per token and block the activation pairs replicated across P lanes once, then every
     * row panel runs 16 calls of {@link #madd} (int32 block sums) and one scaling loop.
     */
    static final class C2Pairs implements Kernel {
        final int P;
        short[] wb, xr;
        final int[] acc;
        C2Pairs(int panel) { P = panel; acc = new int[P]; }
        @Override public void prepare(Problem p, Arena arena) { wb = new short[(p.rows + P - 1) / P * P * BLOCK]; xr = new short[16 * 2 * P]; }
        @Override public boolean blockExact() { return true; }

        @Override public void run(Problem p, float[] out) {
            int rows = p.rows, cols = p.cols, panels = (rows + P - 1) / P; // the last panel may be narrower
            Arrays.fill(out, 0, rows * p.tokens, 0f);
            for (int b = 0; b < p.blocks; b++) {
                for (int r = 0; r < rows; r++) {
                    int panel = r / P, i = r % P, src = r * cols + b * BLOCK;
                    for (int pair = 0; pair < 16; pair++) {
                        int at = ((panel * 16 + pair) * P + i) * 2;
                        wb[at] = p.wq[src + 2 * pair];
                        wb[at + 1] = p.wq[src + 2 * pair + 1];
                    }
                }
                for (int t = 0; t < p.tokens; t++) {
                    int xs = t * cols + b * BLOCK;
                    for (int pair = 0; pair < 16; pair++) replicate(xr, pair * 2 * P, p.xq[xs + 2 * pair], p.xq[xs + 2 * pair + 1]);
                    float dx = p.dx[t * p.blocks + b];
                    for (int panel = 0; panel < panels; panel++) {
                        int n = Math.min(P, rows - panel * P);
                        Arrays.fill(acc, 0);
                        for (int pair = 0; pair < 16; pair++) madd(acc, wb, (panel * 16 + pair) * P * 2, xr, pair * 2 * P, n);
                        scale(acc, p.dwT, b * rows + panel * P, dx, out, t * rows + panel * P, n);
                    }
                }
            }
        }

        /** {@code xr[o .. o + 2P)} = x0, x1, x0, x1, ... (by doubling copies). */
        private void replicate(short[] xr, int o, short x0, short x1) {
            xr[o] = x0;
            xr[o + 1] = x1;
            for (int len = 2; len < 2 * P; len *= 2) System.arraycopy(xr, o, xr, o + len, Math.min(len, 2 * P - len));
        }

        /** The loop C2 vectorizes to MulAddVS2VI (+ AddVI: vpdpwssd with VNNI). */
        static void madd(int[] acc, short[] w, int wo, short[] x, int xo, int n) {
            for (int i = 0; i < n; i++) acc[i] += w[wo + 2 * i] * x[xo + 2 * i] + w[wo + 2 * i + 1] * x[xo + 2 * i + 1];
        }

        private static void scale(int[] acc, float[] dwT, int so, float dx, float[] out, int oo, int n) {
            for (int i = 0; i < n; i++) out[oo + i] = Math.fma((float) acc[i], dwT[so + i] * dx, out[oo + i]);
        }
    }

    // ---- 2: Vector API int16 register tile ----

    /**
     * Weights repacked per call as int16 panels, {@code wp[(c * 64) + j]} for the 64 rows of a panel (two ShortVectors
     * of 32 rows per column); tiles of 64 rows x 2 tokens (4 tokens passed C2's inlining node budget, NodeCountInliningCutoff, and boxed every vector): per column pair, {@code p = w_c * x_c + w_c1 * x_c1} in
     * int16 (|p| <= 2 * 128 * 127 fits), widened into two int32 accumulators per row vector (even rows: the low halves
     * of the 32-bit view, odd rows: the high halves); per block the int32 sums are converted and scaled into {@code out}.
     */
    static final class VapiTile implements Kernel {
        static final int P = 64, TT = 2;
        /** With {@code biased}, the int16 pair sums are widened by {@link #tileBiased} (4 operations instead of 5). */
        final boolean biased;
        short[] wp;
        float[] dwE, dwO;
        VapiTile(boolean biased) { this.biased = biased; }
        @Override public void prepare(Problem p, Arena arena) {
            if (S.length() != 32) throw new IllegalStateException("the tile is written for 512-bit vectors");
            wp = new short[p.cols * P];
            dwE = new float[p.blocks * 32];
            dwO = new float[p.blocks * 32];
        }
        @Override public boolean blockExact() { return true; }

        @Override public void run(Problem p, float[] out) {
            int rows = p.rows, cols = p.cols;
            if (rows % P != 0 || p.tokens % TT != 0) throw new IllegalArgumentException("rows % 64, tokens % 2");
            Arrays.fill(out, 0, rows * p.tokens, 0f);
            short[] xs = p.x.quants;
            for (int r0 = 0; r0 < rows; r0 += P) {
                for (int j = 0; j < P; j++) {
                    int src = (r0 + j) * cols;
                    for (int c = 0; c < cols; c++) wp[c * P + j] = p.wq[src + c];
                }
                // Scales in the lane order of the int32 accumulators: vector v (rows 32v..32v+31), even rows then odd rows.
                for (int b = 0; b < p.blocks; b++) {
                    for (int l = 0; l < 16; l++) {
                        dwE[b * 32 + l] = p.dw[(r0 + 2 * l) * p.blocks + b];
                        dwO[b * 32 + l] = p.dw[(r0 + 2 * l + 1) * p.blocks + b];
                        dwE[b * 32 + 16 + l] = p.dw[(r0 + 32 + 2 * l) * p.blocks + b];
                        dwO[b * 32 + 16 + l] = p.dw[(r0 + 32 + 2 * l + 1) * p.blocks + b];
                    }
                }
                for (int t = 0; t < p.tokens; t += TT) {
                    for (int b = 0; b < p.blocks; b++) {
                        if (biased) {
                            tileBiased(p, xs, t, b);
                            unbias();
                        } else {
                            tile(p, xs, t, b);
                        }
                        scale(p, out, t, b, r0);
                    }
                }
            }
        }

        private static IntVector lo(ShortVector v) {
            return ((IntVector) v.reinterpretAsInts()).lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16);
        }

        private static IntVector hi(ShortVector v) {
            return ((IntVector) v.reinterpretAsInts()).lanewise(VectorOperators.ASHR, 16);
        }

        /** The block's int32 sums of tokens t, t+1 into {@link #sums} (64 per token, de-interleaved: see {@link #scale}). */
        private void tile(Problem p, short[] xs, int t, int b) {
            int stride = p.x.stride, x0 = t * stride + b * BLOCK;
            IntVector e00 = IntVector.zero(I), o00 = e00, e01 = e00, o01 = e00; // token 0: row vectors 0, 1
            IntVector e10 = e00, o10 = e00, e11 = e00, o11 = e00;
            for (int k = 0; k < BLOCK; k += 2) {
                int c = b * BLOCK + k;
                ShortVector wa0 = ShortVector.fromArray(S, wp, c * P), wa1 = ShortVector.fromArray(S, wp, c * P + 32);
                ShortVector wb0 = ShortVector.fromArray(S, wp, c * P + P), wb1 = ShortVector.fromArray(S, wp, c * P + P + 32);
                ShortVector xa = ShortVector.broadcast(S, xs[x0 + k]), xb = ShortVector.broadcast(S, xs[x0 + k + 1]);
                ShortVector q0 = wa0.mul(xa).add(wb0.mul(xb)), q1 = wa1.mul(xa).add(wb1.mul(xb));
                e00 = e00.add(lo(q0)); o00 = o00.add(hi(q0)); e01 = e01.add(lo(q1)); o01 = o01.add(hi(q1));
                xa = ShortVector.broadcast(S, xs[x0 + stride + k]); xb = ShortVector.broadcast(S, xs[x0 + stride + k + 1]);
                q0 = wa0.mul(xa).add(wb0.mul(xb)); q1 = wa1.mul(xa).add(wb1.mul(xb));
                e10 = e10.add(lo(q0)); o10 = o10.add(hi(q0)); e11 = e11.add(lo(q1)); o11 = o11.add(hi(q1));
            }
            int[] s = sums;
            e00.intoArray(s, 0); o00.intoArray(s, 16); e01.intoArray(s, 32); o01.intoArray(s, 48);
            e10.intoArray(s, 64); o10.intoArray(s, 80); e11.intoArray(s, 96); o11.intoArray(s, 112);
        }

        /** Even short lanes 0x8000, odd lanes 0. */
        private static final ShortVector BIAS;
        static {
            short[] bias = new short[S.length()];
            for (int i = 0; i < bias.length; i += 2) bias[i] = (short) 0x8000;
            BIAS = ShortVector.fromArray(S, bias, 0);
        }

        /**
         * As {@link #tile}, widening each int16 vector {@code q} of pair sums in 4 operations: {@code V = q + BIAS} as
         * ints is exactly {@code 65536 * hi + lo + 32768} (the biased low half is in [0, 65535]), so summing {@code V}
         * and {@code V >> 16} (= hi) over the block gives the odd rows' sums and, after {@code sumV - (sumH << 16) -
         * 16 * 32768} (exact modulo 2^32, and the true value fits), the even rows'.
         */
        private void tileBiased(Problem p, short[] xs, int t, int b) {
            int stride = p.x.stride, x0 = t * stride + b * BLOCK;
            IntVector v00 = IntVector.zero(I), h00 = v00, v01 = v00, h01 = v00;
            IntVector v10 = v00, h10 = v00, v11 = v00, h11 = v00;
            ShortVector bias = BIAS;
            for (int k = 0; k < BLOCK; k += 2) {
                int c = b * BLOCK + k;
                ShortVector wa0 = ShortVector.fromArray(S, wp, c * P), wa1 = ShortVector.fromArray(S, wp, c * P + 32);
                ShortVector wb0 = ShortVector.fromArray(S, wp, c * P + P), wb1 = ShortVector.fromArray(S, wp, c * P + P + 32);
                ShortVector xa = ShortVector.broadcast(S, xs[x0 + k]), xb = ShortVector.broadcast(S, xs[x0 + k + 1]);
                IntVector q0 = (IntVector) wa0.mul(xa).add(wb0.mul(xb)).add(bias).reinterpretAsInts();
                IntVector q1 = (IntVector) wa1.mul(xa).add(wb1.mul(xb)).add(bias).reinterpretAsInts();
                v00 = v00.add(q0); h00 = h00.add(q0.lanewise(VectorOperators.ASHR, 16));
                v01 = v01.add(q1); h01 = h01.add(q1.lanewise(VectorOperators.ASHR, 16));
                xa = ShortVector.broadcast(S, xs[x0 + stride + k]); xb = ShortVector.broadcast(S, xs[x0 + stride + k + 1]);
                q0 = (IntVector) wa0.mul(xa).add(wb0.mul(xb)).add(bias).reinterpretAsInts();
                q1 = (IntVector) wa1.mul(xa).add(wb1.mul(xb)).add(bias).reinterpretAsInts();
                v10 = v10.add(q0); h10 = h10.add(q0.lanewise(VectorOperators.ASHR, 16));
                v11 = v11.add(q1); h11 = h11.add(q1.lanewise(VectorOperators.ASHR, 16));
            }
            int[] s = sums;
            v00.intoArray(s, 0); h00.intoArray(s, 16); v01.intoArray(s, 32); h01.intoArray(s, 48);
            v10.intoArray(s, 64); h10.intoArray(s, 80); v11.intoArray(s, 96); h11.intoArray(s, 112);
        }

        /** The even rows' sums from the biased ones (a separate method: inlined into the tile, it hit NodeCountInliningCutoff). */
        private void unbias() {
            IntVector offset = IntVector.broadcast(I, BLOCK / 2 * 32768);
            for (int e = 0; e < TT * P; e += 32) {
                IntVector sumV = IntVector.fromArray(I, sums, e), sumH = IntVector.fromArray(I, sums, e + 16);
                sumV.sub(sumH.lanewise(VectorOperators.LSHL, 16)).sub(offset).intoArray(sums, e);
            }
        }

        private final int[] sums = new int[TT * P];

        /**
         * Scales the block's sums into the float partial sums in {@code out}. The panel's rows sit there permuted (even
         * rows of vector 0, odd rows of vector 0, even of 1, odd of 1) until the last block un-permutes them: each lane
         * is still its own fma chain in block order.
         */
        private void scale(Problem p, float[] out, int t, int b, int r0) {
            for (int j = 0; j < TT; j++) {
                float dx = p.dx[(t + j) * p.blocks + b];
                int o = (t + j) * p.rows + r0;
                accumulate(out, o, IntVector.fromArray(I, sums, j * P), FloatVector.fromArray(F, dwE, b * 32), dx);
                accumulate(out, o + 16, IntVector.fromArray(I, sums, j * P + 16), FloatVector.fromArray(F, dwO, b * 32), dx);
                accumulate(out, o + 32, IntVector.fromArray(I, sums, j * P + 32), FloatVector.fromArray(F, dwE, b * 32 + 16), dx);
                accumulate(out, o + 48, IntVector.fromArray(I, sums, j * P + 48), FloatVector.fromArray(F, dwO, b * 32 + 16), dx);
                if (b == p.blocks - 1) unpermute(out, o);
            }
        }

        private static void accumulate(float[] out, int o, IntVector s, FloatVector dw, float dx) {
            FloatVector sum = (FloatVector) s.convert(VectorOperators.I2F, 0);
            sum.fma(dw.mul(dx), FloatVector.fromArray(F, out, o)).intoArray(out, o);
        }

        private final float[] stage = new float[64];

        private void unpermute(float[] out, int o) {
            System.arraycopy(out, o, stage, 0, 64);
            for (int v = 0; v < 2; v++) {
                for (int l = 0; l < 16; l++) {
                    out[o + 32 * v + 2 * l] = stage[32 * v + l];
                    out[o + 32 * v + 2 * l + 1] = stage[32 * v + 16 + l];
                }
            }
        }
    }

    // ---- 3: native GEMMs through FFM ----

    static final Linker LINKER = Linker.nativeLinker();

    static SymbolLookup library(String... names) {
        for (String n : names) {
            try {
                return SymbolLookup.libraryLookup(n, Arena.global());
            } catch (IllegalArgumentException absent) {
                // try the next name
            }
        }
        return null;
    }

    static final SymbolLookup DNNL = library("libdnnl.so.2", "libdnnl.so");
    static final SymbolLookup OPENBLAS = library("libopenblas.so.0", "libopenblas.so");

    static final MethodHandle GEMM_U8S8S32 = DNNL == null ? null : LINKER.downcallHandle(DNNL.find("dnnl_gemm_u8s8s32").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_BYTE, ValueLayout.JAVA_BYTE, ValueLayout.JAVA_BYTE,
                    ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_FLOAT,
                    ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_BYTE,
                    ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_BYTE,
                    ValueLayout.JAVA_FLOAT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));

    /** C (M x N, int32) = (A - 128) (M x K, u8, row-major) times B^T (B: N x K, s8, row-major), ldc given. */
    static void gemmU8S8(long m, long n, long k, MemorySegment a, long lda, MemorySegment b, long ldb, MemorySegment c, long ldc,
                         MemorySegment co) {
        int status;
        try {
            status = (int) GEMM_U8S8S32.invokeExact((byte) 'N', (byte) 'T', (byte) 'F', m, n, k, 1f, a, lda, (byte) 128,
                    b, ldb, (byte) 0, 0f, c, ldc, co);
        } catch (Throwable e) {
            throw new RuntimeException(e);
        }
        if (status != 0) throw new IllegalStateException("dnnl_gemm_u8s8s32 returned " + status);
    }

    abstract static class Dnnl implements Kernel {
        MemorySegment a, b, co;
        @Override public String unavailable() {
            return DNNL == null ? "libdnnl (oneDNN, Debian package libdnnl-dev) not found: skipped" : null;
        }
        @Override public void prepare(Problem p, Arena arena) {
            a = arena.allocate((long) p.tokens * p.cols, 64);
            for (int i = 0; i < p.tokens * p.cols; i++) a.set(ValueLayout.JAVA_BYTE, i, (byte) (p.xq[i] + 128));
            b = arena.allocate((long) p.rows * p.cols, 64);
            MemorySegment.copy(MemorySegment.ofArray(p.wq), 0, b, 0, p.wq.length);
            co = arena.allocate(ValueLayout.JAVA_INT, 1);
        }
    }

    /** All 4096 columns in one call, scales ignored: the int8 GEMM's raw speed. Writes the int32 sums into {@code out}'s bits. */
    static final class DnnlRaw extends Dnnl {
        MemorySegment c;
        @Override public void prepare(Problem p, Arena arena) { super.prepare(p, arena); c = arena.allocate((long) p.tokens * p.rows * 4, 64); }
        @Override public boolean blockExact() { return false; }
        @Override public boolean q8Product() { return false; }
        @Override public void run(Problem p, float[] out) {
            gemmU8S8(p.tokens, p.rows, p.cols, a, p.cols, b, p.cols, c, p.rows, co);
        }
        int sum(Problem p, int r, int t) { return c.getAtIndex(ValueLayout.JAVA_INT, (long) t * p.rows + r); }
    }

    /**
     * Block-exact: per tile of TB tokens x RB rows, per block, one K = 32 call into an int32 tile that Java then scales
     * into {@code out} (vectorized fma, block order).
     */
    static final class DnnlBlock extends Dnnl {
        final int tb, rb;
        /** Only the K = 32 calls, no scaling (not the product: shows what the int32 part costs alone). */
        final boolean callsOnly;
        MemorySegment c;
        DnnlBlock(int tb, int rb, boolean callsOnly) { this.tb = tb; this.rb = rb; this.callsOnly = callsOnly; }
        @Override public boolean blockExact() { return !callsOnly; }
        @Override public boolean q8Product() { return !callsOnly; }
        @Override public void prepare(Problem p, Arena arena) { super.prepare(p, arena); c = arena.allocate((long) tb * rb * 4, 64); }
        @Override public void run(Problem p, float[] out) {
            int rows = p.rows, cols = p.cols;
            Arrays.fill(out, 0, rows * p.tokens, 0f);
            for (int t0 = 0; t0 < p.tokens; t0 += tb) {
                int m = Math.min(tb, p.tokens - t0);
                for (int r0 = 0; r0 < rows; r0 += rb) {
                    int n = Math.min(rb, rows - r0);
                    for (int blk = 0; blk < p.blocks; blk++) {
                        gemmU8S8(m, n, BLOCK, a.asSlice((long) t0 * cols + blk * BLOCK), cols,
                                b.asSlice((long) r0 * cols + blk * BLOCK), cols, c, n, co);
                        if (callsOnly) continue;
                        for (int t = 0; t < m; t++) {
                            float dx = p.dx[(t0 + t) * p.blocks + blk];
                            int o = (t0 + t) * rows + r0, s = blk * rows + r0;
                            long ci = (long) t * n * 4;
                            int j = 0;
                            for (; j + F.length() <= n; j += F.length()) {
                                FloatVector sum = (FloatVector) IntVector.fromMemorySegment(I, c, ci + j * 4L, ByteOrder.nativeOrder())
                                        .convert(VectorOperators.I2F, 0);
                                sum.fma(FloatVector.fromArray(F, p.dwT, s + j).mul(dx), FloatVector.fromArray(F, out, o + j)).intoArray(out, o + j);
                            }
                            for (; j < n; j++) {
                                out[o + j] = Math.fma((float) c.getAtIndex(ValueLayout.JAVA_INT, (long) t * n + j), p.dwT[s + j] * dx, out[o + j]);
                            }
                        }
                    }
                }
            }
        }
    }

    static final MethodHandle SGEMM = OPENBLAS == null ? null : LINKER.downcallHandle(OPENBLAS.find("cblas_sgemm").orElseThrow(),
            FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_FLOAT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT,
                    ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_FLOAT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));

    /** OpenBLAS sgemm, dense activations (q * d) times dequantized weights (prepared once, not timed). */
    static final class Sgemm implements Kernel {
        MemorySegment a, b, c;
        @Override public String unavailable() { return OPENBLAS == null ? "libopenblas not found: skipped" : null; }
        @Override public boolean blockExact() { return false; }
        @Override public void prepare(Problem p, Arena arena) {
            a = arena.allocate((long) p.tokens * p.cols * 4, 64);
            float[] dense = p.x.dense();
            for (int t = 0; t < p.tokens; t++) MemorySegment.copy(dense, t * p.x.stride, a, ValueLayout.JAVA_FLOAT, (long) t * p.cols * 4, p.cols);
            b = arena.allocate((long) p.rows * p.cols * 4, 64);
            for (int r = 0; r < p.rows; r++) {
                for (int k = 0; k < p.cols; k++) b.setAtIndex(ValueLayout.JAVA_FLOAT, (long) r * p.cols + k, p.wq[r * p.cols + k] * p.dw[r * p.blocks + k / BLOCK]);
            }
            c = arena.allocate((long) p.tokens * p.rows * 4, 64);
        }
        @Override public void run(Problem p, float[] out) {
            try {
                // CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112
                SGEMM.invokeExact(101, 111, 112, p.tokens, p.rows, p.cols, 1f, a, p.cols, b, p.cols, 0f, c, p.rows);
            } catch (Throwable e) {
                throw new RuntimeException(e);
            }
            MemorySegment.copy(c, ValueLayout.JAVA_FLOAT, 0, out, 0, p.tokens * p.rows);
        }
    }

    // ---- harness ----

    static Kernel kernel(String name) {
        return switch (name) {
            case "panels" -> new Panels();
            case "c2" -> new C2Pairs(64);
            case "c2-256" -> new C2Pairs(256);
            case "c2-1024" -> new C2Pairs(1024);
            case "vapi" -> new VapiTile(false);
            case "vapi-biased" -> new VapiTile(true);
            case "dnnl-raw" -> new DnnlRaw();
            case "dnnl-block" -> new DnnlBlock(128, 256, false);
            case "dnnl-block-calls" -> new DnnlBlock(128, 256, true);
            case "dnnl-block256x512" -> new DnnlBlock(256, 512, false);
            case "dnnl-block64x1024" -> new DnnlBlock(64, 1024, false);
            case "dnnl-block512x128" -> new DnnlBlock(512, 128, false);
            case "sgemm" -> new Sgemm();
            default -> throw new IllegalArgumentException("unknown kernel " + name);
        };
    }

    /** Checks sampled outputs (and the saturating corner (0, 0)) against float64 and, for block-exact kernels, bit for bit. */
    static String check(String name, Kernel k, Problem p, float[] out) {
        Random rnd = new Random(3);
        double worst = 0;
        int mismatches = 0, samples = 1500;
        for (int s = 0; s < samples; s++) {
            int r = s == 0 ? 0 : rnd.nextInt(p.rows), t = s == 0 ? 0 : rnd.nextInt(p.tokens);
            if (k instanceof DnnlBlock d && d.callsOnly) return "not checked (int32 calls only, no product)";
            if (!k.q8Product()) {
                int expect = 0;
                for (int b = 0; b < p.blocks; b++) expect += p.isum(r, t, b);
                if (((DnnlRaw) k).sum(p, r, t) != expect) throw new AssertionError(name + ": int32 sum differs at r=" + r + " t=" + t);
                continue;
            }
            double[] ref = p.reference(r, t);
            float got = out[t * p.rows + r];
            worst = Math.max(worst, Math.abs(got - ref[0]) / ref[1]);
            if (k.blockExact() && Float.floatToRawIntBits(got) != Float.floatToRawIntBits(p.exact(r, t))) mismatches++;
        }
        if (worst > 1e-5) throw new AssertionError(name + ": relative error " + worst);
        if (mismatches > 0) throw new AssertionError(name + ": " + mismatches + " outputs differ from the block-exact recipe");
        return !k.q8Product() ? "int32 sums exact (scales ignored)"
                : String.format("max |err| / sum|terms| = %.1e%s", worst, k.blockExact() ? ", bit-identical to the block recipe" : "");
    }

    /**
     * The C2 loop alone on L1-resident arrays (1024 int32 lanes, no repacking, replication or scaling): the most its
     * memory-accumulator form can give. Run it again with -XX:-UseSuperWord to see the scalar speed.
     */
    static void c2Ceiling() {
        int n = 1024;
        int[] acc = new int[n];
        short[] w = new short[2 * n], x = new short[2 * n];
        Random rnd = new Random(1);
        for (int i = 0; i < 2 * n; i++) { w[i] = (short) (rnd.nextInt(255) - 127); x[i] = (short) (rnd.nextInt(255) - 127); }
        var mx = java.lang.management.ManagementFactory.getThreadMXBean();
        int sink = 0;
        for (int round = 0; round < 4; round++) {
            long cpu = mx.getCurrentThreadCpuTime();
            for (int k = 0; k < 200_000; k++) C2Pairs.madd(acc, w, 0, x, 0, n);
            double s = (mx.getCurrentThreadCpuTime() - cpu) / 1e9;
            cpu = mx.getCurrentThreadCpuTime();
            for (int k = 0; k < 200_000; k++) maddInvariant(acc, w, x[0], x[1], n);
            double s2 = (mx.getCurrentThreadCpuTime() - cpu) / 1e9;
            cpu = mx.getCurrentThreadCpuTime();
            for (int k = 0; k < 200_000; k++) sink += dotReduction(w, x, n);
            double s3 = (mx.getCurrentThreadCpuTime() - cpu) / 1e9;
            System.out.printf("GOP/s (2 per multiply-add), L1-resident: acc[i] += w.x pairs %.1f, loop-invariant x0, x1 %.1f, "
                    + "reduction %.1f%n", 4.0 * n * 200_000 / s / 1e9, 4.0 * n * 200_000 / s2 / 1e9, 4.0 * n * 200_000 / s3 / 1e9);
        }
        if (sink == 42) System.out.println();
    }

    /** As {@link C2Pairs#madd} with the activation pair as loop invariants: C2 does not vectorize it. */
    static void maddInvariant(int[] acc, short[] w, short x0, short x1, int n) {
        for (int i = 0; i < n; i++) acc[i] += w[2 * i] * x0 + w[2 * i + 1] * x1;
    }

    /** The register-accumulator form (a reduction): C2 does not vectorize it either. */
    static int dotReduction(short[] w, short[] x, int n) {
        int s = 0;
        for (int i = 0; i < n; i++) s += w[2 * i] * x[2 * i] + w[2 * i + 1] * x[2 * i + 1];
        return s;
    }

    public static void main(String[] args) {
        int[] rowsList = {4096, 13696};
        int tokens = 512, rounds = 3;
        double seconds = 2;
        String kernels = "panels,c2-1024,vapi,vapi-biased,dnnl-raw,dnnl-block,dnnl-block-calls,sgemm";
        for (String a : args) {
            if (a.startsWith("rows=")) rowsList = Arrays.stream(a.substring(5).split(",")).mapToInt(Integer::parseInt).toArray();
            if (a.startsWith("tokens=")) tokens = Integer.parseInt(a.substring(7));
            if (a.startsWith("rounds=")) rounds = Integer.parseInt(a.substring(7));
            if (a.startsWith("seconds=")) seconds = Double.parseDouble(a.substring(8));
            if (a.startsWith("kernels=")) kernels = a.substring(8);
        }
        System.out.printf("vector species %s, %s%n", F, S);
        if (kernels.equals("c2-ceiling")) {
            c2Ceiling();
            return;
        }
        var mx = java.lang.management.ManagementFactory.getThreadMXBean();
        for (int rows : rowsList) {
            try (Arena arena = Arena.ofConfined()) {
                Problem p = new Problem(arena, rows, 4096, tokens);
                Map<String, Kernel> ks = new LinkedHashMap<>();
                for (String name : kernels.split(",")) {
                    Kernel k = kernel(name);
                    String why = k.unavailable();
                    if (why != null) { System.out.printf("%-18s %s%n", name, why); continue; }
                    k.prepare(p, arena);
                    float[] out = new float[rows * tokens];
                    k.run(p, out);
                    System.out.printf("%-18s %dx%d x %d tokens: %s%n", name, rows, p.cols, tokens, check(name, k, p, out));
                    ks.put(name, k);
                }
                Map<String, List<Double>> gflops = new LinkedHashMap<>();
                float[] out = new float[rows * tokens];
                double flops = 2.0 * rows * p.cols * tokens;
                for (int round = 0; round < rounds; round++) {
                    for (var e : ks.entrySet()) {
                        Kernel k = e.getValue();
                        long warm = System.nanoTime() + (long) (0.3e9 * seconds);
                        do k.run(p, out); while (System.nanoTime() < warm);
                        long start = System.nanoTime(), cpu = mx.getCurrentThreadCpuTime();
                        int calls = 0;
                        do { k.run(p, out); calls++; } while (System.nanoTime() - start < seconds * 1e9);
                        double perCall = (mx.getCurrentThreadCpuTime() - cpu) / 1e9 / calls;
                        double wall = (System.nanoTime() - start) / 1e9 / calls;
                        // A library that ran threads of its own would show as CPU time well below wall time.
                        if (perCall < 0.8 * wall) System.out.printf("  (%s: thread CPU %.3f s < wall %.3f s per call: other threads or load)%n",
                                e.getKey(), perCall, wall);
                        gflops.computeIfAbsent(e.getKey(), x -> new ArrayList<>()).add(flops / perCall / 1e9);
                    }
                }
                System.out.printf("%-18s %-11s %6s %8s %8s %8s   GFLOP/s per round%n", "kernel", "shape", "tokens", "min", "median", "max");
                for (var e : gflops.entrySet()) {
                    double[] g = e.getValue().stream().mapToDouble(Double::doubleValue).sorted().toArray();
                    System.out.printf("%-18s %5dx%-5d %6d %8.1f %8.1f %8.1f   %s%n", e.getKey(), rows, p.cols, tokens, g[0], g[g.length / 2],
                            g[g.length - 1], e.getValue().stream().map(v -> String.format("%.1f", v)).toList());
                }
            }
        }
    }
}
