package io.sparkglm.model;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A GGUF file (llama.cpp's format, versions 2 and 3): metadata, tensor table, and tensor data
 * memory-mapped through the FFM API (files of any size, no copy; one slice per tensor).
 *
 * <p>Layout: magic "GGUF", u32 version, u64 tensor count, u64 metadata count, the metadata key/values,
 * the tensor infos (name, n_dims, ne[], type, offset), padding to {@code general.alignment}, data.
 *
 * <p>The file is untrusted: every count, length and offset is checked against the bytes that remain
 * before it is used, so a hostile or truncated file ends in a {@link ModelFormatException} naming the
 * problem, never in a huge allocation or an out-of-bounds read.
 */
public final class GgufFile implements AutoCloseable {

    private static final int MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
    private static final int MAX_DIMS = 4;
    private static final int MAX_ARRAY_NESTING = 8;
    /** Arrays inside arrays, in the whole file: no real model has any; each costs an object beyond its bytes. */
    static final int MAX_NESTED_ARRAYS = 1 << 14;
    private static final int DEFAULT_ALIGNMENT = 32;

    /**
     * Tensors a GGUF may declare. GLM-4's largest dense checkpoint (GLM-4-32B, 61 layers of about 14 tensors)
     * has under 900; glm-4-9b has under 450. Each entry costs about 260 bytes of Java objects for about 35
     * bytes of file, so without a cap a file of small entries allocates several times its size.
     */
    public static final int MAX_TENSORS = 4096;
    /** Metadata keys a GGUF may declare: a GLM-4 file has about 40; each costs about 220 bytes of objects. */
    public static final int MAX_METADATA_KEYS = 1024;
    /**
     * Bytes of a metadata key or tensor name. GGUF's real keys and GLM-4's tensor names are under 64 bytes
     * (llama.cpp itself rejects tensor names of 64 bytes or more); decoded, a name costs up to twice its bytes.
     */
    public static final int MAX_NAME_BYTES = 256;
    /**
     * Bytes of one string metadata value (not of string arrays, which are kept as one blob and decoded on access).
     * The longest real ones are chat templates of a few KiB; decoding copies the bytes and, for invalid UTF-8, makes
     * two bytes of String per byte, so an unbounded value would allocate three times its share of the file.
     */
    public static final int MAX_STRING_BYTES = 1 << 20;

    private final Path path;
    private final Arena arena;
    private final MemorySegment file;
    private final int version;
    private final Map<String, Object> metadata;
    private final Map<String, GgufValueType> types;
    private final List<GgufTensorInfo> tensors;
    private final Map<String, GgufTensorInfo> tensorsByName;
    private final int alignment;
    private final long dataStart;

    private GgufFile(Path path, Arena arena, MemorySegment file) {
        this.path = path;
        this.arena = arena;
        this.file = file;
        Reader in = new Reader(file, path);

        int magic = in.i32("magic");
        if (magic != MAGIC) {
            throw in.error(String.format("not a GGUF file: magic is 0x%08x, expected 0x%08x (\"GGUF\")", magic, MAGIC));
        }
        version = in.i32("version");
        if (version != 2 && version != 3) {
            throw in.error("unsupported GGUF version " + Integer.toUnsignedString(version) + " (this reader knows 2 and 3)");
        }
        long tensorCount = in.count("tensor count", 8 + 4 + 4 + 8, 0);
        long kvCount = in.count("metadata count", 8 + 4 + 1, 0);
        if (tensorCount > MAX_TENSORS) {
            throw in.error("declares " + tensorCount + " tensors; a GLM-4 checkpoint has at most about 900, and this reader accepts at most "
                    + MAX_TENSORS);
        }
        if (kvCount > MAX_METADATA_KEYS) {
            throw in.error("declares " + kvCount + " metadata keys; a GLM-4 file has about 40, and this reader accepts at most "
                    + MAX_METADATA_KEYS);
        }

        Map<String, Object> values = new LinkedHashMap<>();
        Map<String, GgufValueType> valueTypes = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String key = in.name("metadata key", i);
            int typeId = in.i32("type of ", key);
            GgufValueType type = GgufValueType.byId(typeId);
            if (type == null) throw in.error("metadata " + key + " has unknown value type id " + Integer.toUnsignedString(typeId));
            Object value = in.value(type, key, 0);
            if (values.putIfAbsent(key, value) != null) throw in.error("duplicate metadata key " + key);
            valueTypes.put(key, type);
        }
        metadata = Collections.unmodifiableMap(values);
        types = Collections.unmodifiableMap(valueTypes);
        alignment = readAlignment();

        List<GgufTensorInfo> infos = new ArrayList<>();
        Map<String, GgufTensorInfo> byName = new LinkedHashMap<>();
        for (long i = 0; i < tensorCount; i++) {
            GgufTensorInfo info = in.tensorInfo(i, alignment);
            if (byName.putIfAbsent(info.name(), info) != null) throw in.error("duplicate tensor name " + info.name());
            infos.add(info);
        }
        long headerEnd = in.position();
        dataStart = alignUp(headerEnd, alignment);
        if (tensorCount > 0 && dataStart > file.byteSize()) {
            throw in.error("tensor data would start at " + dataStart + ", past the end of the file (" + file.byteSize() + " bytes)");
        }
        checkTensorsFit(infos);
        tensors = List.copyOf(infos);
        tensorsByName = Collections.unmodifiableMap(byName);
    }

    /** Opens and maps {@code path}; the mapping lives until {@link #close()}. */
    public static GgufFile open(Path path) {
        Arena arena = Arena.ofShared();
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = channel.size();
            MemorySegment file = size == 0 ? MemorySegment.ofArray(new byte[0])
                    : channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            return new GgufFile(path, arena, file);
        } catch (IOException e) {
            arena.close();
            throw new ModelFormatException(path + ": cannot read GGUF file: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** Whether the file starts with the GGUF magic (a cheap sniff, no parsing). */
    public static boolean looksLikeGguf(Path path) {
        if (!Files.isRegularFile(path)) return false;
        try (var in = Files.newInputStream(path)) {
            byte[] head = in.readNBytes(4);
            return head.length == 4 && head[0] == 'G' && head[1] == 'G' && head[2] == 'U' && head[3] == 'F';
        } catch (IOException e) {
            return false;
        }
    }

    public Path path() { return path; }

    public int version() { return version; }

    public long fileSize() { return file.byteSize(); }

    public int alignment() { return alignment; }

    /** Absolute file offset where the tensor data section begins. */
    public long dataStart() { return dataStart; }

    /** Every metadata key/value in file order; arrays are read-only {@link GgufArray}s. */
    public Map<String, Object> metadata() { return metadata; }

    /** The GGUF type a metadata value was stored with (to copy it faithfully). */
    public Optional<GgufValueType> typeOf(String key) { return Optional.ofNullable(types.get(key)); }

    public Optional<Object> get(String key) { return Optional.ofNullable(metadata.get(key)); }

    public String getString(String key) {
        if (require(key) instanceof String s) return s;
        throw wrongType(key, "a string");
    }

    public List<String> getStringList(String key) {
        if (require(key) instanceof GgufArray a) {
            List<String> strings = a.toStringListOrNull();
            if (strings != null) return strings;
        }
        throw wrongType(key, "an array of strings");
    }

    public int[] getIntArray(String key) {
        if (require(key) instanceof GgufArray a) {
            int[] ints = a.toIntArrayOrNull();
            if (ints != null) return ints;
        }
        throw wrongType(key, "an array of integers that fit in an int");
    }

    public float[] getFloatArray(String key) {
        if (require(key) instanceof GgufArray a) {
            float[] floats = a.toFloatArrayOrNull();
            if (floats != null) return floats;
        }
        throw wrongType(key, "an array of floats");
    }

    /** An integer of any GGUF integer type. */
    public long getLong(String key) {
        Object v = require(key);
        if (v instanceof Integer i) return i;
        if (v instanceof Long l) return l;
        throw wrongType(key, "an integer");
    }

    /** An integer that must fit in an int. */
    public int getInt(String key) {
        long v = getLong(key);
        if (v != (int) v) throw new ModelFormatException(path + ": metadata " + key + " = " + v + " does not fit in an int");
        return (int) v;
    }

    /** A float (f32 or f64). */
    public float getFloat(String key) {
        Object v = require(key);
        if (v instanceof Float f) return f;
        if (v instanceof Double d) return d.floatValue();
        throw wrongType(key, "a float");
    }

    public boolean getBoolean(String key) {
        if (require(key) instanceof Boolean b) return b;
        throw wrongType(key, "a bool");
    }

    /** Tensor infos in file order. */
    public List<GgufTensorInfo> tensors() { return tensors; }

    public Optional<GgufTensorInfo> tensorInfo(String name) { return Optional.ofNullable(tensorsByName.get(name)); }

    /** The tensor's bytes: a slice of the mapping, valid until {@link #close()}. */
    public MemorySegment tensorData(GgufTensorInfo info) {
        if (tensorsByName.get(info.name()) != info && !info.equals(tensorsByName.get(info.name()))) {
            throw new IllegalArgumentException(info.name() + " is not a tensor of " + path);
        }
        return file.asSlice(dataStart + info.offset(), info.byteSize());
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) arena.close();
    }

    // ---- validation ----

    private int readAlignment() {
        Object a = metadata.get("general.alignment");
        if (a == null) return DEFAULT_ALIGNMENT;
        if (!(a instanceof Long || a instanceof Integer)) throw wrongType("general.alignment", "an integer");
        long v = ((Number) a).longValue();
        if (v <= 0 || v > (1 << 30) || Long.bitCount(v) != 1) {
            throw new ModelFormatException(path + ": general.alignment " + v + " is not a power of two");
        }
        return (int) v;
    }

    private void checkTensorsFit(List<GgufTensorInfo> infos) {
        long dataBytes = file.byteSize() - Math.min(dataStart, file.byteSize());
        for (GgufTensorInfo t : infos) {
            if (t.offset() > dataBytes || t.byteSize() > dataBytes - t.offset()) {
                throw new ModelFormatException(path + ": tensor " + t.name() + " (offset " + t.offset() + ", "
                        + t.byteSize() + " bytes) runs past the end of the file (data section has " + dataBytes + " bytes)");
            }
        }
        List<GgufTensorInfo> byOffset = new ArrayList<>(infos);
        byOffset.sort(Comparator.comparingLong(GgufTensorInfo::offset));
        for (int i = 1; i < byOffset.size(); i++) {
            GgufTensorInfo prev = byOffset.get(i - 1), next = byOffset.get(i);
            if (prev.offset() + prev.byteSize() > next.offset()) {
                throw new ModelFormatException(path + ": tensors " + prev.name() + " and " + next.name() + " overlap");
            }
        }
    }

    private Object require(String key) {
        Object v = metadata.get(key);
        if (v == null) throw new ModelFormatException(path + ": missing metadata " + key);
        return v;
    }

    private ModelFormatException wrongType(String key, String expected) {
        return new ModelFormatException(path + ": metadata " + key + " is " + describe(key) + ", expected " + expected);
    }

    private String describe(String key) {
        Object v = metadata.get(key);
        if (v instanceof GgufArray a) return "an array of " + a.size() + " " + a.elementType();
        return types.get(key) + " " + v;
    }

    static long alignUp(long offset, long alignment) {
        return Math.addExact(offset, alignment - 1) / alignment * alignment;
    }

    /** A bounds-checked little-endian cursor over the mapped file. */
    private static final class Reader {
        private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

        private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

        private final MemorySegment seg;
        private final Path path;
        private final byte[] scratch = new byte[256];
        private long pos;
        private int nestedArrays;

        Reader(MemorySegment seg, Path path) {
            this.seg = seg;
            this.path = path;
        }

        long position() { return pos; }

        long remaining() { return seg.byteSize() - pos; }

        ModelFormatException error(String message) {
            return new ModelFormatException(path + ": " + message);
        }

        /**
         * What a read is for, put together only when it fails (a string per read would cost more than the
         * values it reads): {@code what + subject}, then {@code #index} or, for an array element, {@code [index]}.
         */
        private static String label(String what, String subject, long index, boolean element) {
            return what + (subject == null ? "" : subject) + (index < 0 ? "" : element ? "[" + index + "]" : " #" + index);
        }

        private void need(long bytes, String what) {
            need(bytes, what, null);
        }

        private void need(long bytes, String what, String subject) {
            if (bytes < 0 || bytes > remaining()) {
                throw error("truncated: " + label(what, subject, -1, false) + " needs " + bytes + " bytes at offset " + pos + ", but the file has "
                        + seg.byteSize() + " bytes");
            }
        }

        int i32(String what) {
            return i32(what, null);
        }

        int i32(String what, String subject) {
            need(4, what, subject);
            int v = seg.get(I32, pos);
            pos += 4;
            return v;
        }

        long i64(String what) {
            return i64(what, null);
        }

        long i64(String what, String subject) {
            need(8, what, subject);
            long v = seg.get(I64, pos);
            pos += 8;
            return v;
        }

        /** A u64 count whose entries take at least {@code minBytesEach}: bounded by what remains of the file. */
        long count(String what, long minBytesEach, long extraBytes) {
            long n = i64(what);
            long fits = Math.max(0, remaining() - extraBytes) / minBytesEach;
            if (n < 0 || n > fits) {
                throw error(what + " " + Long.toUnsignedString(n) + " is impossible: the " + remaining()
                        + " bytes left in the file hold at most " + fits);
            }
            return n;
        }

        String string(String what) {
            return string(what, null, -1, false);
        }

        String string(String what, String subject, long index, boolean element) {
            int len = stringLength(what, subject, index, element);
            if (len > MAX_STRING_BYTES) {
                throw error(label(what, subject, index, element) + ": a string of " + len + " bytes; the limit is "
                        + MAX_STRING_BYTES);
            }
            if (len == 0) return "";
            String s;
            if (len <= scratch.length) {
                MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, pos, scratch, 0, len);
                s = new String(scratch, 0, len, StandardCharsets.UTF_8);
            } else {
                s = new String(seg.asSlice(pos, len).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
            }
            pos += len;
            return s;
        }

        /** A metadata key or tensor name: a string of at most {@link #MAX_NAME_BYTES}. */
        String name(String what, long index) {
            long at = pos;
            if (8 <= remaining()) {
                long len = seg.get(I64, pos);
                if (len > MAX_NAME_BYTES && len <= remaining() - 8) {
                    throw error(label(what, null, index, false) + " at offset " + at + " is " + len + " bytes long; the limit is "
                            + MAX_NAME_BYTES);
                }
            }
            return string(what, null, index, false);
        }

        /** Reads a string's u64 length and checks it against the file. */
        private int stringLength(String what, String subject, long index, boolean element) {
            if (8 > remaining()) need(8, "length of " + label(what, subject, index, element));
            long len = i64("length");
            if (len < 0 || len > remaining()) {
                throw error(label(what, subject, index, element) + ": string length " + Long.toUnsignedString(len)
                        + " runs past the end of the file (" + remaining() + " bytes left at offset " + pos + ")");
            }
            if (len > Integer.MAX_VALUE - 16) throw error(label(what, subject, index, element) + ": string length " + len + " is too long");
            return (int) len;
        }

        Object value(GgufValueType type, String key, int depth) {
            return switch (type) {
                case UINT8 -> Byte.toUnsignedInt(i8(key));
                case INT8 -> (int) i8(key);
                case UINT16 -> Short.toUnsignedInt(i16(key));
                case INT16 -> (int) i16(key);
                case UINT32 -> Integer.toUnsignedLong(i32(key));
                case INT32 -> i32(key);
                case FLOAT32 -> Float.intBitsToFloat(i32(key));
                case BOOL -> bool(key);
                case STRING -> string(key);
                case UINT64, INT64 -> i64(key);
                case FLOAT64 -> Double.longBitsToDouble(i64(key));
                case ARRAY -> array(key, depth);
            };
        }

        private byte i8(String what) {
            need(1, what);
            return seg.get(ValueLayout.JAVA_BYTE, pos++);
        }

        private short i16(String what) {
            need(2, what);
            short v = seg.get(I16, pos);
            pos += 2;
            return v;
        }

        private boolean bool(String key) {
            byte b = i8(key);
            if (b != 0 && b != 1) throw error("metadata " + key + ": bool byte is " + b + ", expected 0 or 1");
            return b == 1;
        }

        /**
         * An array, stored as compactly as the file holds it (see {@link GgufArray}): what it allocates is bounded
         * by its bytes in the file, plus a fixed cost per nested array, of which a file may have {@link #MAX_NESTED_ARRAYS}.
         */
        private GgufArray array(String key, int depth) {
            if (depth >= MAX_ARRAY_NESTING) throw error("metadata " + key + ": arrays nested deeper than " + MAX_ARRAY_NESTING);
            if (depth > 0 && ++nestedArrays > MAX_NESTED_ARRAYS) {
                throw error("metadata " + key + ": more than " + MAX_NESTED_ARRAYS + " nested arrays in the file");
            }
            int typeId = i32("element type of ", key);
            GgufValueType type = GgufValueType.byId(typeId);
            if (type == null) throw error("metadata " + key + ": unknown array element type id " + Integer.toUnsignedString(typeId));
            long n = i64("length of array ", key);
            long fits = remaining() / type.minBytes();
            if (n < 0 || n > fits) {
                throw error("metadata " + key + ": array length " + Long.toUnsignedString(n) + " of " + type
                        + " is impossible: the " + remaining() + " bytes left in the file hold at most " + fits);
            }
            if (n > Integer.MAX_VALUE - 16) throw error("metadata " + key + ": array length " + n + " is too long");
            int size = (int) n;
            Object storage = switch (type) {
                case UINT8, INT8 -> copy(ValueLayout.JAVA_BYTE, new byte[size]);
                case UINT16, INT16 -> copy(I16, new short[size]);
                case UINT32, INT32 -> copy(I32, new int[size]);
                case UINT64, INT64 -> copy(I64, new long[size]);
                case FLOAT32 -> copy(F32, new float[size]);
                case FLOAT64 -> copy(F64, new double[size]);
                case BOOL -> {
                    boolean[] a = new boolean[size];
                    for (int i = 0; i < size; i++) a[i] = bool(key);
                    yield a;
                }
                case STRING -> strings(key, size);
                case ARRAY -> {
                    // grown as elements parse: a lying length at each level of nesting must not allocate up front
                    GgufArray[] a = new GgufArray[Math.min(size, 64)];
                    for (int i = 0; i < size; i++) {
                        if (i == a.length) a = java.util.Arrays.copyOf(a, (int) Math.min(size, 2L * a.length));
                        a[i] = array(key, depth + 1); // no per-element name: it would cost more than the element
                    }
                    yield a;
                }
            };
            return new GgufArray(type, storage, size);
        }

        /** Fills {@code array} from the file at the cursor (the caller checked that the bytes are there). */
        private <A> A copy(ValueLayout layout, A array) {
            int n = java.lang.reflect.Array.getLength(array);
            if (n > 0) MemorySegment.copy(seg, layout, pos, array, 0, n);
            pos += n * layout.byteSize();
            return array;
        }

        /** {@code n} strings as one UTF-8 blob: a first pass checks the lengths, a second copies the bytes. */
        private GgufArray.Strings strings(String key, int n) {
            long start = pos, total = 0;
            for (int i = 0; i < n; i++) {
                int len = stringLength(key, null, i, true);
                total += len;
                pos += len;
            }
            if (total > Integer.MAX_VALUE - 16) throw error("metadata " + key + ": " + total + " bytes of strings is too long");
            byte[] utf8 = new byte[(int) total];
            int[] ends = new int[n];
            pos = start;
            int at = 0;
            for (int i = 0; i < n; i++) {
                int len = (int) seg.get(I64, pos);
                MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, pos + 8, utf8, at, len);
                at += len;
                ends[i] = at;
                pos += 8 + len;
            }
            return new GgufArray.Strings(utf8, ends);
        }

        GgufTensorInfo tensorInfo(long index, int alignment) {
            String name = name("name of tensor", index);
            int nDims = i32("dims of tensor ", name);
            if (nDims < 1 || nDims > MAX_DIMS) {
                throw error("tensor " + name + " has " + Integer.toUnsignedString(nDims) + " dimensions; GGUF allows 1 to " + MAX_DIMS);
            }
            long[] ne = new long[nDims];
            long elements = 1;
            for (int d = 0; d < nDims; d++) {
                ne[d] = i64(d == 0 ? "dimension 0 of tensor " : "a dimension of tensor ", name);
                if (ne[d] < 0) throw error("tensor " + name + " has negative dimension " + Long.toUnsignedString(ne[d]));
                try {
                    elements = Math.multiplyExact(elements, ne[d]);
                } catch (ArithmeticException e) {
                    throw error("tensor " + name + ": the element count of dimensions " + java.util.Arrays.toString(ne) + " overflows");
                }
            }
            int typeId = i32("type of tensor ", name);
            GgmlType type = GgmlType.byId(typeId);
            if (type == null) {
                throw error("tensor " + name + " has unsupported ggml type id " + Integer.toUnsignedString(typeId)
                        + " (supported: " + java.util.Arrays.toString(GgmlType.values()) + ")");
            }
            if (ne[0] % type.blockSize() != 0) {
                throw error("tensor " + name + ": row length " + ne[0] + " is not a multiple of the " + type
                        + " block size " + type.blockSize());
            }
            long offset = i64("offset of tensor ", name);
            if (offset < 0) throw error("tensor " + name + " has offset " + Long.toUnsignedString(offset) + ", beyond the file");
            if (offset % alignment != 0) {
                throw error("tensor " + name + " has offset " + offset + ", not a multiple of the alignment " + alignment);
            }
            long bytes;
            try {
                bytes = type.byteSize(elements);
            } catch (ArithmeticException e) {
                throw error("tensor " + name + ": byte size of " + elements + " " + type + " values overflows");
            }
            return new GgufTensorInfo(name, ne, type, offset, bytes);
        }
    }
}
