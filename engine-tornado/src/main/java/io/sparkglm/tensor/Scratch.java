package io.sparkglm.tensor;

/**
 * Per-thread float buffers for the kernels (scale products, converted weights): grown on demand, never
 * shrunk, so a matmul allocates nothing after its first calls on a thread.
 */
final class Scratch {

    private static final int SLOTS = 4;
    private static final ThreadLocal<float[][]> BUFFERS = ThreadLocal.withInitial(() -> new float[SLOTS][0]);

    private Scratch() {}

    /** A buffer of at least {@code size} floats, distinct per {@code slot} (0..3); contents are garbage. */
    static float[] floats(int slot, int size) {
        float[][] buffers = BUFFERS.get();
        if (buffers[slot].length < size) buffers[slot] = new float[size];
        return buffers[slot];
    }
}
