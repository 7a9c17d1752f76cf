package io.sparkglm.tensor;

import io.sparkglm.model.GgmlType;
import java.util.List;

/**
 * Matrices with equal column count and activation format, their rows one after another: separate Q, K
 * and V projections used as one fused QKV, or gate and up as one FFN input matrix. Row {@code r} of the
 * stack is row {@code r - start(p)} of the part {@code p} it falls in.
 */
public final class StackedMatrix extends WeightMatrix {

    private final WeightMatrix[] parts;
    private final int[] starts;

    StackedMatrix(List<WeightMatrix> parts) {
        super(totalRows(parts), parts.getFirst().cols());
        this.parts = parts.toArray(WeightMatrix[]::new);
        this.starts = new int[this.parts.length + 1];
        for (int p = 0; p < this.parts.length; p++) {
            WeightMatrix m = this.parts[p];
            if (m.cols() != cols() || m.activationFormat() != this.parts[0].activationFormat()) {
                throw new IllegalArgumentException("stacked matrices need equal columns and activation format: "
                        + this.parts[0] + " vs " + m);
            }
            starts[p + 1] = starts[p] + m.rows();
        }
    }

    private static int totalRows(List<WeightMatrix> parts) {
        if (parts == null || parts.isEmpty()) throw new IllegalArgumentException("nothing to stack");
        long rows = 0;
        for (WeightMatrix m : parts) rows += java.util.Objects.requireNonNull(m, "stacked part").rows();
        if (rows > Integer.MAX_VALUE) throw new IllegalArgumentException("stack too tall: " + rows + " rows");
        return (int) rows;
    }

    public List<WeightMatrix> parts() { return List.of(parts); }

    /** The type of the parts when they all share one, else the type of the first. */
    @Override public GgmlType type() { return parts[0].type(); }

    @Override public ActivationFormat activationFormat() { return parts[0].activationFormat(); }

    @Override
    void matmulChecked(Activations x, float[] out, int outOffset, int outStride, int rowFrom, int rowTo) {
        for (int p = 0; p < parts.length; p++) {
            int from = Math.max(rowFrom, starts[p]), to = Math.min(rowTo, starts[p + 1]);
            if (from < to) parts[p].matmulChecked(x, out, outOffset + starts[p], outStride, from - starts[p], to - starts[p]);
        }
    }

    @Override
    void dequantizeRowChecked(int row, float[] dst, int dstOffset) {
        for (int p = 0; p < parts.length; p++) {
            if (row < starts[p + 1]) {
                parts[p].dequantizeRowChecked(row - starts[p], dst, dstOffset);
                return;
            }
        }
    }
}
