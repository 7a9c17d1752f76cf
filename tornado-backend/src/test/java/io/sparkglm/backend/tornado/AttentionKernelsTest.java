package io.sparkglm.backend.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.WorkerGrid2D;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.types.arrays.ByteArray;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

import static io.sparkglm.backend.tornado.KernelTesting.*;

/**
 * RoPE with the KV-cache write and attention on the TornadoVM device against float64 references, on
 * random inputs.
 */
class AttentionKernelsTest {

    @Test
    void ropeRotatesAdjacentPairsOfTheFirstRopeDimsAndFillsEachTokensCacheRow() {
        int heads = 4, kvHeads = 2, headDim = 32, ropeDims = 16, capacity = 12;
        int qDim = heads * headDim, kvDim = kvHeads * headDim, qkvDim = qDim + 2 * kvDim;
        double ropeBase = 5_000_000;
        int[] positions = {9, 0, 3};
        int[] bases = {3, 3 + capacity, 3};                       // tokens 0 and 2 share a slot, token 1 has another
        int tokens = positions.length;
        FloatArray qkv = randomFloats(tokens * qkvDim, 1.0), original = FloatArray.fromArray(qkv.toHeapArray());
        FloatArray rope = RopeTable.of(capacity, ropeDims, ropeBase).table();
        FloatArray keys = new FloatArray((3 + 2 * capacity) * kvDim), values = new FloatArray((3 + 2 * capacity) * kvDim);
        IntArray step = stepOf(4, new int[tokens], positions, bases);
        KernelContext c = new KernelContext();
        run(graph("rope", step, qkv, rope, keys, values)
                .task("k", AttentionKernels::ropeAndCache, c, step, qkv, rope, keys, values, heads, kvHeads, headDim, ropeDims)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, qkv, keys, values), tokens * (heads + kvHeads) * headDim / 2, 16);
        for (int t = 0; t < tokens; t++) {
            int row = bases[t] + positions[t];
            for (int head = 0; head < heads + kvHeads; head++) {
                for (int d = 0; d < headDim; d += 2) {
                    int i = t * qkvDim + head * headDim + d;
                    double x0 = original.get(i), x1 = original.get(i + 1), e0 = x0, e1 = x1;
                    if (d < ropeDims) {
                        double angle = positions[t] * Math.pow(ropeBase, -(double) d / ropeDims);
                        e0 = x0 * Math.cos(angle) - x1 * Math.sin(angle);
                        e1 = x0 * Math.sin(angle) + x1 * Math.cos(angle);
                    }
                    assertClose(e0, qkv.get(i), 1e-5, "token " + t + " rotated " + i);
                    assertClose(e1, qkv.get(i + 1), 1e-5, "token " + t + " rotated " + (i + 1));
                    if (head >= heads) {
                        assertEquals(qkv.get(i), keys.get(row * kvDim + (head - heads) * headDim + d), "token " + t + " cached key " + i);
                    }
                }
            }
            for (int j = 0; j < kvDim; j++) {
                assertEquals(original.get(t * qkvDim + qDim + kvDim + j), values.get(row * kvDim + j), "token " + t + " cached value " + j);
            }
        }
        assertEquals(0f, keys.get((3 + 8) * kvDim), "other positions untouched");
        assertEquals(0f, keys.get(9 * kvDim + 1), "rows outside the slots untouched");
    }

    @Test
    void attentionPerTokenOverItsOwnSlotWithOnlineSoftmaxAndGqa() {
        int heads = 6, kvHeads = 2, headDim = 40, capacity = 200;
        int qDim = heads * headDim, kvDim = kvHeads * headDim, qkvDim = qDim + 2 * kvDim;
        float scale = (float) (1 / Math.sqrt(headDim));
        int[] positions = {0, 5, Kernels.LOCAL - 1, Kernels.LOCAL, 150, 7};
        int[] bases = {7, 7, 7 + capacity, 7, 7 + capacity, 7 + capacity};   // two sequences' slots
        int tokens = positions.length;
        FloatArray qkv = randomFloats(tokens * qkvDim, 1.0);
        FloatArray keys = randomFloats((7 + 2 * capacity) * kvDim, 1.0), values = randomFloats((7 + 2 * capacity) * kvDim, 1.0);
        IntArray step = stepOf(8, new int[tokens], positions, bases);
        FloatArray out = new FloatArray(8 * qDim);
        KernelContext c = new KernelContext();
        run(graph("attention", step, qkv, keys, values)
                .task("k", AttentionKernels::attention, c, step, qkv, keys, values, out, heads, kvHeads, headDim, scale)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, out), 8 * heads * Kernels.LOCAL, Kernels.LOCAL);
        for (int t = 0; t < tokens; t++) {
            int position = positions[t], base = bases[t];
            for (int h = 0; h < heads; h++) {
                int g = h / (heads / kvHeads);
                double[] s = new double[position + 1];
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int p = 0; p <= position; p++) {
                    for (int d = 0; d < headDim; d++) {
                        s[p] += (double) qkv.get(t * qkvDim + h * headDim + d) * keys.get((base + p) * kvDim + g * headDim + d);
                    }
                    s[p] *= scale;
                    max = Math.max(max, s[p]);
                }
                for (int p = 0; p <= position; p++) sum += s[p] = Math.exp(s[p] - max);
                for (int d = 0; d < headDim; d++) {
                    double ctx = 0;
                    for (int p = 0; p <= position; p++) ctx += s[p] / sum * values.get((base + p) * kvDim + g * headDim + d);
                    assertClose(ctx, out.get(t * qDim + h * headDim + d), 2e-5, "token " + t + " position " + position + " head " + h + " dim " + d);
                }
            }
        }
        for (int i = tokens * qDim; i < 8 * qDim; i++) assertEquals(0f, out.get(i), "tokens past T untouched");
    }
}
