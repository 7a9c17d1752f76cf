package io.sparkglm.model;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One {@code .safetensors} file, memory-mapped: u64 header length, a JSON header
 * {@code {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}}, then the data.
 * The header is untrusted: its length is bounded, every tensor's offsets must lie inside the file,
 * its byte size must equal dtype size times its shape, and no two tensors may overlap.
 */
public final class SafetensorsFile {

    /** safetensors' own limit on the header. */
    static final long MAX_HEADER_BYTES = 100L << 20;

    /** One tensor entry. {@code begin} and {@code end} are offsets into the data section. */
    public record Entry(String name, GgmlType type, long[] shape, long begin, long end) {
        public Entry {
            shape = shape.clone();
        }

        @Override
        public long[] shape() { return shape.clone(); }
    }

    private final Path path;
    private final MemorySegment file;
    private final long dataStart;
    private final Map<String, Entry> entries;

    private SafetensorsFile(Path path, MemorySegment file) {
        this.path = path;
        this.file = file;
        long size = file.byteSize();
        if (size < 8) throw error("file is " + size + " bytes, too short for a safetensors header");
        long headerLen = file.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (headerLen < 2 || headerLen > size - 8 || headerLen > MAX_HEADER_BYTES) {
            throw error("header length " + Long.toUnsignedString(headerLen) + " is impossible (file has " + size
                    + " bytes; the limit is " + MAX_HEADER_BYTES + ")");
        }
        dataStart = 8 + headerLen;
        JsonNode header;
        try {
            header = HfConfig.JSON.readTree(file.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE));
        } catch (JacksonException e) {
            throw error("header is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw error("cannot read header: " + e.getMessage());
        }
        if (header == null || !header.isObject()) throw error("header is not a JSON object");
        entries = Collections.unmodifiableMap(readEntries(header, size - dataStart));
    }

    /** Maps {@code path} into {@code arena} (which owns the mapping) and reads its header. */
    public static SafetensorsFile open(Path path, Arena arena) {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = channel.size();
            MemorySegment file = size == 0 ? MemorySegment.ofArray(new byte[0])
                    : channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            return new SafetensorsFile(path, file);
        } catch (IOException e) {
            throw new ModelFormatException(path + ": cannot read safetensors file: " + e.getMessage(), e);
        }
    }

    public Path path() { return path; }

    public long fileSize() { return file.byteSize(); }

    /** Entries by stored name, in header order. */
    public Map<String, Entry> entries() { return entries; }

    /** The entry's bytes, a slice of the mapping. */
    public MemorySegment data(Entry e) {
        return file.asSlice(dataStart + e.begin(), e.end() - e.begin());
    }

    private Map<String, Entry> readEntries(JsonNode header, long dataBytes) {
        Map<String, Entry> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> field : header.properties()) {
            String name = field.getKey();
            if (name.equals("__metadata__")) continue;
            JsonNode t = field.getValue();
            if (!t.isObject()) throw error("tensor " + name + ": header entry is not an object");
            GgmlType type = dtype(name, t.path("dtype").asText(null));
            long[] shape = longs(name, "shape", t.get("shape"), -1);
            long[] offsets = longs(name, "data_offsets", t.get("data_offsets"), 2);
            long begin = offsets[0], end = offsets[1];
            if (begin > end || end > dataBytes) {
                throw error("tensor " + name + ": data_offsets [" + begin + ", " + end + "] lie outside the data section ("
                        + dataBytes + " bytes)");
            }
            long expected;
            try {
                long elements = 1;
                for (long d : shape) elements = Math.multiplyExact(elements, d);
                expected = type.byteSize(elements);
            } catch (ArithmeticException e) {
                throw error("tensor " + name + ": shape " + Arrays.toString(shape) + " overflows");
            }
            if (end - begin != expected) {
                throw error("tensor " + name + ": " + (end - begin) + " bytes for " + type + Arrays.toString(shape)
                        + ", expected " + expected);
            }
            out.put(name, new Entry(name, type, shape, begin, end));
        }
        List<Entry> byOffset = new ArrayList<>(out.values());
        byOffset.sort(Comparator.comparingLong(Entry::begin));
        for (int i = 1; i < byOffset.size(); i++) {
            Entry prev = byOffset.get(i - 1), next = byOffset.get(i);
            if (prev.end() > next.begin()) throw error("tensors " + prev.name() + " and " + next.name() + " overlap");
        }
        return out;
    }

    private GgmlType dtype(String name, String dtype) {
        if (dtype == null) throw error("tensor " + name + " has no dtype");
        return switch (dtype) {
            case "F32" -> GgmlType.F32;
            case "F16" -> GgmlType.F16;
            case "BF16" -> GgmlType.BF16;
            default -> throw error("tensor " + name + " has dtype " + dtype + "; supported: F32, F16, BF16");
        };
    }

    private long[] longs(String name, String field, JsonNode node, int requiredLength) {
        if (node == null || !node.isArray() || (requiredLength >= 0 && node.size() != requiredLength) || node.size() > 8) {
            throw error("tensor " + name + ": " + field + " is " + node + ", expected an array"
                    + (requiredLength >= 0 ? " of " + requiredLength : "") + " of non-negative integers");
        }
        long[] out = new long[node.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = node.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
                throw error("tensor " + name + ": " + field + "[" + i + "] = " + v + " is not a non-negative integer");
            }
            out[i] = v.longValue();
        }
        return out;
    }

    private ModelFormatException error(String message) {
        return new ModelFormatException(path + ": " + message);
    }
}
