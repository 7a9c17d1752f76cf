package io.sparkglm.tensor;

import io.sparkglm.model.GgmlType;
import java.lang.foreign.MemorySegment;

/** Q4_K weights: superblocks of 256 in 144 bytes (d, dmin, 12 scale bytes, 128 nibble bytes); see {@link AffineKMatrix}. */
final class Q4_KMatrix extends AffineKMatrix {

    static final int BLOCK_BYTES = 144;

    Q4_KMatrix(MemorySegment data, int rows, int cols) {
        super(data, rows, cols, BLOCK_BYTES, 16, -1);
    }

    @Override public GgmlType type() { return GgmlType.Q4_K; }
}
