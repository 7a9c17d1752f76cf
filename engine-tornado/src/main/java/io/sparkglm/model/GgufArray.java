package io.sparkglm.model;

import java.util.AbstractList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.RandomAccess;

/**
 * A GGUF metadata array: a read-only {@code List<Object>} that keeps its elements in one primitive array
 * (a 151552-entry token-type array is 600 KB of ints, not 151552 boxed objects). Elements read as the
 * same Java types as scalars: Integer for u8/i8/u16/i16/i32, Long for u32/u64/i64, Float, Double, Boolean,
 * String, and nested {@code GgufArray}s.
 */
public final class GgufArray extends AbstractList<Object> implements RandomAccess {

    private final GgufValueType elementType;
    private final Object storage; // int[], long[], float[], double[], boolean[], String[] or List<?>[]
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
        return switch (storage) {
            case int[] a -> a[index];
            case long[] a -> a[index];
            case float[] a -> a[index];
            case double[] a -> a[index];
            case boolean[] a -> a[index];
            case Object[] a -> a[index];
            default -> throw new IllegalStateException("unexpected storage " + storage.getClass());
        };
    }

    /** The elements as ints when they are integers that fit; null otherwise. */
    int[] toIntArrayOrNull() {
        if (storage instanceof int[] a) return a.clone();
        if (storage instanceof long[] a) {
            int[] out = new int[a.length];
            for (int i = 0; i < a.length; i++) {
                if (a[i] != (int) a[i]) return null;
                out[i] = (int) a[i];
            }
            return out;
        }
        return null;
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
        return storage instanceof String[] a ? Collections.unmodifiableList(Arrays.asList(a)) : null;
    }
}
