package io.sparkglm.model;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.testing.SharedFiles;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Malformed, truncated and hostile files: every one must end in a {@link ModelFormatException} whose
 * message names the problem, never in another exception, an OOM or a crash.
 */
class HostileFilesTest {

    @TempDir
    Path dir;

    private int fileNumber;

    /** Opens bytes as a model and returns the ModelFormatException it must throw; any other outcome fails. */
    private ModelFormatException rejects(byte[] bytes, String expectedInMessage) {
        Path file = write(bytes);
        Throwable thrown = assertThrows(Throwable.class, () -> ModelLoader.open(file).close());
        if (!(thrown instanceof ModelFormatException e)) throw new AssertionError("expected ModelFormatException, got " + thrown, thrown);
        assertTrue(Pattern.compile(expectedInMessage, Pattern.CASE_INSENSITIVE).matcher(e.getMessage()).find(),
                "message should mention /" + expectedInMessage + "/: " + e.getMessage());
        return e;
    }

    /** Loads or throws ModelFormatException; true when it loaded. */
    private boolean loadsOrRejectsCleanly(Path file) {
        try (Checkpoint ignored = ModelLoader.open(file)) {
            return true;
        } catch (ModelFormatException e) {
            assertFalse(e.getMessage().isBlank());
            return false;
        } catch (Throwable t) {
            throw new AssertionError(file + ": expected success or ModelFormatException, got " + t, t);
        }
    }

    private Path write(byte[] bytes) {
        try {
            return Files.write(dir.resolve("f" + (fileNumber++) + ".gguf"), bytes);
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    // ---- truncation and bit flips of the oracle files ----

    private static final String TRUNCATION = "truncated|past the end|impossible|too short|not a GGUF";

    @Test
    void truncatedAtEverySectionBoundaryAndAtRandomPoints() throws Exception {
        byte[] full = Files.readAllBytes(SharedFiles.tinyQ8());
        TreeSet<Long> boundaries = sectionBoundaries(SharedFiles.tinyQ8());
        TreeSet<Long> cuts = new TreeSet<>();
        for (long b : boundaries) cuts.addAll(List.of(b - 1, b, b + 1));
        for (long i = 0; i < 64; i++) cuts.add(i); // every byte of the fixed header and the first key
        Random random = new Random(11);
        for (int i = 0; i < 300; i++) cuts.add((long) random.nextInt(full.length));
        cuts.removeIf(c -> c < 0 || c >= full.length);
        assertTrue(boundaries.size() > 2 * 22 + 2 * 24, "a boundary per metadata entry, tensor info and tensor");
        Path file = dir.resolve("cut.gguf");
        for (long cut : cuts) {
            Files.write(file, Arrays.copyOf(full, (int) cut));
            Throwable thrown = assertThrows(Throwable.class, () -> ModelLoader.open(file).close(), "cut at " + cut);
            if (!(thrown instanceof ModelFormatException)) throw new AssertionError("cut at " + cut + ": " + thrown, thrown);
            assertTrue(Pattern.compile(TRUNCATION).matcher(thrown.getMessage()).find(), "cut at " + cut + ": " + thrown.getMessage());
        }
    }

    /** File offsets where each section ends: fixed header, each key, each value, each tensor info, padding, each tensor. */
    private static TreeSet<Long> sectionBoundaries(Path path) {
        TreeSet<Long> out = new TreeSet<>();
        try (GgufFile g = GgufFile.open(path)) {
            long at = 24;
            out.add(4L);
            out.add(8L);
            out.add(16L);
            out.add(at);
            for (var e : g.metadata().entrySet()) {
                at += 8 + e.getKey().getBytes(StandardCharsets.UTF_8).length;
                out.add(at);
                at += 4;
                out.add(at);
                at += encodedSize(g.typeOf(e.getKey()).orElseThrow(), e.getValue());
                out.add(at);
            }
            for (GgufTensorInfo t : g.tensors()) {
                at += 8 + t.name().getBytes(StandardCharsets.UTF_8).length + 4 + 8L * t.ne().length + 4 + 8;
                out.add(at);
            }
            assertEquals(g.dataStart(), GgufFile.alignUp(at, g.alignment()), "the walk reached the end of the tensor table");
            out.add(g.dataStart());
            for (GgufTensorInfo t : g.tensors()) {
                out.add(g.dataStart() + t.offset());
                out.add(g.dataStart() + t.offset() + t.byteSize());
            }
        }
        return out;
    }

    private static long encodedSize(GgufValueType type, Object value) {
        return switch (type) {
            case UINT8, INT8, BOOL -> 1;
            case UINT16, INT16 -> 2;
            case UINT32, INT32, FLOAT32 -> 4;
            case UINT64, INT64, FLOAT64 -> 8;
            case STRING -> 8 + ((String) value).getBytes(StandardCharsets.UTF_8).length;
            case ARRAY -> {
                GgufArray a = (GgufArray) value;
                long n = 12;
                for (Object element : a) n += encodedSize(a.elementType(), element);
                yield n;
            }
        };
    }

    @Test
    void randomByteFlipsLoadOrFailCleanly() throws Exception {
        byte[] full = Files.readAllBytes(SharedFiles.tinyF32());
        long dataStart;
        try (GgufFile g = GgufFile.open(SharedFiles.tinyF32())) {
            dataStart = g.dataStart();
        }
        Random random = new Random(1234);
        Path file = dir.resolve("flip.gguf");
        int rejected = 0;
        long started = System.nanoTime();
        for (int i = 0; i < 400; i++) {
            byte[] copy = full.clone();
            int flips = 1 + random.nextInt(3);
            for (int f = 0; f < flips; f++) {
                // mostly the header (where the structure is), sometimes the data
                int at = random.nextInt(10) < 9 ? random.nextInt((int) dataStart) : random.nextInt(copy.length);
                copy[at] ^= (byte) (1 << random.nextInt(8));
            }
            Files.write(file, copy);
            if (!loadsOrRejectsCleanly(file)) rejected++;
        }
        // every file is parsed in bounded time: no flip may make the loader crawl (a layer count of millions did)
        assertTrue(System.nanoTime() - started < 60_000_000_000L, "400 flipped files took over a minute");
        assertTrue(rejected > 40, "flips in lengths, counts and config must be caught; rejected " + rejected);
    }

    // ---- hand-made hostile headers ----

    /** A little-endian GGUF builder that lets a test write any (wrong) value anywhere. */
    private static final class Raw {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Raw u32(long v) { return bytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) v).array()); }

