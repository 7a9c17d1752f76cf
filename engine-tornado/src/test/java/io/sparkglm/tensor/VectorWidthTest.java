package io.sparkglm.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The build reruns the kernel tests with {@code -XX:UseAVX=2} and {@code glm.expect.vector.bits=256}: this
 * proves that rerun really computes on 256-bit vectors (a flag that stopped working would otherwise leave
 * the narrower kernels untested while every test stays green).
 */
class VectorWidthTest {

    @Test
    void kernelsUseTheVectorWidthThisRunAsksFor() {
        String expected = System.getProperty("glm.expect.vector.bits");
        Assumptions.assumeTrue(expected != null, "no width requested: this run uses the machine's own ("
                + Simd.F.vectorBitSize() + "-bit)");
        assertEquals(Integer.parseInt(expected), Simd.F.vectorBitSize());
    }
}
