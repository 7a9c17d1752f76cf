package io.sparkglm.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

/**
 * The register lane sum must give the bits of the documented array order (halves added pairwise) for
 * every vector (and so must the sum of lanes spilled to an array, which the multi-token tiles use), or the
 * kernels' results would change with it: random values of mixed magnitude and sign
 * (where the order of additions shows), cancellations, signed zeros, infinities and NaN, every species.
 */
class LaneSumTest {

    @Test
    void registerSumEqualsTheArrayOrderBitForBit() {
        Random rnd = new Random(3);
        float[] specials = {0f, -0f, Float.MIN_VALUE, -Float.MAX_VALUE, Float.MAX_VALUE, Float.POSITIVE_INFINITY,
                Float.NEGATIVE_INFINITY, Float.NaN, 1e-30f, -1e30f};
        for (VectorSpecies<Float> species : new VectorSpecies[] {FloatVector.SPECIES_128, FloatVector.SPECIES_256, FloatVector.SPECIES_512}) {
            float[] lanes = new float[species.length()];
            for (int trial = 0; trial < 200_000; trial++) {
                for (int i = 0; i < lanes.length; i++) {
                    lanes[i] = switch (trial % 4) {
                        case 0 -> (float) (rnd.nextGaussian() * Math.pow(2, rnd.nextInt(60) - 30));
                        case 1 -> rnd.nextBoolean() ? 1e8f : -1e8f + rnd.nextFloat();  // cancellation
                        case 2 -> specials[rnd.nextInt(specials.length)];
                        default -> rnd.nextFloat() - 0.5f;
                    };
                }
                FloatVector v = FloatVector.fromArray(species, lanes, 0);
                float expected = LaneSum.sumByLanes(v), got = LaneSum.sum(v);
                // NaN's sign and payload carry no meaning (x86 makes -NaN from inf - inf); any NaN is one value here
                assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(got),
                        species + " trial " + trial + ": " + java.util.Arrays.toString(lanes));
                if (species.length() == Simd.L) {
                    // the tiles' spilled form, at an offset inside a larger scratch, in place
                    float[] scratch = new float[3 * Simd.L];
                    System.arraycopy(lanes, 0, scratch, Simd.L, Simd.L);
                    assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(LaneSum.sum(scratch, Simd.L)),
                            "spilled lanes, trial " + trial + ": " + java.util.Arrays.toString(lanes));
                }
            }
        }
    }
}
