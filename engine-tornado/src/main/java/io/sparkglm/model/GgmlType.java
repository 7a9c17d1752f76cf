package io.sparkglm.model;

/**
 * The tensor storage formats a GLM-4 checkpoint may use, with ggml's type ids and exact block sizes.
 * A quantized format stores {@code blockSize} weights in {@code blockBytes} bytes.
 */
public enum GgmlType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    Q4_0(2, 32, 2 + 16),
    Q5_0(6, 32, 2 + 4 + 16),
    Q5_1(7, 32, 2 + 2 + 4 + 16),
    Q8_0(8, 32, 2 + 32),
    Q4_K(12, 256, 2 + 2 + 12 + 128),
    Q5_K(13, 256, 2 + 2 + 12 + 32 + 128),
    Q6_K(14, 256, 128 + 64 + 16 + 2),
    BF16(30, 1, 2);

    private final int id;
    private final int blockSize;
    private final int blockBytes;

    GgmlType(int id, int blockSize, int blockBytes) {
        this.id = id;
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
    }

    public int id() { return id; }
    public int blockSize() { return blockSize; }
    public int blockBytes() { return blockBytes; }

    /** Bytes taken by {@code elements} values; the count must be a whole number of blocks. */
    public long byteSize(long elements) {
        if (elements < 0 || elements % blockSize != 0) {
            throw new IllegalArgumentException(this + " stores blocks of " + blockSize + " values; "
                    + elements + " is not a multiple");
        }
        return Math.multiplyExact(elements / blockSize, (long) blockBytes);
    }

    /** The type with ggml id {@code id}, or null when it is not one this engine computes with. */
    public static GgmlType byId(int id) {
        for (GgmlType t : values()) {
            if (t.id == id) return t;
        }
        return null;
    }
}
