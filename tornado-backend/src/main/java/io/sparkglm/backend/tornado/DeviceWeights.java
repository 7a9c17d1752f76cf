package io.sparkglm.backend.tornado;

import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.GgmlType;
import io.sparkglm.model.ModelTensors;
import io.sparkglm.model.ModelFormatException;
import io.sparkglm.model.WeightTensor;
import io.sparkglm.tensor.WeightMatrix;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import uk.ac.manchester.tornado.api.types.arrays.ByteArray;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * The model's weights as TornadoVM arrays, ready to be copied to the device once. Matrices keep their
 * storage when the kernels read it directly (F32, and Q8_0 as raw GGUF blocks); every other format (F16,
 * BF16 on devices without fp16, the K-quants, Q4_0) is dequantized to F32 at load time, which is exact
 * but takes 4 bytes per weight. Norms and biases are F32 vectors.
 */
record DeviceWeights(DeviceMatrix tokenEmbedding, Layer[] layers, FloatArray outputNorm, DeviceMatrix output) {

    /** One matrix {@code [rows, cols]}: a {@link FloatArray} (F32) or a {@link ByteArray} of Q8_0 blocks. */
    record DeviceMatrix(GgmlType type, Object data, int rows, int cols) {

        DeviceMatrix {
            if (type != GgmlType.F32 && type != GgmlType.Q8_0) throw new IllegalArgumentException("device matrices are F32 or Q8_0, not " + type);
        }

        boolean quantized() { return type == GgmlType.Q8_0; }

        FloatArray floats() { return (FloatArray) data; }

        ByteArray blocks() { return (ByteArray) data; }

        long bytes() { return type.byteSize((long) rows * cols); }
    }

    record Layer(FloatArray attnNorm, DeviceMatrix qkv, FloatArray qkvBias, DeviceMatrix attnOutput,
                 FloatArray ffnNorm, DeviceMatrix ffnGateUp, DeviceMatrix ffnDown) {}

    /** Bytes the weights take on the device. */
    long bytes() {
        long total = tokenEmbedding.bytes() + output.bytes() + 4L * outputNorm.getSize();
        for (Layer l : layers) {
            total += l.qkv.bytes() + l.attnOutput.bytes() + l.ffnGateUp.bytes() + l.ffnDown.bytes()
                    + 4L * (l.attnNorm.getSize() + l.qkvBias.getSize() + l.ffnNorm.getSize());
        }
        return total;
    }

    /** Bytes of the largest single weight array (a device may cap one buffer's size). */
    long largestArrayBytes() {
        long largest = Math.max(tokenEmbedding.bytes(), output.bytes());
        for (Layer l : layers) {
            largest = Math.max(largest, Math.max(Math.max(l.qkv.bytes(), l.attnOutput.bytes()),
                    Math.max(l.ffnGateUp.bytes(), l.ffnDown.bytes())));
        }
        return largest;
    }

    static DeviceWeights from(Checkpoint checkpoint) {
        ModelTensors t = ModelTensors.of(checkpoint);              // shapes validated against the config
        int qkvDim = checkpoint.config().qkvDim();
        Layer[] layers = t.layers().stream().map(l -> new Layer(
                vector(l.attnNorm()),
                l.qkv().size() == 1 ? matrix(l.qkv().getFirst()) : stackRows(l.qkv().getFirst().name(), l.qkv()),
                l.qkvBias().isEmpty() ? new FloatArray(qkvDim)    // zeros: one kernel for both cases
                                      : concat(l.qkvBias().stream().map(DeviceWeights::vector).toArray(FloatArray[]::new)),
                matrix(l.attnOutput()),
                vector(l.ffnNorm()),
                matrix(l.ffnGateUp()),
                matrix(l.ffnDown()))).toArray(Layer[]::new);
        return new DeviceWeights(matrix(t.tokenEmbedding()), layers, vector(t.outputNorm()), matrix(t.output()));
    }

    private static DeviceMatrix matrix(WeightTensor t) {
        if (t.shape().length != 2) throw new ModelFormatException(t.name() + " must be a matrix, got shape of rank " + t.shape().length);
        return convert(t.name(), t.type(), t.data(), t.rows(), t.cols());
    }

