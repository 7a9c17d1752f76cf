package io.sparkglm.backend.tornado;

import io.sparkglm.generate.DevicePlan;
import io.sparkglm.generate.MemoryPlan;
import io.sparkglm.model.Checkpoint;
import io.sparkglm.model.GgmlType;
import io.sparkglm.model.ModelFormatException;
import io.sparkglm.model.ModelTensors;
import io.sparkglm.model.WeightTensor;
import io.sparkglm.tensor.ActivationFormat;
import io.sparkglm.tensor.WeightMatrix;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import uk.ac.manchester.tornado.api.types.arrays.ByteArray;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.ShortArray;
import uk.ac.manchester.tornado.api.types.arrays.TornadoNativeArray;

/**
 * The model's weights as TornadoVM arrays, ready to be copied to the device once, every matrix in its stored
 * format, never widened: F32 as a {@link FloatArray}, F16 and BF16 as their 16-bit words in a {@link ShortArray},
 * Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K as their GGUF blocks in a {@link ByteArray}; the kernels decode them
 * ({@link MatrixKernels}). Norms and biases are F32 vectors.
 *
 * <p>Separate Q, K, V tensors (Hugging Face layout) of one type become one matrix, their raw rows one after
 * another (rows are whole blocks); of different types they stay separate parts, each computed by its own
 * task into its rows of the fused QKV output.
 */
record DeviceWeights(DeviceMatrix tokenEmbedding, Layer[] layers, FloatArray outputNorm, DeviceMatrix output) {

    /** One matrix {@code [rows, cols]} in its stored type: a FloatArray (F32), ShortArray (F16, BF16) or ByteArray (blocks). */
    record DeviceMatrix(GgmlType type, TornadoNativeArray data, int rows, int cols) {

        FloatArray floats() { return (FloatArray) data; }

        ShortArray halfs() { return (ShortArray) data; }

        ByteArray blocks() { return (ByteArray) data; }

        /** How the kernels prepare this matrix's input (ggml's vec_dot_type, as the CPU backend). */
        ActivationFormat activation() { return activationFormat(type); }

        /** Bytes as stored. */
        long bytes() { return type.byteSize((long) rows * cols); }
    }

    /** {@code qkv}: one matrix, or the parts of differing types whose rows make the fused QKV. */
    record Layer(FloatArray attnNorm, List<DeviceMatrix> qkv, FloatArray qkvBias, DeviceMatrix attnOutput,
                 FloatArray ffnNorm, DeviceMatrix ffnGateUp, DeviceMatrix ffnDown) {}

    /** ggml's vec_dot_type for the type: the engine's own mapping, so both backends prepare inputs alike. */
    static ActivationFormat activationFormat(GgmlType type) {
        return MemoryPlan.activationFormat(type);
    }

    /** Bytes the weights take on the device (matrices as stored, norms and biases F32). */
    long bytes() {
        long total = tokenEmbedding.bytes() + output.bytes() + 4L * outputNorm.getSize();
        for (Layer l : layers) {
            for (DeviceMatrix part : l.qkv) total += part.bytes();
            total += l.attnOutput.bytes() + l.ffnGateUp.bytes() + l.ffnDown.bytes()
                    + 4L * (l.attnNorm.getSize() + l.qkvBias.getSize() + l.ffnNorm.getSize());
        }
        return total;
    }

    /** Bytes of the largest single weight array (a device may cap one buffer's size). */
    long largestArrayBytes() {
        long largest = Math.max(tokenEmbedding.bytes(), output.bytes());
        for (Layer l : layers) {
            for (DeviceMatrix part : l.qkv) largest = Math.max(largest, part.bytes());
            largest = Math.max(largest, Math.max(l.attnOutput.bytes(), Math.max(l.ffnGateUp.bytes(), l.ffnDown.bytes())));
        }
        return largest;
    }

    static DeviceWeights from(Checkpoint checkpoint) {
        ModelTensors t = ModelTensors.of(checkpoint);              // shapes validated against the config
        int qkvDim = checkpoint.config().qkvDim();
        Layer[] layers = t.layers().stream().map(l -> new Layer(
                vector(l.attnNorm()),
                qkv(l.qkv()),
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
        return stored(t.name(), t.type(), List.of(t.data()), t.rows(), t.cols());
    }

    /**
     * The fused QKV: one tensor as it is; separate ones of one type as one matrix of their rows (raw blocks
     * concatenated); of differing types, each part apart (never widened).
     */
    private static List<DeviceMatrix> qkv(List<WeightTensor> parts) {
        if (parts.size() == 1) return List.of(matrix(parts.getFirst()));
        WeightTensor first = parts.getFirst();
        int rows = 0;
        boolean oneType = true;
        for (WeightTensor t : parts) {
            if (t.shape().length != 2) throw new ModelFormatException(t.name() + " must be a matrix, got shape of rank " + t.shape().length);
            if (t.cols() != first.cols()) {
                throw new ModelFormatException(t.name() + " has " + t.cols() + " columns, " + first.name() + " " + first.cols());
            }
            rows += t.rows();
            oneType &= t.type() == first.type();
        }
        if (!oneType) return parts.stream().map(DeviceWeights::matrix).toList();
        return List.of(stored(first.name() + " (fused QKV)", first.type(), parts.stream().map(WeightTensor::data).toList(),
                rows, first.cols()));
    }

    /** The bytes of {@code segments} (whole rows, one after another) as one device array of the type's kind. */
    private static DeviceMatrix stored(String name, GgmlType type, List<MemorySegment> segments, int rows, int cols) {
        long units = arrayUnits(type, (long) rows * cols);
        if (units > DevicePlan.MAX_ARRAY_UNITS) {
            throw new ModelFormatException(name + " [" + rows + ", " + cols + "] as " + type + " needs " + units + " "
                    + unitName(type) + " in one TornadoVM array, more than its int index reaches (2^31)");
        }
        int n = (int) units;
        TornadoNativeArray array = switch (type) {
            case F32 -> new FloatArray(n);
            case F16, BF16 -> new ShortArray(n);
            case Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K -> new ByteArray(n);
            default -> throw new ModelFormatException(name + " is stored as " + type + ", which the tornado backend cannot compute with");
        };
        MemorySegment into = array.getSegment();
        long at = 0;
        for (MemorySegment s : segments) {
            MemorySegment.copy(s, 0, into, at, s.byteSize());
            at += s.byteSize();
        }
        if (at != type.byteSize((long) rows * cols)) throw new IllegalStateException(name + ": " + at + " bytes copied");
        return new DeviceMatrix(type, array, rows, cols);
    }

    /** What a kernel indexes with an int: elements of a float or short array, bytes of a block array. */
    static long arrayUnits(GgmlType type, long elements) {
        return switch (type) {
            case F32, F16, BF16 -> elements;
            default -> type.byteSize(elements);
        };
    }

    private static String unitName(GgmlType type) {
        return switch (type) {
            case F32, F16, BF16 -> "elements";
            default -> "bytes";
        };
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
}
