package io.sparkglm.model;

import java.util.Arrays;

/**
 * One entry of a GGUF tensor table.
 *
 * @param name     tensor name as stored
 * @param ne       ggml dimensions, innermost (contiguous) first
 * @param type     storage type
 * @param offset   byte offset inside the data section
 * @param byteSize bytes of data
 */
public record GgufTensorInfo(String name, long[] ne, GgmlType type, long offset, long byteSize) {

    public GgufTensorInfo {
        ne = ne.clone();
    }

    @Override
    public long[] ne() { return ne.clone(); }

    /** Dimensions in numpy order (outermost first, rows before columns): {@code ne} reversed. */
    public long[] shape() {
        long[] shape = new long[ne.length];
        for (int i = 0; i < ne.length; i++) shape[i] = ne[ne.length - 1 - i];
        return shape;
    }

    public long elementCount() {
        long n = 1;
        for (long d : ne) n *= d; // checked for overflow when the file was read
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GgufTensorInfo t && name.equals(t.name) && Arrays.equals(ne, t.ne)
                && type == t.type && offset == t.offset && byteSize == t.byteSize;
    }

    @Override
    public int hashCode() { return name.hashCode() * 31 + Long.hashCode(offset); }

    @Override
    public String toString() {
        return name + " " + type + Arrays.toString(shape()) + " @" + offset;
    }
}
