package io.sparkglm.backend.cpu;

import io.sparkglm.backend.SequenceCache;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One sequence's keys and values for every layer, off-heap (a 1M-token context does not fit a Java
 * array, and the GC should not scan it). Layout per layer: {@code [capacity][kvDim]} keys, then the same
 * for values; each element F32 or F16 (F16 halves the memory, as llama.cpp's default cache type).
 */
final class CpuSequenceCache implements SequenceCache {

    private final Arena arena = Arena.ofShared();
    private final MemorySegment keys;     // [layers][capacity][kvDim]
    private final MemorySegment values;
    private final int capacity;
    private final int kvDim;
    private final boolean f16;
    private int length;

    CpuSequenceCache(int layers, int capacity, int kvDim, boolean f16) {
        this.capacity = capacity;
        this.kvDim = kvDim;
        this.f16 = f16;
        long bytes = (long) layers * capacity * kvDim * (f16 ? 2 : 4);
        try {
            this.keys = arena.allocate(bytes, 64);
            this.values = arena.allocate(bytes, 64);
        } catch (OutOfMemoryError e) {
            arena.close();
            throw new IllegalStateException("cannot allocate a KV cache of " + capacity + " tokens ("
                    + (2 * bytes >> 20) + " MiB): lower the context cap or use the f16 cache", e);
        }
    }

    @Override public int length() { return length; }
    @Override public int capacity() { return capacity; }

    void advance(int tokens) { length += tokens; }

    @Override
    public void truncate(int newLength) {
        if (newLength < 0 || newLength > length) {
            throw new IllegalArgumentException("cannot truncate a sequence of " + length + " tokens to " + newLength);
        }
        length = newLength;
    }

    private long offset(int layer, int position) {
        return ((long) layer * capacity + position) * kvDim;
    }

    /** Stores one token's key and value rows (kvDim floats each, read from the given offsets). */
    void store(int layer, int position, float[] k, int kOff, float[] v, int vOff) {
        long base = offset(layer, position);
        if (f16) {
            for (int i = 0; i < kvDim; i++) {
                keys.setAtIndex(ValueLayout.JAVA_SHORT, base + i, Float.floatToFloat16(k[kOff + i]));
                values.setAtIndex(ValueLayout.JAVA_SHORT, base + i, Float.floatToFloat16(v[vOff + i]));
            }
        } else {
            MemorySegment.copy(k, kOff, keys, ValueLayout.JAVA_FLOAT, base * 4, kvDim);
            MemorySegment.copy(v, vOff, values, ValueLayout.JAVA_FLOAT, base * 4, kvDim);
        }
    }

    /** dot(q[qOff .. qOff+len), key[layer][position][dimOff .. dimOff+len)). */
    float dotKey(int layer, int position, int dimOff, float[] q, int qOff, int len) {
        return f16 ? Kernels.dotF16(keys, offset(layer, position) + dimOff, q, qOff, len)
                   : Kernels.dotF32(keys, (offset(layer, position) + dimOff) * 4, q, qOff, len);
    }

    /** acc[accOff ..] += weight * value[layer][position][dimOff ..]. */
    void accumulateValue(int layer, int position, int dimOff, float weight, float[] acc, int accOff, int len) {
        if (f16) {
            Kernels.axpyF16(weight, values, offset(layer, position) + dimOff, acc, accOff, len);
        } else {
            Kernels.axpyF32(weight, values, (offset(layer, position) + dimOff) * 4, acc, accOff, len);
        }
    }

    @Override
    public void close() {
        arena.close();
    }
}
