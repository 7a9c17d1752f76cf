package io.sparkglm.model;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a GGUF v3 file: metadata of any type (nested arrays included) and tensors, each aligned to
 * {@code general.alignment}. For tests and demo models; tensor bytes stream from their source.
 */
public final class GgufWriter {

    /** An array value to write: its element type and elements (nested arrays as Array or GgufArray). */
    public record Array(GgufValueType elementType, List<?> values) {}

    private record Value(GgufValueType type, Object value) {}

    private record Tensor(String name, GgmlType type, long[] shape, TensorBytes data) {}

    private final Map<String, Value> metadata = new LinkedHashMap<>();
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();
    private int alignment = 32;

    /** A scalar of any type, or an {@link Array}/{@link GgufArray} when {@code type} is ARRAY. */
    public GgufWriter put(String key, GgufValueType type, Object value) {
        if (key.equals("general.alignment")) {
            long a = ((Number) value).longValue();
            if (a <= 0 || Long.bitCount(a) != 1) throw new IllegalArgumentException("alignment must be a power of two: " + a);
            alignment = (int) a;
        }
        metadata.put(key, new Value(type, value));
        return this;
    }

    public GgufWriter putString(String key, String value) { return put(key, GgufValueType.STRING, value); }

    public GgufWriter putU32(String key, long value) { return put(key, GgufValueType.UINT32, value); }

    public GgufWriter putF32(String key, float value) { return put(key, GgufValueType.FLOAT32, value); }

    public GgufWriter putBool(String key, boolean value) { return put(key, GgufValueType.BOOL, value); }

    public GgufWriter putArray(String key, GgufValueType elementType, List<?> values) {
        return put(key, GgufValueType.ARRAY, new Array(elementType, values));
    }

    /** Copies one metadata value from another file with its exact GGUF type. */
    public GgufWriter copy(GgufFile from, String key) {
        GgufValueType type = from.typeOf(key).orElseThrow(() -> new ModelFormatException(from.path() + ": missing metadata " + key));
        return put(key, type, from.metadata().get(key));
    }

    /** A tensor with its numpy-order shape (written as ggml {@code ne}, reversed). */
    public GgufWriter addTensor(String name, GgmlType type, long[] shape, TensorBytes data) {
        long elements = 1;
        for (long d : shape) elements = Math.multiplyExact(elements, d);
        if (type.byteSize(elements) != data.byteSize()) {
            throw new IllegalArgumentException(name + ": " + data.byteSize() + " bytes for " + type + java.util.Arrays.toString(shape));
        }
        if (tensors.putIfAbsent(name, new Tensor(name, type, shape.clone(), data)) != null) {
            throw new IllegalArgumentException("duplicate tensor " + name);
        }
        return this;
    }

    public void write(Path out) throws IOException {
        Bytes header = new Bytes();
        header.i32(0x46554747).i32(3).i64(tensors.size()).i64(metadata.size());
        for (var e : metadata.entrySet()) {
            header.string(e.getKey()).i32(e.getValue().type().id());
            header.value(e.getValue().type(), e.getValue().value());
        }
        List<Long> offsets = new ArrayList<>();
        long offset = 0;
        for (Tensor t : tensors.values()) {
            header.string(t.name()).i32(t.shape().length);
            for (int d = t.shape().length - 1; d >= 0; d--) header.i64(t.shape()[d]);
            header.i32(t.type().id()).i64(offset);
            offsets.add(offset);
            offset = GgufFile.alignUp(offset + t.data().byteSize(), alignment);
        }
        try (FileChannel ch = FileChannel.open(out, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            byte[] h = header.toByteArray();
            TensorBytes.writeFully(ch, ByteBuffer.wrap(h));
            long dataStart = GgufFile.alignUp(h.length, alignment);
            pad(ch, dataStart - h.length);
            int i = 0;
            for (Tensor t : tensors.values()) {
                long expected = dataStart + offsets.get(i++);
                pad(ch, expected - ch.position());
                t.data().writeTo(ch);
            }
            pad(ch, dataStart + offset - ch.position());
        }
    }

    private static void pad(FileChannel ch, long n) throws IOException {
        if (n > 0) TensorBytes.writeFully(ch, ByteBuffer.allocate(Math.toIntExact(n)));
    }

    /** A little-endian byte builder for the header. */
    private static final class Bytes extends ByteArrayOutputStream {
        private final ByteBuffer scratch = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);

        Bytes i32(int v) { scratch.clear(); scratch.putInt(v); write(scratch.array(), 0, 4); return this; }

        Bytes i64(long v) { scratch.clear(); scratch.putLong(v); write(scratch.array(), 0, 8); return this; }

        Bytes string(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            i64(b.length);
            write(b, 0, b.length);
            return this;
        }

        void value(GgufValueType type, Object v) {
            switch (type) {
                case UINT8, INT8 -> write(((Number) v).intValue());
                case UINT16, INT16 -> { scratch.clear(); scratch.putShort((short) ((Number) v).intValue()); write(scratch.array(), 0, 2); }
                case UINT32, INT32 -> i32((int) ((Number) v).longValue());
                case FLOAT32 -> i32(Float.floatToRawIntBits(((Number) v).floatValue()));
                case BOOL -> write((Boolean) v ? 1 : 0);
                case STRING -> string((String) v);
                case UINT64, INT64 -> i64(((Number) v).longValue());
                case FLOAT64 -> i64(Double.doubleToRawLongBits(((Number) v).doubleValue()));
                case ARRAY -> {
                    GgufValueType elementType;
                    List<?> values;
                    if (v instanceof GgufArray a) {
                        elementType = a.elementType();
                        values = a;
                    } else if (v instanceof Array a) {
                        elementType = a.elementType();
                        values = a.values();
                    } else {
                        throw new IllegalArgumentException("an ARRAY value must be a GgufWriter.Array or GgufArray, not " + v.getClass());
                    }
                    i32(elementType.id()).i64(values.size());
                    for (Object element : values) value(elementType, element);
                }
            }
        }
    }
}
