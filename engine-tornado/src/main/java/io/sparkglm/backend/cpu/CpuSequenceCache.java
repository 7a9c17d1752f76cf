package io.sparkglm.backend.cpu;

import io.sparkglm.backend.KvCacheType;
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
 * keys and the same for values; elements F32, F16 (half the memory, as llama.cpp's default) or Q8_0 (ggml's
 * blocks: per 32 values an fp16 scale then 32 int8, 34 bytes; a row of kvDim values is kvDim/32 blocks, see
 * ADR 0011). Q8_0 rows are quantized as they are stored and read back through {@link Kernels}' block kernels.
 */
final class CpuSequenceCache implements SequenceCache {

    static final int PAGE_TOKENS = 256;

    private final Arena arena = Arena.ofShared();
    private final List<MemorySegment> keyPages = new ArrayList<>();
    private final List<MemorySegment> valuePages = new ArrayList<>();
    private final int pageTokens;
    private final int capacity;
    private final int kvDim;
    private final KvCacheType type;
    private final long rowBytes;
    private final long pageBytes;
    private int length;

    CpuSequenceCache(int layers, int capacity, int kvDim, KvCacheType type, int pageTokens) {
        this.pageTokens = pageTokens;
        this.capacity = capacity;
        this.kvDim = kvDim;
        this.type = type;
        this.rowBytes = type.rowBytes(kvDim);
        this.pageBytes = bytesFor(pageTokens, layers, kvDim, type, pageTokens) / 2;
    }

    /** Bytes a cache of {@code capacity} tokens holds when full: whole pages of keys and of values. */
    static long bytesFor(int capacity, int layers, int kvDim, KvCacheType type, int pageTokens) {
        long pages = (capacity + (long) pageTokens - 1) / pageTokens;
        return 2 * pages * layers * pageTokens * type.rowBytes(kvDim);
    }

    KvCacheType type() { return type; }

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
                        + (2 * pageBytes * keyPages.size() >> 20) + " MiB held): lower the context or use a smaller KV cache type (f16, q8_0)", e);
            }
        }
    }

    /** Byte offset of the row of (layer, position) inside its page. */
    private long rowOffset(int layer, int position) {
        return ((long) layer * pageTokens + position % pageTokens) * rowBytes;
    }

    /** Stores one token's key and value rows (kvDim floats each, read from the given offsets). */
    void store(int layer, int position, float[] k, int kOff, float[] v, int vOff) {
        MemorySegment keys = keyPages.get(position / pageTokens), values = valuePages.get(position / pageTokens);
        long row = rowOffset(layer, position);
        switch (type) {
            case F32 -> {
                MemorySegment.copy(k, kOff, keys, ValueLayout.JAVA_FLOAT, row, kvDim);
                MemorySegment.copy(v, vOff, values, ValueLayout.JAVA_FLOAT, row, kvDim);
            }
            case F16 -> {
                long base = row / 2;
                for (int i = 0; i < kvDim; i++) {
                    keys.setAtIndex(ValueLayout.JAVA_SHORT, base + i, Float.floatToFloat16(k[kOff + i]));
                    values.setAtIndex(ValueLayout.JAVA_SHORT, base + i, Float.floatToFloat16(v[vOff + i]));
                }
            }
            case Q8_0 -> {
                Kernels.quantizeQ8_0(k, kOff, kvDim, keys, row);
                Kernels.quantizeQ8_0(v, vOff, kvDim, values, row);
            }
        }
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
            long row = rowOffset(layer, position);
            int to = dstOff + i * dstStride;
            switch (type) {
                case F32 -> MemorySegment.copy(page, ValueLayout.JAVA_FLOAT, row + 4L * dimOff, dst, to, len);
                case F16 -> {
                    long at = row / 2 + dimOff;
                    for (int d = 0; d < len; d++) dst[to + d] = Float.float16ToFloat(page.getAtIndex(ValueLayout.JAVA_SHORT, at + d));
                }
                case Q8_0 -> Kernels.dequantizeQ8_0(page, row, dimOff, dst, to, len);
            }
        }
    }

    /** The stored bytes of one key (or value) row, for tests of the layout. */
    MemorySegment rowBytes(boolean keys, int layer, int position) {
        return (keys ? keyPages : valuePages).get(position / pageTokens).asSlice(rowOffset(layer, position), rowBytes);
    }

    @Override
    public void close() {
        arena.close();
    }
}