        Raw u64(long v) { return bytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array()); }

        Raw str(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            return u64(b.length).bytes(b);
        }

        Raw bytes(byte[] b) { out.writeBytes(b); return this; }

        Raw header(long tensors, long kvs) { return u32(0x46554747).u32(3).u64(tensors).u64(kvs); }

        Raw kvU32(String key, long v) { return str(key).u32(4).u32(v); }

        /** A tensor info: name, ne (ggml order), type id, offset. */
        Raw tensor(String name, long[] ne, int type, long offset) {
            str(name).u32(ne.length);
            for (long d : ne) u64(d);
            return u32(type).u64(offset);
        }

        byte[] padTo(int alignment, int dataBytes) {
            while (out.size() % alignment != 0) out.write(0);
            out.writeBytes(new byte[dataBytes]);
            return out.toByteArray();
        }

        byte[] done() { return out.toByteArray(); }
    }

    /**
     * Each tensor entry or metadata key costs Java objects several times its bytes (about 260 and 220 bytes for
     * 35 and 16 bytes of GGUF, 650 for 55 bytes of safetensors header): 300,000 of them in a few MB allocated tens
     * of MB. Their number is capped, and the rejection costs no more than the file plus a fixed allowance.
     */
    @Test
    void manySmallEntriesAreCappedWithinTheAllocationBound() throws Exception {
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        int n = 300_000;
        Raw tensors = new Raw().header(n, 0);
        for (int i = 0; i < n; i++) tensors.tensor(Integer.toString(i, 36), new long[] {0}, 0, 0);
        Raw keys = new Raw().header(0, n);
        for (int i = 0; i < n; i++) keys.str(Integer.toString(i, 36)).u32(0).bytes(new byte[] {1});
        StringBuilder json = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        for (int i = 0; i < n; i++) json.append(",\"").append(Integer.toString(i, 36)).append("\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}");
        byte[] header = json.append('}').toString().getBytes(StandardCharsets.UTF_8);
        byte[] safetensors = ByteBuffer.allocate(8 + header.length).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).put(header).array();
        Object[][] cases = {
            {tensors.padTo(32, 0), "declares 300000 tensors; a GLM-4 checkpoint has at most about 900, and this reader accepts at most " + GgufFile.MAX_TENSORS},
            {keys.padTo(32, 0), "declares 300000 metadata keys; .* at most " + GgufFile.MAX_METADATA_KEYS},
            {safetensors, "holds more than " + SafetensorsFile.MAX_TENSORS + " tensors"}};
        for (Object[] c : cases) {
            byte[] bytes = (byte[]) c[0];
            Path file = write(bytes);
            long before = threads.getCurrentThreadAllocatedBytes();
            Throwable thrown = assertThrows(Throwable.class, () -> {
                if (c == cases[2]) {
                    try (var arena = java.lang.foreign.Arena.ofConfined()) {
                        SafetensorsFile.open(file, arena);
                    }
                } else {
                    GgufFile.open(file).close();
                }
            });
            long allocated = threads.getCurrentThreadAllocatedBytes() - before;
            if (!(thrown instanceof ModelFormatException)) throw new AssertionError("expected ModelFormatException, got " + thrown, thrown);
            assertTrue(Pattern.compile((String) c[1]).matcher(thrown.getMessage()).find(), thrown.getMessage());
            assertTrue(allocated < bytes.length + ModelFuzzer.ALLOWANCE, allocated + " bytes allocated for a file of " + bytes.length);
        }
    }

    @Test
    void absurdCountsAndLengths() {
        rejects(new Raw().header(0, 1).str("arr").u32(9).u32(5).u64(1L << 60).done(), "array length 1152921504606846976.*impossible");
        rejects(new Raw().header(1L << 40, 0).done(), "tensor count 1099511627776 is impossible");
        rejects(new Raw().header(0, 1L << 50).done(), "metadata count .* is impossible");
        rejects(new Raw().header(0, 1).u64(1L << 62).bytes(new byte[16]).done(), "string length 4611686018427387904 runs past the end");
        rejects(new Raw().header(0, 1).str("s").u32(8).u64(-1L).bytes(new byte[16]).done(), "string length 18446744073709551615");
        rejects(new Raw().header(0, 1).str("s").u32(8).u64(100).bytes(new byte[10]).done(), "string length 100 runs past");
        // strings inside an array: the count fits, the lengths do not
        rejects(new Raw().header(0, 1).str("a").u32(9).u32(8).u64(2).u64(1L << 61).bytes(new byte[16]).done(), "a\\[0\\]: string length 2305843009213693952 runs past the end");
    }

    /**
     * Found by ModelFuzzer: dense metadata made the parser allocate many times the file (a name string per
     * array element, a boxed value per number, an int per u8, a String per empty string); now an array costs
     * about its own bytes, and arrays nested inside arrays are capped.
     */
    @Test
    void denseMetadataAllocatesAboutItsOwnBytes() {
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        int n = 1 << 20;
        Raw strings = new Raw().header(0, 1).str("s").u32(9).u32(8).u64(n);
        for (int i = 0; i < n; i++) strings.u64(0);
        Raw bytes = new Raw().header(0, 1).str("b").u32(9).u32(0).u64(4L * n).bytes(new byte[4 * n]);
        Raw longs = new Raw().header(0, 1).str("l").u32(9).u32(4).u64(n).bytes(new byte[4 * n]);
        for (Raw raw : List.of(strings, bytes, longs)) {
            Path file = write(raw.done());
            long before = threads.getCurrentThreadAllocatedBytes();
            try (GgufFile g = GgufFile.open(file)) {
                assertEquals(raw == bytes ? 4 * n : n, ((List<?>) g.metadata().values().iterator().next()).size());
            }
            long allocated = threads.getCurrentThreadAllocatedBytes() - before;
            assertTrue(allocated < raw.out.size() + (1 << 20), allocated + " bytes allocated for a file of " + raw.out.size());
        }
        // One huge string value of invalid UTF-8 would decode to two bytes of String per byte, after a copy.
        byte[] junk = new byte[2 * GgufFile.MAX_STRING_BYTES];
        Arrays.fill(junk, (byte) 0xff);
        Raw huge = new Raw().header(0, 1).str("template").u32(8).u64(junk.length).bytes(junk);
        long before = threads.getCurrentThreadAllocatedBytes();
        rejects(huge.done(), "template: a string of " + junk.length + " bytes; the limit is " + GgufFile.MAX_STRING_BYTES);
        assertTrue(threads.getCurrentThreadAllocatedBytes() - before < huge.out.size() + (1 << 20), "allocated for a rejected string");
        Raw nested = new Raw().header(0, 1).str("n").u32(9).u32(9).u64(GgufFile.MAX_NESTED_ARRAYS + 1);
        for (int i = 0; i <= GgufFile.MAX_NESTED_ARRAYS; i++) nested.u32(4).u64(0);
        rejects(nested.done(), "metadata n: more than 16384 nested arrays in the file");
    }

    @Test
    void badTypesAndStructure() {
        rejects(new Raw().u32(0x12345678).u32(3).u64(0).u64(0).done(), "not a GGUF file");
        rejects(new Raw().u32(0x46554747).u32(4).u64(0).u64(0).done(), "unsupported GGUF version 4");
        rejects(new Raw().header(0, 1).str("k").u32(13).done(), "unknown value type id 13");
        rejects(new Raw().header(0, 1).str("k").u32(9).u32(77).u64(1).done(), "unknown array element type id 77");
        rejects(new Raw().header(0, 1).str("k").u32(7).bytes(new byte[] {2}).done(), "bool byte is 2");
        rejects(new Raw().header(0, 2).kvU32("k", 1).kvU32("k", 2).done(), "duplicate metadata key k");
        rejects(new Raw().header(0, 1).kvU32("general.alignment", 48).done(), "alignment 48 is not a power of two");
        Raw deep = new Raw().header(0, 1).str("deep").u32(9);
        for (int i = 0; i < 20; i++) deep.u32(9).u64(1);
        rejects(deep.u32(4).u64(0).done(), "nested deeper");
    }

    @Test
    void badTensorInfos() {
        rejects(new Raw().header(1, 0).tensor("t", new long[] {32}, 3, 0).padTo(32, 64), "tensor t has unsupported ggml type id 3");
        rejects(new Raw().header(1, 0).tensor("t", new long[] {32}, 999, 0).padTo(32, 64), "tensor t .*type id 999");
        rejects(new Raw().header(1, 0).tensor("t", new long[] {1, 1, 1, 1, 1}, 0, 0).padTo(32, 64), "tensor t has 5 dimensions");
        rejects(new Raw().header(1, 0).tensor("t", new long[] {1L << 32, 1L << 32}, 0, 0).padTo(32, 64), "tensor t.*overflows");
        rejects(new Raw().header(1, 0).tensor("t", new long[] {1L << 31, 1L << 31}, 0, 0).padTo(32, 64), "tensor t.*overflows");
        rejects(new Raw().header(1, 0).tensor("t", new long[] {-4}, 0, 0).padTo(32, 64), "tensor t has negative dimension");
        rejects(new Raw().header(1, 0).tensor("t", new long[] {8}, 0, 1L << 40).padTo(32, 64), "tensor t .*runs past the end");
        rejects(new Raw().header(1, 0).tensor("t", new long[] {8}, 0, -32).padTo(32, 64), "tensor t has offset 18446744073709551584");
        rejects(new Raw().header(1, 0).tensor("t", new long[] {64}, 0, 0).padTo(32, 64), "tensor t .*runs past the end");
        rejects(new Raw().header(1, 0).tensor("t", new long[] {8}, 0, 4).padTo(32, 64), "offset 4, not a multiple of the alignment 32");
        rejects(new Raw().header(1, 0).tensor("t", new long[] {33}, 8, 0).padTo(32, 64), "row length 33 is not a multiple of the Q8_0 block size");
        rejects(new Raw().header(2, 0).tensor("t", new long[] {8}, 0, 0).tensor("t", new long[] {8}, 0, 32).padTo(32, 64),
                "duplicate tensor name t");
        rejects(new Raw().header(2, 0).tensor("a", new long[] {16}, 0, 0).tensor("b", new long[] {8}, 0, 32).padTo(32, 64),
                "tensors a and b overlap");
        rejects(new Raw().header(1, 0).tensor("t", new long[] {8}, 0, 0).done(), "past the end");
    }

    @Test
    void configContradictions() throws Exception {
        // a well-formed file whose tensors contradict its metadata: wrong ffn in the metadata
        Path good = dir.resolve("good.gguf");
        TinyModels.writeGguf(new TinyModels.Spec(64, 2, 4, 2, 96, 300, 5e6, GgmlType.F32, 1, 512), good, null);
        byte[] bytes = Files.readAllBytes(good);
        byte[] key = "chatglm.feed_forward_length".getBytes(StandardCharsets.UTF_8);
        int at = indexOf(bytes, key) + key.length + 4; // skip the type id to the u32 value
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putInt(at, 97);
        var e = rejects(bytes, "tensor blk.0.ffn_up.weight has shape \\[192, 64\\], expected \\[194, 64\\]");
        assertTrue(e.getMessage().contains("ffn_down"), e.getMessage());

        byte[] arch = Files.readAllBytes(good);
        int a = indexOf(arch, "chatglm".getBytes(StandardCharsets.UTF_8), indexOf(arch, "general.architecture".getBytes(StandardCharsets.UTF_8)));
        arch[a] = 'x';
        rejects(arch, "general.architecture is \"xhatglm\", expected \"chatglm\"");

        byte[] heads = Files.readAllBytes(good);
        byte[] kvKey = "chatglm.attention.head_count_kv".getBytes(StandardCharsets.UTF_8);
        ByteBuffer.wrap(heads).order(ByteOrder.LITTLE_ENDIAN).putInt(indexOf(heads, kvKey) + kvKey.length + 4, 3);
        rejects(heads, "heads \\(4\\) is not a multiple of kvHeads \\(3\\)");
    }

    /** Found by ModelFuzzer: a vocabulary beyond an int (in zero bytes, with zero columns) threw ArithmeticException. */
    @Test
    void embeddingWithMoreRowsThanAnInt() throws Exception {
        Path good = dir.resolve("good.gguf");
        TinyModels.writeGguf(new TinyModels.Spec(64, 1, 4, 2, 96, 300, 5e6, GgmlType.F32, 1, 512), good, null);
        byte[] bytes = Files.readAllBytes(good);
        byte[] name = "token_embd.weight".getBytes(StandardCharsets.UTF_8);
        int ne = indexOf(bytes, name) + name.length + 4; // past the name and n_dims: ne[0] (columns), ne[1] (rows)
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(ne, 0).putLong(ne + 8, 1L << 40);
        rejects(bytes, "tensor token_embd.weight has 1099511627776 rows, more vocabulary entries than an int holds");
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        return indexOf(haystack, needle, 0);
    }

    private static int indexOf(byte[] haystack, byte[] needle, int from) {
        outer:
        for (int i = from; i <= haystack.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) if (haystack[i + j] != needle[j]) continue outer;
            return i;
        }
        throw new AssertionError("not found: " + new String(needle, StandardCharsets.UTF_8));
    }

    // ---- safetensors ----

    private Path hfFolder(Consumer<Path> corrupt) throws Exception {
        Path folder = dir.resolve("hf" + (fileNumber++));
        TinyModels.writeHf(new TinyModels.Spec(64, 1, 2, 1, 64, 272, 5e6, GgmlType.F32, 1, 512), folder, 1, null);
        corrupt.accept(folder.resolve("model.safetensors"));
        return folder;
    }

    private static void rewriteHeader(Path shard, String from, String to) {
        try {
            byte[] b = Files.readAllBytes(shard);
            long n = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
            String header = new String(b, 8, (int) n, StandardCharsets.UTF_8);
            String changed = header.replaceFirst(from, to);
            assertNotEquals(header, changed, "pattern " + from + " not found");
            byte[] h = changed.getBytes(StandardCharsets.UTF_8);
            ByteBuffer out = ByteBuffer.allocate(8 + h.length + b.length - 8 - (int) n).order(ByteOrder.LITTLE_ENDIAN);
            out.putLong(h.length).put(h).put(b, 8 + (int) n, b.length - 8 - (int) n);
            Files.write(shard, out.array());
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    private void hfRejects(Path folder, String expected) {
        Throwable thrown = assertThrows(Throwable.class, () -> ModelLoader.open(folder).close());
        if (!(thrown instanceof ModelFormatException)) throw new AssertionError("expected ModelFormatException, got " + thrown, thrown);
        assertTrue(Pattern.compile(expected).matcher(thrown.getMessage()).find(), "should mention /" + expected + "/: " + thrown.getMessage());
    }

    @Test
    void hostileSafetensors() throws Exception {
        hfRejects(hfFolder(f -> patchLong(f, 0, 1L << 62)), "header length 4611686018427387904 is impossible");
        hfRejects(hfFolder(f -> patchLong(f, 0, 3)), "not valid JSON");
        hfRejects(hfFolder(f -> rewriteHeader(f, "\"dtype\":\"F32\"", "\"dtype\":\"I8\"")), "has dtype I8; supported");
        hfRejects(hfFolder(f -> rewriteHeader(f, "\"data_offsets\":\\[0,", "\"data_offsets\":[4,")), "bytes for F32.*expected");
        hfRejects(hfFolder(f -> rewriteHeader(f, "\"shape\":\\[272,64\\]", "\"shape\":[4294967296,4294967296]")), "overflows");
        hfRejects(hfFolder(f -> rewriteHeader(f, "\"data_offsets\":\\[0,69632\\]", "\"data_offsets\":[0,99999999999]")), "outside the data section");
        hfRejects(hfFolder(f -> rewriteHeader(f, "\"shape\":\\[272,64\\],\"data_offsets\":\\[0,69632\\]",
                "\"shape\":[272,64],\"data_offsets\":[256,69888]")), "overlap");
        hfRejects(hfFolder(f -> rewriteHeader(f, "\"transformer.output_layer.weight\"", "\"transformer.mystery.weight\"")),
                "transformer.mystery.weight is not part of a GLM-4 checkpoint");
        hfRejects(hfFolder(f -> rewriteHeader(f, "\"transformer.output_layer.weight\"", "\"transformer.rotary_pos_emb.inv_freq\"")),
                "missing tensor output.weight");
        hfRejects(hfFolder(f -> rewriteHeader(f, "\"shape\":\\[272,64\\]", "\"shape\":[-272,64]")), "not a non-negative integer");
        Path indexed = hfFolder(f -> {});
        Files.writeString(indexed.resolve("model.safetensors.index.json"),
                "{\"weight_map\": {\"transformer.output_layer.weight\": \"../../etc/passwd\"}}");
        hfRejects(indexed, "expected a shard file name in the same folder");
        // found by ModelFuzzer: a NUL in a shard name threw InvalidPathException from Path.resolve
        Files.writeString(indexed.resolve("model.safetensors.index.json"), "{\"weight_map\": {\"x\": \"model\\u0000.safetensors\"}}");
        hfRejects(indexed, "tensor x maps to \"model\\\\0.safetensors\", which is not a valid file name");
        Files.writeString(indexed.resolve("model.safetensors.index.json"), "{\"weight_map\": {\"x\": \"gone.safetensors\"}}");
        hfRejects(indexed, "shard gone.safetensors .* does not exist");
        Path noWeights = hfFolder(f -> {
            try {
                Files.delete(f);
            } catch (java.io.IOException e) {
                throw new AssertionError(e);
            }
        });
        hfRejects(noWeights, "no model.safetensors");
    }

    /** Found by ModelFuzzer: a layer number beyond an int threw NumberFormatException from the name mapping. */
    @Test
    void layerNumbersBeyondAnIntAreRejected() throws Exception {
        hfRejects(hfFolder(f -> rewriteHeader(f, "\"transformer.output_layer.weight\"", "\"model.layers.2147483648.mlp.down_proj.weight\"")),
                "model.layers.2147483648.mlp.down_proj.weight has layer number 2147483648, which is out of range");
        hfRejects(hfFolder(f -> rewriteHeader(f, "\"transformer.output_layer.weight\"",
                "\"transformer.encoder.layers.99999999999999999999.input_layernorm.weight\"")), "layer number 99999999999999999999");
        // leading zeros are still a small number: layer 0's norm named twice is a clash, not an overflow
        hfRejects(hfFolder(f -> rewriteHeader(f, "\"transformer.output_layer.weight\"",
                "\"transformer.encoder.layers.0000000000000.input_layernorm.weight\"")), "both map to blk.0.attn_norm.weight");
    }

    @Test
    void truncatedSafetensorsAtRandomPoints() throws Exception {
        Path folder = hfFolder(f -> {});
        Path shard = folder.resolve("model.safetensors");
        byte[] full = Files.readAllBytes(shard);
        Random random = new Random(77);
        for (int i = 0; i < 150; i++) {
            int cut = i < 50 ? random.nextInt(Math.min(full.length, 4096)) : random.nextInt(full.length);
            Files.write(shard, Arrays.copyOf(full, cut));
            hfRejects(folder, "too short|impossible|outside the data section|not valid JSON|missing tensor|truncated");
        }
    }

    private static void patchLong(Path file, int at, long value) {
        try {
            byte[] b = Files.readAllBytes(file);
            ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(at, value);
            Files.write(file, b);
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }
}
