package io.sparkglm.model;

import java.nio.charset.StandardCharsets;
import java.util.AbstractList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.RandomAccess;

/**
 * A GGUF metadata array: a read-only {@code List<Object>} that keeps its elements as compactly as the file
 * does (a 151552-entry token-type array is 600 KB of ints, not 151552 boxed objects): numbers in a primitive
 * array of their on-disk width, strings as one UTF-8 blob decoded on access. Parsing an array therefore
 * allocates no more than its bytes in the file, whatever a hostile file packs into it. Elements read as the
 * same Java types as scalars: Integer for u8/i8/u16/i16/i32, Long for u32/u64/i64, Float, Double, Boolean,
 * String, and nested {@code GgufArray}s.
 */
public final class GgufArray extends AbstractList<Object> implements RandomAccess {

    /** Strings as their UTF-8 bytes back to back; string i is {@code utf8[ends[i-1], ends[i])}. */
    record Strings(byte[] utf8, int[] ends) {
        String get(int i) {
            int from = i == 0 ? 0 : ends[i - 1];
            return from == ends[i] ? "" : new String(utf8, from, ends[i] - from, StandardCharsets.UTF_8);
        }
    }

    private final GgufValueType elementType;
    // byte[] u8/i8, short[] u16/i16, int[] u32/i32, long[] u64/i64, float[], double[], boolean[], Strings, GgufArray[]
    private final Object storage;
    private final int size;

    GgufArray(GgufValueType elementType, Object storage, int size) {
        this.elementType = elementType;
        this.storage = storage;
        this.size = size;
    }

    /** The GGUF type of every element. */
    public GgufValueType elementType() { return elementType; }

    @Override
    public int size() { return size; }

    @Override
    public Object get(int index) {
        return switch (elementType) {
            case UINT8 -> Byte.toUnsignedInt(((byte[]) storage)[index]);
            case INT8 -> (int) ((byte[]) storage)[index];
            case UINT16 -> Short.toUnsignedInt(((short[]) storage)[index]);
            case INT16 -> (int) ((short[]) storage)[index];
            case UINT32 -> Integer.toUnsignedLong(((int[]) storage)[index]);
            case INT32 -> ((int[]) storage)[index];
            case UINT64, INT64 -> ((long[]) storage)[index];
            case FLOAT32 -> ((float[]) storage)[index];
            case FLOAT64 -> ((double[]) storage)[index];
            case BOOL -> ((boolean[]) storage)[index];
            case STRING -> {
                Objects.checkIndex(index, size);
                yield ((Strings) storage).get(index);
            }
            case ARRAY -> ((GgufArray[]) storage)[index];
        };
    }

    /** The elements as ints when they are integers that fit; null otherwise. */
    int[] toIntArrayOrNull() {
        int[] out = new int[size];
        switch (elementType) {
            case UINT8, INT8 -> {
                byte[] a = (byte[]) storage;
                for (int i = 0; i < size; i++) out[i] = elementType == GgufValueType.UINT8 ? Byte.toUnsignedInt(a[i]) : a[i];
            }
            case UINT16, INT16 -> {
                short[] a = (short[]) storage;
                for (int i = 0; i < size; i++) out[i] = elementType == GgufValueType.UINT16 ? Short.toUnsignedInt(a[i]) : a[i];
            }
            case INT32 -> System.arraycopy((int[]) storage, 0, out, 0, size);
            case UINT32 -> {
                int[] a = (int[]) storage;
                for (int i = 0; i < size; i++) {
                    if (a[i] < 0) return null; // above Integer.MAX_VALUE as an unsigned value
                    out[i] = a[i];
                }
            }
            case UINT64, INT64 -> {
                long[] a = (long[]) storage;
                for (int i = 0; i < size; i++) {
                    if (a[i] != (int) a[i] || (elementType == GgufValueType.UINT64 && a[i] < 0)) return null;
                    out[i] = (int) a[i];
                }
            }
            default -> {
                return null;
            }
        }
        return out;
    }

    /** The elements as floats when they are f32 or f64; null otherwise. */
    float[] toFloatArrayOrNull() {
        if (storage instanceof float[] a) return a.clone();
        if (storage instanceof double[] a) {
            float[] out = new float[a.length];
            for (int i = 0; i < a.length; i++) out[i] = (float) a[i];
            return out;
        }
        return null;
    }

    /** The elements as strings when this is a string array; null otherwise. */
    List<String> toStringListOrNull() {
        if (!(storage instanceof Strings s)) return null;
        String[] out = new String[size];
        for (int i = 0; i < size; i++) out[i] = s.get(i);
        return Collections.unmodifiableList(Arrays.asList(out));
    }
}
