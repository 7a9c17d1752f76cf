package io.sparkglm.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkglm.model.GgmlType;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The prompt kernel ({@link WeightMatrix#matmulPanels}) on random data in every format: against float64
 * (the test's own decoding of the blocks), and bit for bit against the arithmetic it documents, a scalar
 * {@code Math.fma} chain per output. The second is what makes a token's result independent of its
 * batch-mates: it is checked for every token of calls of several sizes, for row ranges that cut panels into
 * 32-, 16- and 1-row tails, and for column counts below, at and above the kernel's column block.
 */
class PanelGemmTest {

    /** 117 = 64 + 48 + 5: a full AVX-512 panel (four-vector tiles), narrower panels (two- and one-vector tiles), single rows. */
    private static final int ROWS = 117;
    private static final int[] TOKEN_COUNTS = {1, 5, 6, 13};

    static int[] colsFor(GgmlType type) {
        return switch (type) {
            case F32, F16, BF16 -> new int[] {77, PanelGemm.COLUMN_BLOCK, 300};
            case Q8_0, Q4_0, Q5_0, Q5_1 -> new int[] {32, 160, 320};
            default -> new int[] {256, 512};
        };
    }

    @ParameterizedTest
    @EnumSource
    void matchesFloat64OverTheSamePreparedActivations(GgmlType type) {
        for (int cols : colsFor(type)) {
            Random rnd = new Random(5L * cols + type.ordinal());
            TestFormats.Matrix m = TestFormats.random(type, ROWS, cols, rnd);
            WeightMatrix w = m.open();
            for (int n : TOKEN_COUNTS) {
                Activations x = Activations.prepare(w.activationFormat(), TestFormats.randomActivations(n, cols, rnd), 0, n, cols);
                int stride = ROWS + 3;
                float[] out = new float[n * stride];
                w.matmulPanels(x, out, 0, stride, 0, ROWS);
                for (int t = 0; t < n; t++) {
                    for (int r = 0; r < ROWS; r++) {
                        double exact = 0, scale = 0;
                        for (int c = 0; c < cols; c++) {
                            exact += m.decoded()[r][c] * x.get(t, c);
                            scale += m.magnitude()[r][c] * Math.abs(x.get(t, c));
                        }
                        exact += q5_1Correction(w, x, r, t);
                        assertEquals(exact, out[t * stride + r], 1e-5 * scale + 1e-30,
                                type + " cols=" + cols + " n=" + n + " token " + t + " row " + r);
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource
    void everyOutputIsOneFmaChainWhateverTheTileRowRangeOrBatch(GgmlType type) {
        for (int cols : colsFor(type)) {
            Random rnd = new Random(17L * cols + type.ordinal());
            WeightMatrix w = TestFormats.random(type, ROWS, cols, rnd).open();
            float[][] weights = new float[ROWS][cols];
            for (int r = 0; r < ROWS; r++) w.panelRow(r, weights[r], 0);          // Q5_1: d q, its minimums apart
            for (int n : TOKEN_COUNTS) {
                float[] raw = TestFormats.randomActivations(n, cols, rnd);
                Activations x = Activations.prepare(w.activationFormat(), raw, 0, n, cols);
                // split at 7 and 80: single rows, then 73 and 37 rows cut into every panel width, in calls that must
                // not touch each other's rows
                float[] out = new float[n * ROWS + 1];
                Arrays.fill(out, Float.NaN);
                w.matmulPanels(x, out, 0, ROWS, 0, 7);
                w.matmulPanels(x, out, 0, ROWS, 7, 80);
                assertTrue(Float.isNaN(out[ROWS - 1]) && Float.isNaN(out[out.length - 1]), "wrote outside its rows");
                w.matmulPanels(x, out, 0, ROWS, 80, ROWS);
                float[] alone = new float[ROWS];
                for (int t = 0; t < n; t++) {
                    float[] xt = x.dense();
                    w.matmulPanels(Activations.prepare(w.activationFormat(), raw, t * cols, 1, cols), alone, 0, ROWS, 0, ROWS);
                    for (int r = 0; r < ROWS; r++) {
                        float acc = 0f;
                        for (int c = 0; c < cols; c++) acc = Math.fma(weights[r][c], xt[t * x.stride + c], acc);
                        if (w.type() == GgmlType.Q5_1) {                  // m * s: one fma chain over the blocks, added
                            float summs = 0f;
                            for (int b = 0; b < cols / 32; b++) summs = Math.fma(((Q5_1Matrix) w).min(r, b), x.blockSum(t, b), summs);
                            acc += summs;
                        }
                        String where = type + " cols=" + cols + " n=" + n + " token " + t + " row " + r;
                        assertEquals(Float.floatToRawIntBits(acc), Float.floatToRawIntBits(out[t * ROWS + r]), where + ": " + acc + " vs " + out[t * ROWS + r]);
                        assertEquals(Float.floatToRawIntBits(acc), Float.floatToRawIntBits(alone[r]), where + " alone");
                    }
                }
            }
        }
    }

    /**
     * Q5_1 only: what ggml's product adds beyond the plain product of the decoded weights and the dense activations,
     * {@code sum_b m_b (s_b - sum_b dense)} (in float64); 0 for other formats.
     */
    private static double q5_1Correction(WeightMatrix w, Activations x, int row, int t) {
        if (w.type() != GgmlType.Q5_1) return 0;
        double correction = 0;
        for (int b = 0; b < w.cols() / 32; b++) {
            double dense = 0;
            for (int c = b * 32; c < b * 32 + 32; c++) dense += x.get(t, c);
            correction += (double) ((Q5_1Matrix) w).min(row, b) * (x.blockSum(t, b) - dense);
        }
        return correction;
    }

    /** Every format: the prompt kernel and the decode kernel compute the same product, but for rounding. */
    @ParameterizedTest
    @EnumSource
    void promptAndDecodeKernelsAgree(GgmlType type) {
        for (int cols : colsFor(type)) {
            Random rnd = new Random(29L * cols + type.ordinal());
            TestFormats.Matrix m = TestFormats.random(type, ROWS, cols, rnd);
            WeightMatrix w = m.open();
            int n = 13;
            Activations x = Activations.prepare(w.activationFormat(), TestFormats.randomActivations(n, cols, rnd), 0, n, cols);
            float[] panels = new float[n * ROWS], decode = new float[n * ROWS];
            w.matmulPanels(x, panels, 0, ROWS, 0, ROWS);
            w.matmul(x, decode, 0, ROWS, 0, ROWS);
            for (int t = 0; t < n; t++) {
                for (int r = 0; r < ROWS; r++) {
                    double scale = 0;
                    for (int c = 0; c < cols; c++) scale += m.magnitude()[r][c] * Math.abs(x.get(t, c));
                    assertEquals(decode[t * ROWS + r], panels[t * ROWS + r], 1e-5 * scale + 1e-30,
                            type + " cols=" + cols + " token " + t + " row " + r);
                }
            }
        }
    }
}
