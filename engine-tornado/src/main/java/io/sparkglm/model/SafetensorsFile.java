package io.sparkglm.model;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import java.io.IOException;
import java.io.InputStream;
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

    /**
     * Tensor entries a checkpoint's headers may hold, all shards together. GLM-4's largest dense checkpoint has
     * under 900 tensors (glm-4-9b under 300); an entry costs about 650 bytes of objects here and as much again
     * as a mapped {@link WeightTensor}, for about 55 bytes of header, so without a cap a header of small entries
     * allocates many times its size.
     */
    public static final int MAX_TENSORS = 2048;
    /** Object member names in a header other than its tensors and their three fields: {@code __metadata__}'s keys and the like. */
    static final int MAX_OTHER_NAMES = 1024;
    /** A tensor name or metadata key of more characters is not GLM-4's (its longest names have under 80). */
    static final int MAX_NAME_CHARS = 1024;
    /** A string value the reader decodes (a dtype; __metadata__'s strings are skipped undecoded). */
    static final int MAX_STRING_CHARS = 1024;

    /** The header's parser: long names and strings are refused before they are buffered; duplicate tensors are caught as entries are kept. */
    private static final JsonFactory HEADER_JSON = JsonFactory.builder()
            // the symbol table of names grows its long-name area a slice at a time: thousands of distinct
            // tensor names cost it megabytes of copies; a new String per name costs about the name
            .disable(JsonFactory.Feature.CANONICALIZE_FIELD_NAMES)
            .streamReadConstraints(StreamReadConstraints.builder().maxNameLength(MAX_NAME_CHARS).maxStringLength(MAX_STRING_CHARS).build())
            .build();

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
    private final long[] scratch = new long[8];
    private final int maxTensors;

    private SafetensorsFile(Path path, MemorySegment file, int maxTensors) {
        this.path = path;
        this.file = file;
        this.maxTensors = maxTensors;
        long size = file.byteSize();
        if (size < 8) throw error("file is " + size + " bytes, too short for a safetensors header");
        long headerLen = file.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (headerLen < 2 || headerLen > size - 8 || headerLen > MAX_HEADER_BYTES) {
            throw error("header length " + Long.toUnsignedString(headerLen) + " is impossible (file has " + size
                    + " bytes; the limit is " + MAX_HEADER_BYTES + ")");
        }
        dataStart = 8 + headerLen;
        try (JsonParser parser = HEADER_JSON.createParser(new SegmentInput(file.asSlice(8, headerLen)))) {
            entries = Collections.unmodifiableMap(readEntries(parser, size - dataStart));
        } catch (JacksonException e) {
            throw error("header is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw error("cannot read header: " + e.getMessage());
        }
    }

    /** Maps {@code path} into {@code arena} (which owns the mapping) and reads its header. */
    public static SafetensorsFile open(Path path, Arena arena) {
        return open(path, arena, MAX_TENSORS);
    }

    /** As {@link #open(Path, Arena)}, refusing a header of more than {@code maxTensors} tensors (what a checkpoint's other shards left). */
    static SafetensorsFile open(Path path, Arena arena, int maxTensors) {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = channel.size();
            MemorySegment file = size == 0 ? MemorySegment.ofArray(new byte[0])
                    : channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            return new SafetensorsFile(path, file, maxTensors);
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

    /**
     * The header, read as a stream: a tree of it would cost 10 to 30 times its bytes in objects (about 1.5 KB
     * per tensor entry), so entries are checked and kept one at a time, and what is not kept is skipped.
     */
    private Map<String, Entry> readEntries(JsonParser p, long dataBytes) throws IOException {
        if (p.nextToken() != JsonToken.START_OBJECT) throw error("header is not a JSON object");
        Map<String, Entry> out = new LinkedHashMap<>();
        int[] names = {0};
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken value = p.nextToken();
            if (name.equals("__metadata__")) {
                skip(p, names);
                continue;
            }
            if (out.size() == maxTensors) {
                throw error("holds more than " + maxTensors + " tensors" + (maxTensors < MAX_TENSORS ? " (what the other shards left of "
                        + MAX_TENSORS + ")" : "") + "; a GLM-4 checkpoint has at most about 900, and this reader accepts at most " + MAX_TENSORS);
            }
            if (value != JsonToken.START_OBJECT) throw error("tensor " + name + ": header entry is not an object");
            Entry e = entry(p, name, dataBytes, names);
            if (out.putIfAbsent(name, e) != null) throw error("duplicate tensor " + name); // STRICT_DUPLICATE_DETECTION catches it first
        }
        if (p.currentToken() != JsonToken.END_OBJECT) throw error("header is not a JSON object");
        List<Entry> byOffset = new ArrayList<>(out.values());
        byOffset.sort(Comparator.comparingLong(Entry::begin));
        for (int i = 1; i < byOffset.size(); i++) {
            Entry prev = byOffset.get(i - 1), next = byOffset.get(i);
            if (prev.end() > next.begin()) throw error("tensors " + prev.name() + " and " + next.name() + " overlap");
        }
        return out;
    }

    /** One tensor entry, the parser on its START_OBJECT; fields other than the three are skipped. */
    private Entry entry(JsonParser p, String name, long dataBytes, int[] names) throws IOException {
        String dtype = null;
        long[] shape = null, offsets = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            JsonToken v = p.nextToken();
            switch (field) {
                case "dtype" -> {
                    dtype = v == JsonToken.VALUE_STRING ? knownDtype(p) : v.isScalarValue() ? p.getText() : null;
                    skip(p, names);
                }
                case "shape" -> shape = longs(p, name, field, -1);
                case "data_offsets" -> offsets = longs(p, name, field, 2);
                default -> {
                    countName(names);
                    skip(p, names);
                }
            }
        }
        GgmlType type = dtype(name, dtype);
        if (shape == null) throw error("tensor " + name + ": shape is missing, expected an array of non-negative integers");
        if (offsets == null) throw error("tensor " + name + ": data_offsets is missing, expected an array of 2 of non-negative integers");
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
        return new Entry(name, type, shape, begin, end);
    }

    /**
     * Skips the value the parser is on. Skipped values allocate nothing but their objects' member names,
     * which the parser decodes and remembers: those are counted, at most {@link #MAX_OTHER_NAMES} in a header.
     */
    private void skip(JsonParser p, int[] names) throws IOException {
        if (!p.currentToken().isStructStart()) return;
        int depth = 0;
        do {
            JsonToken t = p.currentToken();
            if (t.isStructStart()) depth++;
            else if (t.isStructEnd()) depth--;
            else if (t == JsonToken.FIELD_NAME) countName(names);
        } while (depth > 0 && p.nextToken() != null);
    }

    private void countName(int[] names) {
        if (++names[0] > MAX_OTHER_NAMES) {
            throw error("header has more than " + MAX_OTHER_NAMES + " names besides its tensors' (__metadata__ and unknown fields)");
        }
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

    /** An array of at most 8 non-negative integers (exactly {@code requiredLength} when that is not -1), the parser on its start. */
    private long[] longs(JsonParser p, String name, String field, int requiredLength) throws IOException {
        String expected = ", expected an array" + (requiredLength >= 0 ? " of " + requiredLength : "") + " of non-negative integers";
        if (p.currentToken() != JsonToken.START_ARRAY) {
            throw error("tensor " + name + ": " + field + " is " + describe(p) + expected);
        }
        long[] out = scratch;
        int n = 0;
        for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
            if (n == out.length) throw error("tensor " + name + ": " + field + " has more than " + out.length + " elements" + expected);
            if (t != JsonToken.VALUE_NUMBER_INT || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER || p.getLongValue() < 0) {
                throw error("tensor " + name + ": " + field + "[" + n + "] = " + describe(p) + " is not a non-negative integer");
            }
            out[n++] = p.getLongValue();
        }
        if (requiredLength >= 0 && n != requiredLength) throw error("tensor " + name + ": " + field + " has " + n + " elements" + expected);
        return Arrays.copyOf(out, n);
    }

    /** The dtype string the parser is on: one of the supported names without decoding it into a new String, else its text. */
    private static String knownDtype(JsonParser p) throws IOException {
        char[] c = p.getTextCharacters();
        int off = p.getTextOffset(), len = p.getTextLength();
        for (String known : DTYPES) {
            if (known.length() == len) {
                int i = 0;
                while (i < len && c[off + i] == known.charAt(i)) i++;
                if (i == len) return known;
            }
        }
        return p.getText();
    }

    private static final List<String> DTYPES = List.of("F32", "F16", "BF16");

    /** The value the parser is on, for a message: a scalar's text (cut short), or what kind of value it is. */
    private static String describe(JsonParser p) throws IOException {
        JsonToken t = p.currentToken();
        if (t == null) return "missing";
        if (t.isStructStart()) return t == JsonToken.START_OBJECT ? "an object" : "an array";
        String text = p.getText();
        return text.length() > 40 ? text.substring(0, 40) + "…" : text;
    }

    /** The mapped header as a stream, so that the parser reads it in its own small buffer instead of a copy. */
    private static final class SegmentInput extends InputStream {
        private final MemorySegment segment;
        private long pos;

        SegmentInput(MemorySegment segment) { this.segment = segment; }

        @Override
        public int read() {
            return pos < segment.byteSize() ? segment.get(ValueLayout.JAVA_BYTE, pos++) & 0xFF : -1;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            long left = segment.byteSize() - pos;
            if (left <= 0) return len == 0 ? 0 : -1;
            int n = (int) Math.min(len, left);
            MemorySegment.copy(segment, ValueLayout.JAVA_BYTE, pos, b, off, n);
            pos += n;
            return n;
        }
    }

    private ModelFormatException error(String message) {
        return new ModelFormatException(path + ": " + message);
    }
}
