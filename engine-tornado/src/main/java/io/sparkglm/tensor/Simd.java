package io.sparkglm.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/** The vector shapes and little-endian loads every kernel shares. */
final class Simd {

    private Simd() {}

    /** The widest float vector the CPU has (16 lanes with AVX-512), at most 16 so a 32-block is whole vectors. */
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED.length() > 16
            ? FloatVector.SPECIES_512 : FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    /** As many bytes as {@link #F} has lanes: one byte vector widens to one float vector. */
    static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8));

    static final ValueLayout.OfShort FP16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** The fp16 at {@code offset}, exactly as a float. */
    static float fp16(MemorySegment s, long offset) {
        return Float.float16ToFloat(s.get(FP16, offset));
    }

    /** {@link #L} signed bytes at {@code offset}, widened to floats. */
    static FloatVector bytesToFloats(MemorySegment s, long offset) {
        return (FloatVector) ByteVector.fromMemorySegment(B, s, offset, ByteOrder.LITTLE_ENDIAN)
                .convertShape(VectorOperators.B2F, F, 0);
    }

    static FloatVector floats(MemorySegment s, long offset) {
        return FloatVector.fromMemorySegment(F, s, offset, ByteOrder.LITTLE_ENDIAN);
    }
}
