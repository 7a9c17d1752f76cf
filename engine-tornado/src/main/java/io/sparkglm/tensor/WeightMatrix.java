package io.sparkglm.tensor;

import io.sparkglm.model.GgmlType;
import io.sparkglm.model.WeightTensor;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Objects;

/**
 * A 2-D weight matrix {@code [rows, cols]} in one storage format, computed on straight from its
 * (memory-mapped) bytes: nothing is copied to the heap.
 *
 * <p>Output convention of every matmul: for each token {@code t} of {@code x} and each row
 * {@code r} in {@code [rowFrom, rowTo)},
 * <pre>  out[outOffset + t * outStride + r] = sum_c W[r, c] * x_t[c]</pre>
 * Rows are indices of this matrix (of the whole stack for a {@link StackedMatrix}). Several threads may
 * call matmul at once on disjoint row ranges; the kernels allocate nothing.
 */
public abstract sealed class WeightMatrix permits F32Matrix, F16Matrix, BF16Matrix, Q8_0Matrix, Q4_0Matrix, Q5_0Matrix, Q5_1Matrix, AffineKMatrix, Q6_KMatrix,
        StackedMatrix {

    private final int rows;
    private final int cols;

    WeightMatrix(int rows, int cols) {
        if (rows < 1 || cols < 1) throw new IllegalArgumentException("matrix shape must be positive: " + rows + "x" + cols);
        this.rows = rows;
        this.cols = cols;
    }

    /** The matrix of a checkpoint tensor; a 1-D tensor (norm weight, bias) becomes one row. */
    public static WeightMatrix of(WeightTensor t) {
        long[] shape = t.shape();
        if (shape.length < 1 || shape.length > 2) {
            throw new IllegalArgumentException("tensor " + t.name() + ": only 1-D and 2-D tensors are matrices, got "
                    + shape.length + "-D");
        }
        try {
            return of(t.type(), t.data(), t.rows(), t.cols());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("tensor " + t.name() + ": " + e.getMessage(), e);
        }
    }

    /** A matrix over {@code data}, which must hold exactly {@code rows} rows of {@code cols} values in {@code type}. */
    public static WeightMatrix of(GgmlType type, MemorySegment data, int rows, int cols) {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(data, "data");
        if (rows < 1 || cols < 1) throw new IllegalArgumentException("matrix shape must be positive: " + rows + "x" + cols);
        if (cols % type.blockSize() != 0) {
            throw new IllegalArgumentException(type + " stores rows in blocks of " + type.blockSize() + "; " + cols
                    + " columns is not a multiple");
        }
        long expected = Math.multiplyExact((long) rows, type.byteSize(cols));
        if (data.byteSize() != expected) {
            throw new IllegalArgumentException(type + " " + rows + "x" + cols + " needs " + expected + " bytes, got "
                    + data.byteSize());
        }
        return switch (type) {
            case F32 -> new F32Matrix(data, rows, cols);
            case F16 -> new F16Matrix(data, rows, cols);
            case BF16 -> new BF16Matrix(data, rows, cols);
            case Q8_0 -> new Q8_0Matrix(data, rows, cols);
            case Q4_0 -> new Q4_0Matrix(data, rows, cols);
            case Q5_0 -> new Q5_0Matrix(data, rows, cols);
            case Q5_1 -> new Q5_1Matrix(data, rows, cols);
            case Q4_K -> new Q4_KMatrix(data, rows, cols);
            case Q5_K -> new Q5_KMatrix(data, rows, cols);
            case Q6_K -> new Q6_KMatrix(data, rows, cols);
        };
    }

    /** Rows of {@code parts} one after another (e.g. separate Q, K, V used as one fused QKV). */
    public static WeightMatrix stack(List<WeightMatrix> parts) {
        return new StackedMatrix(parts);
    }

    public final int rows() { return rows; }

    public final int cols() { return cols; }

    public abstract GgmlType type();

    public abstract ActivationFormat activationFormat();

    /** {@code out[t * outStride + r] = W[r] . x_t} for rows {@code [rowFrom, rowTo)} and every token of {@code x}. */
    public final void matmul(Activations x, float[] out, int outStride, int rowFrom, int rowTo) {
        matmul(x, out, 0, outStride, rowFrom, rowTo);
    }

    /** {@code out[outOffset + t * outStride + r] = W[r] . x_t} for rows {@code [rowFrom, rowTo)} and every token of {@code x}. */
    public final void matmul(Activations x, float[] out, int outOffset, int outStride, int rowFrom, int rowTo) {
        checkMatmul(x, out, outOffset, outStride, rowFrom, rowTo);
        if (rowFrom < rowTo) matmulChecked(x, out, outOffset, outStride, rowFrom, rowTo);
    }

    /**
     * The same product by the prompt kernel ({@link PanelGemm}): weights unpacked to float panels, 1.8x the
     * decode kernel's speed at 64 tokens and 2.5x at 512, rounded differently (a plain float FMA chain per
     * output instead of per-block integer sums). Each token's result is independent of the others in the call.
     */
    public final void matmulPanels(Activations x, float[] out, int outOffset, int outStride, int rowFrom, int rowTo) {
        checkMatmul(x, out, outOffset, outStride, rowFrom, rowTo);
        if (rowFrom < rowTo) PanelGemm.multiply(this, x, out, outOffset, outStride, rowFrom, rowTo);
    }

    /** Row {@code row} as floats into {@code dst[dstOffset .. dstOffset + cols)} (embedding lookup, tests). */
    public final void dequantizeRow(int row, float[] dst, int dstOffset) {
        Objects.checkIndex(row, rows);
        Objects.checkFromIndexSize(dstOffset, cols, dst.length);
        dequantizeRowChecked(row, dst, dstOffset);
    }

    abstract void matmulChecked(Activations x, float[] out, int outOffset, int outStride, int rowFrom, int rowTo);

    /**
     * Row {@code row} as the prompt kernel multiplies it: the dequantized row for most formats; Q5_1 leaves its
     * blocks' minimums out and adds them in {@link #panelCorrection}, as ggml does ({@link Q5_1Matrix}).
     */
    void panelRow(int row, float[] dst, int dstOffset) {
        dequantizeRowChecked(row, dst, dstOffset);
    }

    /** What the prompt kernel adds to its outputs after the panels: nothing, but for Q5_1's {@code m * s} per block. */
    void panelCorrection(Activations x, float[] out, int outOffset, int outStride, int rowFrom, int rowTo) {}

    abstract void dequantizeRowChecked(int row, float[] dst, int dstOffset);

    private void checkMatmul(Activations x, float[] out, int outOffset, int outStride, int rowFrom, int rowTo) {
        Objects.requireNonNull(x, "x");
        Objects.requireNonNull(out, "out");
        if (x.format() != activationFormat()) {
            throw new IllegalArgumentException(type() + " weights take " + activationFormat() + " activations, got "
                    + x.format());
        }
        if (x.cols() != cols) {
            throw new IllegalArgumentException("activations have " + x.cols() + " columns, matrix has " + cols);
        }
        if (rowFrom < 0 || rowTo > rows || rowFrom > rowTo) {
            throw new IllegalArgumentException("row range [" + rowFrom + ", " + rowTo + ") outside [0, " + rows + ")");
        }
        if (x.tokens() < 1) throw new IllegalArgumentException("activations hold no tokens (call load first)");
        if (x.tokens() > 1 && outStride < rowTo) {
            throw new IllegalArgumentException("output stride " + outStride + " smaller than row end " + rowTo);
        }
        long last = (long) outOffset + (long) (x.tokens() - 1) * outStride + rowTo;
        if (outOffset < 0 || outStride < 0 || last > out.length) {
            throw new IllegalArgumentException("output of length " + out.length + " too short for " + x.tokens()
                    + " tokens, stride " + outStride + ", offset " + outOffset + ", rows up to " + rowTo);
        }
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + type() + " " + rows + "x" + cols + "]";
    }
}