    private static DeviceMatrix convert(String name, GgmlType type, MemorySegment data, int rows, int cols) {
        requireIndexable(name, type, rows, cols);
        return switch (type) {
            case F32 -> new DeviceMatrix(type, FloatArray.fromSegment(data), rows, cols);
            case Q8_0 -> new DeviceMatrix(type, ByteArray.fromSegment(data), rows, cols);
            default -> {                                           // dequantize once, exactly, to F32
                requireIndexable(name, GgmlType.F32, rows, cols);
                WeightMatrix m = WeightMatrix.of(type, data, rows, cols);
                FloatArray out = new FloatArray(rows * cols);
                float[] row = new float[cols];
                for (int r = 0; r < rows; r++) {
                    m.dequantizeRow(r, row, 0);
                    for (int c = 0; c < cols; c++) out.set(r * cols + c, row[c]);
                }
                yield new DeviceMatrix(GgmlType.F32, out, rows, cols);
            }
        };
    }

    /** Separate Q, K, V matrices as one fused matrix (rows one after another); F32 unless all are Q8_0. */
    private static DeviceMatrix stackRows(String name, List<WeightTensor> parts) {
        int cols = parts.getFirst().cols();
        int rows = 0;
        boolean allQ8 = true;
        for (WeightTensor t : parts) {
            if (t.cols() != cols) throw new ModelFormatException(name + ": " + t.name() + " has " + t.cols() + " columns, expected " + cols);
            rows += t.rows();
            allQ8 &= t.type() == GgmlType.Q8_0;
        }
        List<DeviceMatrix> converted = new ArrayList<>();
        for (WeightTensor t : parts) {
            converted.add(allQ8 ? convert(t.name(), t.type(), t.data(), t.rows(), t.cols())
                                : convertToF32(t));
        }
        GgmlType type = allQ8 ? GgmlType.Q8_0 : GgmlType.F32;
        requireIndexable(name, type, rows, cols);
        if (allQ8) {
            ByteArray out = new ByteArray(Math.toIntExact(type.byteSize((long) rows * cols)));
            int at = 0;
            for (DeviceMatrix m : converted) {
                ByteArray b = m.blocks();
                for (int i = 0; i < b.getSize(); i++) out.set(at++, b.get(i));
            }
            return new DeviceMatrix(type, out, rows, cols);
        }
        FloatArray out = new FloatArray(rows * cols);
        int at = 0;
        for (DeviceMatrix m : converted) {
            FloatArray f = m.floats();
            for (int i = 0; i < f.getSize(); i++) out.set(at++, f.get(i));
        }
        return new DeviceMatrix(type, out, rows, cols);
    }

    private static DeviceMatrix convertToF32(WeightTensor t) {
        DeviceMatrix m = convert(t.name(), t.type(), t.data(), t.rows(), t.cols());
        if (!m.quantized()) return m;
        FloatArray out = new FloatArray(t.rows() * t.cols());
        WeightMatrix w = WeightMatrix.of(t.type(), t.data(), t.rows(), t.cols());
        float[] row = new float[t.cols()];
        for (int r = 0; r < t.rows(); r++) {
            w.dequantizeRow(r, row, 0);
            for (int c = 0; c < t.cols(); c++) out.set(r * t.cols() + c, row[c]);
        }
        return new DeviceMatrix(GgmlType.F32, out, t.rows(), t.cols());
    }

    private static FloatArray vector(WeightTensor t) {
        WeightMatrix m = WeightMatrix.of(t.type(), t.data(), 1, Math.toIntExact(t.elementCount()));
        float[] values = new float[m.cols()];
        m.dequantizeRow(0, values, 0);
        return FloatArray.fromArray(values);
    }

    private static FloatArray concat(FloatArray... parts) {
        int n = 0;
        for (FloatArray p : parts) n += p.getSize();
        FloatArray out = new FloatArray(n);
        int at = 0;
        for (FloatArray p : parts) {
            for (int i = 0; i < p.getSize(); i++) out.set(at++, p.get(i));
        }
        return out;
    }

    /** Kernels index elements (F32) or bytes (Q8_0) with Java ints. */
    private static void requireIndexable(String name, GgmlType type, int rows, int cols) {
        long units = type == GgmlType.Q8_0 ? type.byteSize((long) rows * cols) : (long) rows * cols;
        if (units > Integer.MAX_VALUE - 64) {
            throw new ModelFormatException(name + " [" + rows + ", " + cols + "] as " + type
                    + " is too large for one TornadoVM array (more than 2^31 elements)");
        }
    }
}
