package io.sparkglm.backend.cpu;

import io.sparkglm.backend.SequenceCache;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * One sequence's keys and values for every layer, off-heap (a 1M-token context does not fit a Java
 * array, and the GC should not scan it), in pages of tokens (default {@link #PAGE_TOKENS}) allocated as the
 * sequence grows: memory follows the tokens actually held, not the capacity a request asked for (a
 * hostile max_tokens cannot reserve 80 GiB up front). Each page holds, per layer, {@code [pageTokens][kvDim]}
 * keys and the same for values; elements F32 or F16 (F16 halves the memory, as llama.cpp's default).
 */
final class CpuSequenceCache implements SequenceCache {

    static final int PAGE_TOKENS = 256;

    private final Arena arena = Arena.ofShared();
    private final List<MemorySegment> keyPages = new ArrayList<>();
    private final List<MemorySegment> valuePages = new ArrayList<>();
    private final int pageTokens;
    private final int capacity;
    private final int kvDim;
    private final boolean f16;
    private final long pageBytes;
    private int length;

    CpuSequenceCache(int layers, int capacity, int kvDim, boolean f16, int pageTokens) {
        this.pageTokens = pageTokens;
        this.capacity = capacity;
        this.kvDim = kvDim;
        this.f16 = f16;
        this.pageBytes = bytesFor(pageTokens, layers, kvDim, f16, pageTokens) / 2;
    }

    /** Bytes a cache of {@code capacity} tokens holds when full: whole pages of keys and of values. */
    static long bytesFor(int capacity, int layers, int kvDim, boolean f16, int pageTokens) {
        long pages = (capacity + (long) pageTokens - 1) / pageTokens;
        return 2 * pages * layers * pageTokens * kvDim * (f16 ? 2L : 4L);
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

    /** Makes room for positions below {@code end}; called before a step writes them. */
    void reserve(int end) {
        if (end > capacity) throw new IllegalArgumentException("position " + (end - 1) + " is past the capacity " + capacity);
        while ((long) keyPages.size() * pageTokens < end) {
            try {
                keyPages.add(arena.allocate(pageBytes, 64));
                valuePages.add(arena.allocate(pageBytes, 64));
            } catch (OutOfMemoryError e) {
                throw new IllegalStateException("out of memory for the KV cache at " + end + " tokens ("
                        + (2 * pageBytes * keyPages.size() >> 20) + " MiB held): lower the context or use the f16 cache", e);
            }
        }
    }

    /** Element index of (layer, position) inside its page. */
    private long index(int layer, int position) {
        return ((long) layer * pageTokens + position % pageTokens) * kvDim;
    }

    /** Stores one token's key and value rows (kvDim floats each, read from the given offsets). */
    void store(int layer, int position, float[] k, int kOff, float[] v, int vOff) {
        MemorySegment keys = keyPages.get(position / pageTokens), values = valuePages.get(position / pageTokens);
        long base = index(layer, position);
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
        MemorySegment keys = keyPages.get(position / pageTokens);
        long at = index(layer, position) + dimOff;
        return f16 ? Kernels.dotF16(keys, at, q, qOff, len) : Kernels.dotF32(keys, at * 4, q, qOff, len);
    }

    /** acc[accOff ..] += weight * value[layer][position][dimOff ..]. */
    void accumulateValue(int layer, int position, int dimOff, float weight, float[] acc, int accOff, int len) {
        MemorySegment values = valuePages.get(position / pageTokens);
        long at = index(layer, position) + dimOff;
        if (f16) Kernels.axpyF16(weight, values, at, acc, accOff, len);
        else Kernels.axpyF32(weight, values, at * 4, acc, accOff, len);
    }

    /**
     * Keys of positions {@code [from, from + count)}, dims {@code [dimOff, dimOff + len)} of one layer, as floats
     * into {@code dst[dstOff + i * dstStride + d]} (prompt attention multiplies them as a matrix).
     */
    void copyKeys(int layer, int from, int count, int dimOff, int len, float[] dst, int dstOff, int dstStride) {
        copyRows(keyPages, layer, from, count, dimOff, len, dst, dstOff, dstStride);
    }

    /** Values of positions {@code [from, from + count)}, as {@link #copyKeys}. */
    void copyValues(int layer, int from, int count, int dimOff, int len, float[] dst, int dstOff, int dstStride) {
        copyRows(valuePages, layer, from, count, dimOff, len, dst, dstOff, dstStride);
    }

    private void copyRows(List<MemorySegment> pages, int layer, int from, int count, int dimOff, int len,
                          float[] dst, int dstOff, int dstStride) {
        for (int i = 0; i < count; i++) {
            int position = from + i;
            MemorySegment page = pages.get(position / pageTokens);
            long at = index(layer, position) + dimOff;
            int to = dstOff + i * dstStride;
            if (f16) {
                for (int d = 0; d < len; d++) dst[to + d] = Float.float16ToFloat(page.getAtIndex(ValueLayout.JAVA_SHORT, at + d));
            } else {
                MemorySegment.copy(page, ValueLayout.JAVA_FLOAT, at * 4, dst, to, len);
            }
        }
    }

    @Override
    public void close() {
        arena.close();
    }
}
