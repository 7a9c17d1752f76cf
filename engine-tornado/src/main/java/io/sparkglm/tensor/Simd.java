package io.sparkglm.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
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

    /** As many shorts as {@link #F} has lanes. */
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(L * 16));
    static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, VectorShape.forBitSize(L * 32));

    /** Columns per int16 chunk: two per float lane, so the chunk's adjacent pair sums fill one int vector. */
    static final int CHUNK = 2 * L;
    static final VectorSpecies<Byte> CHUNK_BYTES = VectorSpecies.of(byte.class, VectorShape.forBitSize(CHUNK * 8));
    static final VectorSpecies<Short> CHUNK_SHORTS = VectorSpecies.of(short.class, VectorShape.forBitSize(CHUNK * 16));

    static final ValueLayout.OfShort FP16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

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

    /** {@link #L} fp16 values at {@code offset}, converted exactly (subnormals, infinities and NaN included). */
    static FloatVector halfsToFloats(MemorySegment s, long offset) {
        IntVector h = (IntVector) ShortVector.fromMemorySegment(S, s, offset, ByteOrder.LITTLE_ENDIAN)
                .convertShape(VectorOperators.S2I, I, 0);
        IntVector magnitude = h.and(0x7fff);
        // exponent and mantissa moved into float position, rescaled by 2^(127-15): exact for normals and subnormals
        FloatVector f = magnitude.lanewise(VectorOperators.LSHL, 13)
                .reinterpretAsFloats().mul(0x1p112f);
        VectorMask<Integer> special = magnitude.compare(VectorOperators.GE, 0x7c00);
        IntVector bits = f.reinterpretAsInts()
                .blend(magnitude.lanewise(VectorOperators.LSHL, 13).or(0x7f800000), special)
                .or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16));
        return bits.reinterpretAsFloats();
    }

    /**
     * {@link #L} fp16 values at {@code offset} that are all finite: the sign-extended half shifted into
     * float position, masked to sign, exponent and mantissa, times 2^(127-15). Exact for normals and
     * subnormals; infinities and NaN come out as finite garbage (see {@link #hasNonFiniteHalf}).
     */
    static FloatVector finiteHalfsToFloats(MemorySegment s, long offset) {
        IntVector h = (IntVector) ShortVector.fromMemorySegment(S, s, offset, ByteOrder.LITTLE_ENDIAN)
                .convertShape(VectorOperators.S2I, I, 0);
        return h.lanewise(VectorOperators.LSHL, 13).and(0x8fffe000).reinterpretAsFloats().mul(0x1p112f);
    }

    /** Whether any of the {@code count} fp16 values at {@code offset} is an infinity or NaN (exponent all ones). */
    static boolean hasNonFiniteHalf(MemorySegment s, long offset, int count) {
        int i = 0;
        for (; i + S.length() <= count; i += S.length()) {
            ShortVector h = ShortVector.fromMemorySegment(S, s, offset + 2L * i, ByteOrder.LITTLE_ENDIAN);
            if (h.and((short) 0x7c00).compare(VectorOperators.EQ, (short) 0x7c00).anyTrue()) return true;
        }
        for (; i < count; i++) {
            if ((s.get(FP16, offset + 2L * i) & 0x7c00) == 0x7c00) return true;
        }
        return false;
    }

    /** {@link #L} bf16 values at {@code offset}: the high half of a float. */
    static FloatVector bf16sToFloats(MemorySegment s, long offset) {
        return ((IntVector) ShortVector.fromMemorySegment(S, s, offset, ByteOrder.LITTLE_ENDIAN)
                .convertShape(VectorOperators.S2I, I, 0))
                .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /**
     * Lane i = a[2i] + a[2i+1] of 2L int16 lanes, as L int32 lanes, for pairs whose sum fits in int16 (every caller's
     * does: int8 times int8 below 2^15 in two products, smaller quants well below). Adding the 32-bit view shifted up
     * by 16 puts the pair's sum, modulo 2^16, into the high half (the shifted copy's low half is zero, so nothing
     * carries into it; what carries out of it leaves the int), and the arithmetic shift brings it down sign-extended:
     * three operations where two sign extensions took four.
     */
    static IntVector pairSums(ShortVector a) {
        IntVector v = (IntVector) a.reinterpretAsInts();
        return v.lanewise(VectorOperators.LSHL, 16).add(v).lanewise(VectorOperators.ASHR, 16);
    }

    /** {@link #CHUNK} bytes at {@code offset} (unwidened). */
    static ByteVector chunkBytes(MemorySegment s, long offset) {
        return ByteVector.fromMemorySegment(CHUNK_BYTES, s, offset, ByteOrder.LITTLE_ENDIAN);
    }

    /** {@link #CHUNK} bytes at {@code offset}, zero-extended to int16 (to cut bit fields with int16 shifts: x86 has no byte shifts). */
    static ShortVector unsignedChunk(MemorySegment s, long offset) {
        return (ShortVector) chunkBytes(s, offset).convertShape(VectorOperators.ZERO_EXTEND_B2S, CHUNK_SHORTS, 0);
    }

    /** Signed byte lanes of a chunk widened to int16. */
    static ShortVector toShorts(ByteVector chunk) {
        return (ShortVector) chunk.convertShape(VectorOperators.B2S, CHUNK_SHORTS, 0);
    }

    /** {@link #L} bytes at {@code offset} (unwidened), to split into nibbles. */
    static ByteVector bytes(MemorySegment s, long offset) {
        return ByteVector.fromMemorySegment(B, s, offset, ByteOrder.LITTLE_ENDIAN);
    }

    /** Signed byte lanes widened to floats. */
    static FloatVector toFloats(ByteVector b) {
        return (FloatVector) b.convertShape(VectorOperators.B2F, F, 0);
    }

    /** The low nibble of each byte, 0..15. */
    static ByteVector low(ByteVector b) {
        return b.and((byte) 0x0f);
    }

    /** The high nibble of each byte, 0..15. */
    static ByteVector high(ByteVector b) {
        return b.lanewise(VectorOperators.LSHR, 4);
    }

    /** Lane i takes byte i / 8: each of the 8-lane groups reads its own byte of 8 fifth bits. */
    private static final VectorShuffle<Byte> BYTE_PER_8_LANES = VectorShuffle.fromOp(B, i -> i / 8);
    /** Lane i tests bit i % 8 of its byte. */
    private static final ByteVector BIT_OF_LANE = ByteVector.fromArray(B, bitOfLane(), 0);

    private static byte[] bitOfLane() {
        byte[] bits = new byte[B.length()];
        for (int i = 0; i < bits.length; i++) bits[i] = (byte) (1 << (i % 8));
        return bits;
    }

    /**
     * Bits {@code j .. j + L} of the little-endian 32-bit field at {@code qh} (Q5_0's and Q5_1's fifth bits), as a
     * mask: lane i set when bit {@code j + i} is. {@code j} must be a multiple of 8 (it is: L is 8 or 16, a byte
     * vector of fewer than 8 lanes does not exist). Reads L bytes from {@code qh + j / 8}, so L - 4 bytes past the
     * field: the nibbles that follow it in the block.
     */
    static VectorMask<Byte> fifthBits(MemorySegment s, long qh, int j) {
        ByteVector spread = bytes(s, qh + j / 8).rearrange(BYTE_PER_8_LANES);
        return spread.and(BIT_OF_LANE).compare(VectorOperators.NE, 0);
    }
}
