package io.sparkglm.backend.cpu;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.model.ModelConfig;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * RoPE at positions around 2^20 (the 1M model's context) and beyond, through the CPU backend's own angle table
 * ({@link CpuBackend#ropeAngles}) and rotation kernel ({@link Kernels#rope}), against plain float64 math.
 *
 * <p>Tolerance, per output value {@code r = x0 c - x1 s} (or {@code x0 s + x1 c}) with float inputs x0, x1: the
 * double angle is good to ~1e-10 rad here, so the errors are cos and sin rounded to float (half an ulp, at most
 * 2^-25 each, times |x0| and |x1|), the two float products (2^-24 relative each) and the float sum (2^-24 of |r| <=
 * |x0| + |x1|): at most 2.5 * 2^-24 * (|x0| + |x1|) to first order, so {@code 2^-22 * (|x0| + |x1|)} is a bound
 * with room. A float32 angle is off by up to ~0.03 rad near 2^20, i.e. ~1e-2 in r: the last test shows the check
 * would catch it.
 */
class RopeAtLongPositionsTest {

    static final int HEAD_DIM = 128, ROPE_DIMS = 64;
    static final int[] POSITIONS = positions();

    static int[] positions() {
        Random random = new Random(20);
        int[] fixed = {1_048_574, 1_048_575, 1_048_576, 1_048_577, 1_500_000, 2_097_151, 4_194_304};
        return IntStream.concat(IntStream.of(fixed), random.ints(6, 1 << 20, 1 << 22)).toArray();
    }

    static ModelConfig config(double base) {
        return new ModelConfig("glm", 1, 4096, 128, 32, 4, HEAD_DIM, ROPE_DIMS, base, 1 << 20, 256, 1e-5f, true);
    }

    /** Rotates one random head at each position with the given angle table; returns the worst error / its bound. */
    static double worstErrorOverBound(double base, CpuBackend.Angles angles) {
        Random random = new Random((long) base);
        int half = ROPE_DIMS / 2;
        double worst = 0;
        for (int t = 0; t < POSITIONS.length; t++) {
            float[] x = new float[HEAD_DIM];
            for (int d = 0; d < HEAD_DIM; d++) x[d] = random.nextFloat() * 2 - 1;
            float[] rotated = x.clone();
            Kernels.rope(rotated, 0, angles.cos(), angles.sin(), t * half, ROPE_DIMS);
            for (int i = 0; i < half; i++) {
                // float64 reference, theta computed another way (exp/log) than the backend's pow
                double angle = POSITIONS[t] * Math.exp(-2.0 * i / ROPE_DIMS * Math.log(base));
                double c = Math.cos(angle), s = Math.sin(angle), x0 = x[2 * i], x1 = x[2 * i + 1];
                double bound = Math.scalb(Math.abs(x0) + Math.abs(x1), -22);
                worst = Math.max(worst, Math.abs(rotated[2 * i] - (x0 * c - x1 * s)) / bound);
                worst = Math.max(worst, Math.abs(rotated[2 * i + 1] - (x0 * s + x1 * c)) / bound);
            }
            for (int d = ROPE_DIMS; d < HEAD_DIM; d++) assertEquals(x[d], rotated[d], "dims past ropeDims pass through");
        }
        return worst;
    }

    @ParameterizedTest(name = "base {0}")
    @ValueSource(doubles = {1e8, 5e6})
    void cpuRopeMatchesFloat64NearAMillionPositions(double base) {
        double[] inverse = CpuBackend.inverseFrequencies(config(base));
        double ratio = worstErrorOverBound(base, CpuBackend.ropeAngles(POSITIONS, inverse));
        System.out.printf("rope base %.0e: worst error %.3f of the bound 2^-22 (|x0|+|x1|)%n", base, ratio);
        assertTrue(ratio <= 1, "worst error is " + ratio + " times the bound");
    }

    @ParameterizedTest(name = "base {0}")
    @ValueSource(doubles = {1e8, 5e6})
    void aFloat32AngleWouldFailTheCheck(double base) {
        double[] inverse = CpuBackend.inverseFrequencies(config(base));
        int half = inverse.length;
        float[] cos = new float[POSITIONS.length * half], sin = new float[POSITIONS.length * half];
        for (int t = 0; t < POSITIONS.length; t++) {
            for (int i = 0; i < half; i++) {
                float angle = (float) POSITIONS[t] * (float) inverse[i];       // the float32 way
                cos[t * half + i] = (float) Math.cos(angle);
                sin[t * half + i] = (float) Math.sin(angle);
            }
        }
        double ratio = worstErrorOverBound(base, new CpuBackend.Angles(cos, sin));
        System.out.printf("rope base %.0e, float32 angle: worst error %.0f times the bound%n", base, ratio);
        assertTrue(ratio > 1000, "a float32 angle should be far outside the bound, was " + ratio);
    }
}
