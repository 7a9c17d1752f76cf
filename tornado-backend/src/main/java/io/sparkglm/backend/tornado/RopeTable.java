package io.sparkglm.backend.tornado;

import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * cos/sin of the RoPE angles of one launch's tokens, computed on the host in float64 exactly as the CPU backend
 * computes them ({@code (float) cos(position * base^(-2i/ropeDims))}) and uploaded with the step, so the device
 * never evaluates pow/sin/cos (whose accuracy differs between OpenCL implementations) and holds angles for the
 * launch's tokens only, whatever the context: token {@code t}'s pair {@code i} is at {@code [(t * ropeDims/2 + i) * 2]}
 * (cos) and {@code + 1} (sin).
 */
public record RopeTable(FloatArray table, double[] inverseFrequency) {

    /** A table for {@code tokens} tokens per launch. */
    public static RopeTable of(int tokens, int ropeDims, double base) {
        if (tokens < 1 || ropeDims < 2 || ropeDims % 2 != 0) {
            throw new IllegalArgumentException("RoPE table needs tokens >= 1 and an even ropeDims >= 2, got "
                    + tokens + " and " + ropeDims);
        }
        double[] inverseFrequency = new double[ropeDims / 2];
        for (int i = 0; i < inverseFrequency.length; i++) inverseFrequency[i] = Math.pow(base, -2.0 * i / ropeDims);
        return new RopeTable(new FloatArray(tokens * ropeDims), inverseFrequency);
    }

    /** Fills the rows of the launch's first {@code n} tokens from their positions {@code positions[from ..]}. */
    public void fill(int[] positions, int from, int n) {
        int pairs = inverseFrequency.length;
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < pairs; i++) {
                double angle = positions[from + t] * inverseFrequency[i];
                int at = (t * pairs + i) * 2;
                table.set(at, (float) Math.cos(angle));
                table.set(at + 1, (float) Math.sin(angle));
            }
        }
    }
}
