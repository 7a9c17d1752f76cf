package io.sparkglm.tensor;

import io.sparkglm.model.GgmlType;
import java.lang.foreign.MemorySegment;

/**
 * Q5_K weights: superblocks of 256 in 176 bytes (d, dmin, 12 scale bytes, 32 fifth-bit bytes, 128 nibble bytes); see
 * {@link AffineKMatrix}.
 */
final class Q5_KMatrix extends AffineKMatrix {

    static final int BLOCK_BYTES = 176;

    Q5_KMatrix(MemorySegment data, int rows, int cols) {
        super(data, rows, cols, BLOCK_BYTES, 48, 16);
    }

    @Override public GgmlType type() { return GgmlType.Q5_K; }
}
