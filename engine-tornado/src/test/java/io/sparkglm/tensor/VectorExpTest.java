package io.sparkglm.tensor;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** VectorExp against the correctly rounded exp (Math.exp in double, rounded once), and vector lanes against the scalar tail. */
class VectorExpTest {

    @Test
    void withinTwoUlpOfTheCorrectlyRoundedExpOverTheSoftmaxRange() {
        Random random = new Random(17);
        int n = 1_000_003;                                   // not a multiple of any vector length: a scalar tail
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = switch (i % 4) {
                case 0 -> (float) (-random.nextDouble() * 90);   // the whole range, to underflow
                case 1 -> (float) (-random.nextDouble() * 2);    // near the max, where softmax's mass is
                case 2 -> -Float.intBitsToFloat(random.nextInt(0x3f800000));   // every binade below 1
                default -> (float) (-random.nextDouble() * 20);
            };
        }
        x[0] = 0f;
        x[1] = -0f;
        x[2] = Float.NEGATIVE_INFINITY;
        x[3] = -87.33654f;
        x[4] = -87.4f;
        x[5] = -1e-30f;
        float[] y = x.clone();
        VectorExp.expNonPositive(y, 0, n);
        int worst = 0;
        for (int i = 0; i < n; i++) {
            float expected = (float) Math.exp(x[i]);
            assertEquals(Float.floatToRawIntBits(VectorExp.expNonPositive(x[i])), Float.floatToRawIntBits(y[i]),
                    "lane and scalar differ at " + x[i]);
            if (expected < Float.MIN_NORMAL) {
                assertTrue(y[i] >= 0 && y[i] <= Float.MIN_NORMAL * 2, x[i] + " -> " + y[i]);
                continue;
            }
            int ulps = Math.abs(Float.floatToRawIntBits(y[i]) - Float.floatToRawIntBits(expected));
            worst = Math.max(worst, ulps);
            assertTrue(ulps <= 2, "exp(" + x[i] + ") = " + y[i] + ", correctly rounded " + expected);
        }
        assertEquals(1f, y[0]);
        assertEquals(1f, y[1]);
        assertEquals(0f, y[2]);
        System.out.println("VectorExp: worst error " + worst + " ulp over " + n + " values");
    }

    @Test
    void aSliceIsComputedInPlaceAndNothingOutsideIt() {
        float[] a = {-1f, -2f, -3f, -4f, -5f, -6f, -7f};
        VectorExp.expNonPositive(a, 2, 5);
        assertEquals(-1f, a[0]);
        assertEquals(-2f, a[1]);
        assertEquals((float) Math.exp(-3), a[2], Math.ulp((float) Math.exp(-3)) * 2);
        assertEquals((float) Math.exp(-5), a[4], Math.ulp((float) Math.exp(-5)) * 2);
        assertEquals(-6f, a[5]);
    }
}
