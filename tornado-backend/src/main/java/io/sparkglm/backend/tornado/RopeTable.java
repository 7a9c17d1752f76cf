package io.sparkglm.backend.tornado;

import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * cos/sin of every (position, pair) angle, computed once on the host in float64 and uploaded, so the device
 * never evaluates pow/sin/cos (whose accuracy differs between OpenCL implementations).
 * Pair {@code i} of position {@code p} has angle {@code p * base^(-2i/ropeDims)}; the table holds
 * {@code [(p * ropeDims/2 + i) * 2] = cos} and {@code [... + 1] = sin}.
 */
public record RopeTable(FloatArray table, int capacity, int ropeDims) {

    public static RopeTable of(int capacity, int ropeDims, double base) {
        if (capacity < 1 || ropeDims < 2 || ropeDims % 2 != 0) {
            throw new IllegalArgumentException("RoPE table needs capacity >= 1 and an even ropeDims >= 2, got "
                    + capacity + " and " + ropeDims);
        }
        int pairs = ropeDims / 2;
        long floats = 2L * capacity * pairs;
        if (floats > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("RoPE table for " + capacity + " positions x " + pairs + " pairs is too large");
        }
        double[] inverseFrequency = new double[pairs];
        for (int i = 0; i < pairs; i++) inverseFrequency[i] = Math.pow(base, -2.0 * i / ropeDims);
        FloatArray table = new FloatArray((int) floats);
        for (int p = 0; p < capacity; p++) {
            for (int i = 0; i < pairs; i++) {
                double angle = p * inverseFrequency[i];
                int at = (p * pairs + i) * 2;
                table.set(at, (float) Math.cos(angle));
                table.set(at + 1, (float) Math.sin(angle));
            }
        }
        return new RopeTable(table, capacity, ropeDims);
    }
}
