package io.sparkglm.model;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * One tensor of a checkpoint, as stored: its logical name, storage type, shape in row-major order
 * (outermost first, like numpy: a weight matrix is {@code [rows, cols]}) and its bytes, a slice of the
 * memory-mapped file (never a copy).
 */
public record WeightTensor(String name, GgmlType type, long[] shape, MemorySegment data) {

    public WeightTensor {
        shape = shape.clone();
        long expected = type.byteSize(elementCount(shape));
        if (data.byteSize() != expected) {
            throw new IllegalArgumentException("tensor " + name + ": " + data.byteSize() + " bytes for "
                    + type + Arrays.toString(shape) + ", expected " + expected);
        }
    }

    public long[] shape() { return shape.clone(); }

    public long elementCount() { return elementCount(shape); }

    public int rows() { return shape.length == 1 ? 1 : Math.toIntExact(shape[0]); }

    public int cols() { return Math.toIntExact(shape[shape.length - 1]); }

    private static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    @Override
    public String toString() {
        return name + " " + type + Arrays.toString(shape);
    }
}
