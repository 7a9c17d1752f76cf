package io.sparkglm.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sparkglm.tokenizer.GlmTokenizer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A seeded structure-aware fuzzer of the model loaders. From small valid seeds (tiny GGUF files and
 * Hugging Face folders written here with {@link TinyModels} and {@link GgufWriter}) it derives mutated
 * files: lying header counts, string and array lengths, value and tensor types, nested and dense arrays,
 * tensor dimensions and offsets, alignment keys, duplicate keys and names, broken tokenizer vocabularies;
 * for safetensors lying header lengths, invalid or deeply nested JSON, huge numbers, invalid UTF-8, wrong
 * dtypes, shapes and data_offsets, odd {@code __metadata__}, broken config.json and shard indexes; plus
 * truncations, byte flips and splices. Case {@code i} of seed {@code s} is always the same file.
 *
 * <p>Each case is loaded the way a real load does ({@link ModelLoader#open}, and for a GGUF also
 * {@link GlmTokenizer#load}) on a worker thread, and must end in success or a {@link ModelFormatException}
 * with a message; anything else (another exception, an Error such as OutOfMemoryError or
 * StackOverflowError), running past the time limit, or allocating more than the case's file bytes plus
 * {@link #ALLOWANCE} on the loading thread is a failure.
 *
 * <p>{@code bin/fuzz-models} runs the full corpus through {@link #main}.
 */
public final class ModelFuzzer implements AutoCloseable {

    /**
     * Heap bytes a load may allocate beyond the size of the file(s) it reads: the fixed costs of a load that
     * do not grow with a hostile file, measured on the seeds: Jackson's parser buffers and tree for a
     * header or config.json (tens of KB), the tokenizer's tables for a seed's ~300 tokens (a few hundred KB),
     * the exception and its message, and class initialisation the first time a code path runs. The seeds are
     * 20-80 KB; 4 MiB leaves room for those without hiding an allocation that grows with a lying count.
     */
    public static final long ALLOWANCE = 4L << 20;

    public static final long DEFAULT_TIMEOUT_MS = 10_000;

    public enum Kind { GGUF, SAFETENSORS }

    /** What one case did; {@code failure} is null when the case passed. */
    public record Outcome(Kind kind, long seed, int index, String mutation, long fileBytes, boolean loaded,
                          String rejection, boolean tokenizerLoaded, String tokenizerRejection, String failure,
                          long nanos, long allocated) {

        public String replay() {
            return "--seed " + seed + " --replay " + kind.name().toLowerCase() + ":" + index;
        }

        @Override
        public String toString() {
            return kind + " case " + index + " (seed " + seed + ", replay: bin/fuzz-models " + replay() + ")\n  mutation: "
                    + mutation + "\n  file bytes " + fileBytes + ", allocated " + allocated + ", " + nanos / 1_000_000 + " ms"
                    + (loaded ? ", loaded" : ", rejected: " + rejection)
                    + (failure == null ? "" : "\n  FAILURE: " + failure);
        }
    }

    private static final int MAGIC = 0x46554747;
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private final Path work;
    private final long seed;
    private final long timeoutMs;
    private final List<GgufSeed> ggufSeeds = new ArrayList<>();
    private final List<HfSeed> hfSeeds = new ArrayList<>();
    private ExecutorService worker = newWorker();

    /** Writes the seeds into {@code work} (a scratch folder the caller owns) and checks that each loads. */
    public ModelFuzzer(Path work, long seed, long timeoutMs) throws IOException {
        this.work = work;
        this.seed = seed;
        this.timeoutMs = timeoutMs;
        if (!THREADS.isThreadAllocatedMemorySupported()) throw new IllegalStateException("this JVM cannot count allocated bytes");
        THREADS.setThreadAllocatedMemoryEnabled(true);
        makeSeeds();
        // warm every loader path once, so class initialisation is not charged to the first cases
        for (GgufSeed s : ggufSeeds) {
            Outcome o = check(Kind.GGUF, -1, "seed " + s.name, Map.of("seed.gguf", s.bytes));
            if (!o.loaded || !o.tokenizerLoaded || o.failure != null) throw new IllegalStateException("seed does not load: " + o);
        }
        for (HfSeed s : hfSeeds) {
            Outcome o = check(Kind.SAFETENSORS, -1, "seed " + s.name, s.files);
            if (!o.loaded || o.failure != null) throw new IllegalStateException("seed does not load: " + o);
        }
    }

    @Override
    public void close() {
        worker.shutdownNow();
    }

    private static ExecutorService newWorker() {
        return Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "model-fuzz-loader");
            t.setDaemon(true);
            return t;
        });
    }

    /** The random stream of one case: a mix of the corpus seed, the kind and the index. */
    private Random random(Kind kind, int index) {
        long z = seed * 0x9E3779B97F4A7C15L + (kind.ordinal() + 1) * 0xBF58476D1CE4E5B9L + index * 0x94D049BB133111EBL;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return new Random(z ^ (z >>> 31));
    }

    public Outcome run(Kind kind, int index) {
        return switch (kind) {
            case GGUF -> {
                var c = ggufCase(index);
                yield check(Kind.GGUF, index, c.description, Map.of("case.gguf", c.bytes));
            }
            case SAFETENSORS -> {
                var c = hfCase(index);
                yield check(Kind.SAFETENSORS, index, c.description, c.files);
            }
        };
    }

    /** The case's files, for saving a failing case (GGUF: one file named case.gguf; safetensors: a folder). */
    public Map<String, byte[]> files(Kind kind, int index) {
        return kind == Kind.GGUF ? Map.of("case.gguf", ggufCase(index).bytes) : hfCase(index).files;
    }

    // ============================================================================================ running

    private Outcome check(Kind kind, int index, String description, Map<String, byte[]> files) {
        Path dir = work.resolve("case-" + kind.name().toLowerCase() + "-" + index);
        long fileBytes = 0;
        try {
            Files.createDirectories(dir);
            for (var e : files.entrySet()) {
                Files.write(dir.resolve(e.getKey()), e.getValue());
                fileBytes += e.getValue().length;
            }
            Path target = kind == Kind.GGUF ? dir.resolve(files.keySet().iterator().next()) : dir;
            long size = fileBytes;
            Future<Outcome> future = worker.submit(() -> load(kind, index, description, target, size));
            try {
                return future.get(timeoutMs, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                future.cancel(true);
                worker.shutdownNow();
                worker = newWorker(); // the stuck thread is a daemon; it cannot hold up the JVM's exit
                return new Outcome(kind, seed, index, description, size, false, null, false, null,
                        "no result within " + timeoutMs + " ms (a hang or a crawl)", timeoutMs * 1_000_000, -1);
            } catch (ExecutionException e) {
                return new Outcome(kind, seed, index, description, size, false, null, false, null,
                        "harness error " + stackTrace(e.getCause()), 0, -1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            deleteTree(dir);
        }
    }

    /** Runs on the worker: the loads, each timed and charged with the bytes this thread allocates. */
    private Outcome load(Kind kind, int index, String description, Path target, long fileBytes) {
        long started = System.nanoTime();
        long before = THREADS.getCurrentThreadAllocatedBytes();
        Throwable modelError = null;
        boolean loaded = false;
        try (Checkpoint ignored = ModelLoader.open(target)) {
            loaded = true;
        } catch (Throwable t) {
            modelError = t;
        }
        long allocated = THREADS.getCurrentThreadAllocatedBytes() - before;
        Throwable tokenizerError = null;
        boolean tokenizerLoaded = false;
        if (kind == Kind.GGUF) {
            before = THREADS.getCurrentThreadAllocatedBytes();
            try {
                GlmTokenizer.load(target);
                tokenizerLoaded = true;
            } catch (Throwable t) {
                tokenizerError = t;
            }
            allocated = Math.max(allocated, THREADS.getCurrentThreadAllocatedBytes() - before);
        }
        long nanos = System.nanoTime() - started;
        String failure = unexpected("model load", modelError);
        if (failure == null) failure = unexpected("tokenizer load", tokenizerError);
        if (failure == null && allocated > fileBytes + ALLOWANCE) {
            failure = "allocated " + allocated + " bytes for " + fileBytes + " bytes of files (limit: file bytes + " + ALLOWANCE + ")";
        }
        String prefix = target.toString();
        return new Outcome(kind, seed, index, description, fileBytes, loaded, message(modelError, prefix),
                tokenizerLoaded, message(tokenizerError, prefix), failure, nanos, allocated);
    }

    private static String unexpected(String what, Throwable t) {
        if (t == null) return null;
        if (t instanceof ModelFormatException && t.getMessage() != null && !t.getMessage().isBlank()) return null;
        return what + " threw " + stackTrace(t);
    }

    private static String message(Throwable t, String prefix) {
        if (t == null) return null;
        String m = String.valueOf(t.getMessage());
        return m.replace(prefix + ": ", "").replace(prefix + java.io.File.separator, "");
    }

    private static String stackTrace(Throwable t) {
        StringWriter s = new StringWriter();
        t.printStackTrace(new PrintWriter(s));
        String trace = s.toString();
        return trace.length() > 4000 ? trace.substring(0, 4000) + "..." : trace;
    }

    private static void deleteTree(Path dir) {
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            // a leftover scratch file is the caller's temp folder's to remove
        }
    }

    /** A rejection message with the variable parts (numbers, names, quoted values) blanked: its category. */
    public static String category(String message) {
        if (message == null) return "(none)";
        String m = message;
        m = m.replaceAll("\\([^)]*\\)", "(…)");
        m = m.replaceAll("\"[^\"]*\"", "\"…\"");
        m = m.replaceAll("\\[[^\\]]*\\]", "[…]");
        m = m.replaceAll("\\b[\\w-]+(\\.[\\w-]+)+\\b", "NAME");
        m = m.replaceAll("-?\\d+", "N");
        if (m.contains("tensor problem(s)")) m = "N tensor problem(s): missing tensors or wrong shapes";
        return m.length() > 90 ? m.substring(0, 90) + "…" : m;
    }

    // ============================================================================================ seeds

    private record GgufSeed(String name, byte[] bytes, List<String> tokens, int[] tokenTypes, List<String> merges) {}

    private record HfSeed(String name, Map<String, byte[]> files) {}

    private static final List<String[]> MERGES = List.of(
            new String[] {"Ġ", "t"}, new String[] {"h", "e"}, new String[] {"Ġt", "he"}, new String[] {"i", "n"},
            new String[] {"e", "r"}, new String[] {"Ġ", "a"}, new String[] {"o", "n"}, new String[] {"r", "e"},
            new String[] {"a", "t"}, new String[] {"e", "n"}, new String[] {"Ġ", "s"}, new String[] {"o", "r"},
            new String[] {"e", "s"}, new String[] {"Ġ", "w"}, new String[] {"a", "n"}, new String[] {"Ġ", "c"},
            new String[] {"i", "s"}, new String[] {"i", "t"});

    private void makeSeeds() throws IOException {
        Path seeds = Files.createDirectories(work.resolve("seeds"));
        // 1: Q8_0, one layer, a vocabulary with merges, and metadata of every GGUF type (nested arrays included)
        Path raw = seeds.resolve("raw-q8.gguf");
        TinyModels.writeGguf(new TinyModels.Spec(32, 1, 2, 1, 32, 256 + 14 + MERGES.size(), 5e6, GgmlType.Q8_0, 7, 256), raw, null);
        Path q8 = seeds.resolve("q8-merges.gguf");
        rewriteGguf(raw, q8, w -> {
            List<String> tokens = new ArrayList<>(Arrays.asList(TinyModels.gpt2ByteSpelling()));
            List<Integer> types = new ArrayList<>(Collections.nCopies(256, 1));
            tokens.addAll(TinyModels.SPECIAL_TOKENS);
            types.addAll(Collections.nCopies(TinyModels.SPECIAL_TOKENS.size(), 3));
            List<String> merges = new ArrayList<>();
            for (String[] m : MERGES) {
                tokens.add(m[0] + m[1]);
                types.add(1);
                merges.add(m[0] + " " + m[1]);
            }
            w.putArray("tokenizer.ggml.tokens", GgufValueType.STRING, tokens)
                    .putArray("tokenizer.ggml.token_type", GgufValueType.INT32, types)
                    .putArray("tokenizer.ggml.merges", GgufValueType.STRING, merges);
            w.put("fuzz.u8", GgufValueType.UINT8, 7).put("fuzz.i8", GgufValueType.INT8, -7)
                    .put("fuzz.u16", GgufValueType.UINT16, 700).put("fuzz.i16", GgufValueType.INT16, -700)
                    .put("fuzz.i32", GgufValueType.INT32, -70000).put("fuzz.u64", GgufValueType.UINT64, 1L << 40)
                    .put("fuzz.i64", GgufValueType.INT64, -(1L << 40)).put("fuzz.f64", GgufValueType.FLOAT64, 0.25)
                    .putString("fuzz.text", "héllo wörld")
                    .putArray("fuzz.bytes", GgufValueType.UINT8, List.of(1, 2, 3))
                    .putArray("fuzz.doubles", GgufValueType.FLOAT64, List.of(1.5, -2.5))
                    .putArray("fuzz.flags", GgufValueType.BOOL, List.of(true, false))
                    .putArray("fuzz.nested", GgufValueType.ARRAY, List.of(
                            new GgufWriter.Array(GgufValueType.INT32, List.of(1, 2)),
                            new GgufWriter.Array(GgufValueType.STRING, List.of("x"))));
        });
        addGgufSeed("q8-merges", q8);
        // 2: F16, two layers, the byte vocabulary without merges, data aligned to 64
        Path raw2 = seeds.resolve("raw-f16.gguf");
        TinyModels.writeGguf(new TinyModels.Spec(32, 2, 2, 2, 32, 272, 1e4, GgmlType.F16, 3, 128), raw2, null);
        Path f16 = seeds.resolve("f16-align64.gguf");
        rewriteGguf(raw2, f16, w -> w.put("general.alignment", GgufValueType.UINT32, 64L));
        addGgufSeed("f16-align64", f16);

        // safetensors: one F16 file; two BF16 shards with an index
        Path hf1 = seeds.resolve("hf-f16");
        TinyModels.writeHf(new TinyModels.Spec(32, 1, 2, 1, 32, 272, 5e6, GgmlType.F16, 5, 256), hf1, 1, null);
        addHfSeed("hf-f16", hf1);
        Path hf2 = seeds.resolve("hf-bf16-sharded");
        TinyModels.writeHf(new TinyModels.Spec(32, 1, 2, 2, 32, 272, 5e6, GgmlType.BF16, 6, 256), hf2, 2, null);
        addHfSeed("hf-bf16-sharded", hf2);
        deleteTree(seeds);
    }

    /** Copies a GGUF's metadata and tensors through a GgufWriter, letting {@code extra} add or replace keys. */
    private static void rewriteGguf(Path from, Path to, java.util.function.Consumer<GgufWriter> extra) throws IOException {
        try (GgufFile in = GgufFile.open(from)) {
            GgufWriter w = new GgufWriter();
            for (String key : in.metadata().keySet()) w.copy(in, key);
            extra.accept(w);
            for (GgufTensorInfo t : in.tensors()) w.addTensor(t.name(), t.type(), t.shape(), TensorBytes.of(in.tensorData(t)));
            w.write(to);
        }
    }

    private void addGgufSeed(String name, Path file) throws IOException {
        try (GgufFile g = GgufFile.open(file)) {
            ggufSeeds.add(new GgufSeed(name, Files.readAllBytes(file), g.getStringList("tokenizer.ggml.tokens"),
                    g.getIntArray("tokenizer.ggml.token_type"), g.getStringList("tokenizer.ggml.merges")));
        }
    }

    private void addHfSeed(String name, Path folder) throws IOException {
        Map<String, byte[]> files = new TreeMap<>();
        try (var list = Files.list(folder)) {
            for (Path p : list.toList()) files.put(p.getFileName().toString(), Files.readAllBytes(p));
        }
        hfSeeds.add(new HfSeed(name, files));
    }

    // ============================================================================================ GGUF model

    private static final class Kv {
        byte[] key;
        int type;
        byte[] value;

        Kv(byte[] key, int type, byte[] value) {
            this.key = key;
            this.type = type;
            this.value = value;
        }

        String name() { return new String(key, StandardCharsets.UTF_8); }
    }

    private static final class Ti {
        byte[] name;
        int nDims;
        long[] ne;
        int type;
        long offset;

        String label() { return new String(name, StandardCharsets.UTF_8); }
    }

    /** A GGUF as editable parts; counts and the padding may lie about the parts. */
    private static final class Gguf {
        int magic = MAGIC;
        int version;
        Long tensorCount, kvCount;
        final List<Kv> kvs = new ArrayList<>();
        final List<Ti> tis = new ArrayList<>();
        int alignment;
        int padAlignment;
        byte[] data;
        /** Entries appended raw after the parsed ones (too many to model one object each), and how many. */
        final Le rawKvs = new Le(), rawTis = new Le();
        int rawKvCount, rawTiCount;

        Kv kv(String key) {
            for (Kv kv : kvs) if (kv.name().equals(key)) return kv;
            return null;
        }
    }

    /** A field of the serialized header: where it is and how wide, for a byte-level overwrite. */
    private record Field(String name, int offset, int width, long value) {}

    private static Gguf parse(byte[] f) {
        ByteBuffer b = ByteBuffer.wrap(f).order(ByteOrder.LITTLE_ENDIAN);
        Gguf g = new Gguf();
        g.version = b.getInt(4);
        long nt = b.getLong(8), nkv = b.getLong(16);
        int p = 24;
        for (long i = 0; i < nkv; i++) {
            int klen = (int) b.getLong(p);
            byte[] key = Arrays.copyOfRange(f, p + 8, p + 8 + klen);
            p += 8 + klen;
            int type = b.getInt(p);
            p += 4;
            int size = valueSize(b, p, type);
            g.kvs.add(new Kv(key, type, Arrays.copyOfRange(f, p, p + size)));
            p += size;
        }
        for (long i = 0; i < nt; i++) {
            Ti t = new Ti();
            int nlen = (int) b.getLong(p);
            t.name = Arrays.copyOfRange(f, p + 8, p + 8 + nlen);
            p += 8 + nlen;
            t.nDims = b.getInt(p);
            p += 4;
            t.ne = new long[t.nDims];
            for (int d = 0; d < t.nDims; d++, p += 8) t.ne[d] = b.getLong(p);
            t.type = b.getInt(p);
            t.offset = b.getLong(p + 4);
            p += 12;
            g.tis.add(t);
        }
        Kv align = g.kv("general.alignment");
        g.alignment = align == null ? 32 : ByteBuffer.wrap(align.value).order(ByteOrder.LITTLE_ENDIAN).getInt(0);
        g.padAlignment = g.alignment;
        int dataStart = (int) GgufFile.alignUp(p, g.alignment);
        g.data = Arrays.copyOfRange(f, dataStart, f.length);
        return g;
    }

    /** Bytes of one well-formed encoded value (the seeds', and values this class encodes). */
    private static int valueSize(ByteBuffer b, int p, int type) {
        return switch (type) {
            case 0, 1, 7 -> 1;
            case 2, 3 -> 2;
            case 4, 5, 6 -> 4;
            case 10, 11, 12 -> 8;
            case 8 -> 8 + Math.toIntExact(b.getLong(p));
            case 9 -> {
                int et = b.getInt(p);
                long n = b.getLong(p + 4);
                int q = p + 12;
                for (long i = 0; i < n; i++) q += valueSize(b, q, et);
                yield q - p;
            }
            default -> throw new IllegalArgumentException("type " + type);
        };
    }

    private static byte[] serialize(Gguf g, List<Field> fields) {
        Le o = new Le();
        fields.add(new Field("magic", o.size(), 4, g.magic));
        o.u32(g.magic);
        fields.add(new Field("version", o.size(), 4, g.version));
        o.u32(g.version);
        long tc = g.tensorCount != null ? g.tensorCount : g.tis.size() + g.rawTiCount;
        fields.add(new Field("tensor count", o.size(), 8, tc));
        o.u64(tc);
        long kc = g.kvCount != null ? g.kvCount : g.kvs.size() + g.rawKvCount;
        fields.add(new Field("metadata count", o.size(), 8, kc));
        o.u64(kc);
        for (Kv kv : g.kvs) {
            String k = kv.name();
            fields.add(new Field("key length of " + k, o.size(), 8, kv.key.length));
            o.str(kv.key);
            fields.add(new Field("value type of " + k, o.size(), 4, kv.type));
            o.u32(kv.type);
            valueFields(fields, k, o.size(), kv.type, kv.value);
            o.writeBytes(kv.value);
        }
        o.writeBytes(g.rawKvs.toByteArray());
        for (Ti t : g.tis) {
            String n = t.label();
            fields.add(new Field("name length of tensor " + n, o.size(), 8, t.name.length));
            o.str(t.name);
            fields.add(new Field("dims of tensor " + n, o.size(), 4, t.nDims));
            o.u32(t.nDims);
            for (int d = 0; d < t.ne.length; d++) {
                fields.add(new Field("ne[" + d + "] of tensor " + n, o.size(), 8, t.ne[d]));
                o.u64(t.ne[d]);
            }
            fields.add(new Field("type of tensor " + n, o.size(), 4, t.type));
            o.u32(t.type);
            fields.add(new Field("offset of tensor " + n, o.size(), 8, t.offset));
            o.u64(t.offset);
        }
        o.writeBytes(g.rawTis.toByteArray());
        int pad = g.padAlignment > 0 && g.padAlignment <= 4096 ? g.padAlignment : 32;
        while (o.size() % pad != 0) o.write(0);
        o.writeBytes(g.data);
        return o.toByteArray();
    }

    /** The length fields inside a value: a string's length, an array's element type and length, string elements'. */
    private static void valueFields(List<Field> fields, String key, int at, int type, byte[] value) {
        try {
            ByteBuffer b = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN);
            if (type == 8) fields.add(new Field("string length of " + key, at, 8, b.getLong(0)));
            if (type != 9) return;
            fields.add(new Field("element type of " + key, at, 4, b.getInt(0)));
            long n = b.getLong(4);
            fields.add(new Field("array length of " + key, at + 4, 8, n));
            int et = b.getInt(0);
            if (et != 8 && et != 9) return;
            int q = 12;
            for (long i = 0; i < n && q < value.length; i++) {
                if (i < 4 || i == n - 1 || i % 97 == 0) {
                    fields.add(new Field((et == 8 ? "string length of " : "element type of ") + key + "[" + i + "]", at + q,
                            et == 8 ? 8 : 4, et == 8 ? b.getLong(q) : b.getInt(q)));
                }
                q += valueSize(b, q, et);
            }
        } catch (RuntimeException e) {
            // a value already made inconsistent by a mutation: its inner fields are not recorded
        }
    }

    /** A little-endian byte builder. */
    private static final class Le extends ByteArrayOutputStream {
        Le u32(long v) {
            for (int i = 0; i < 4; i++) write((int) (v >>> (8 * i)));
            return this;
        }

        Le u64(long v) {
            for (int i = 0; i < 8; i++) write((int) (v >>> (8 * i)));
            return this;
        }

        Le u16(long v) {
            for (int i = 0; i < 2; i++) write((int) (v >>> (8 * i)));
            return this;
        }

        Le str(byte[] b) {
            u64(b.length);
            writeBytes(b);
            return this;
        }

        Le str(String s) { return str(s.getBytes(StandardCharsets.UTF_8)); }
    }

    private static byte[] encString(String s) { return new Le().str(s).toByteArray(); }

    private static byte[] encStringArray(List<String> values) {
        Le o = new Le();
        o.u32(8).u64(values.size());
        for (String s : values) o.str(s);
        return o.toByteArray();
    }

    private static byte[] encScalar(int type, long v) {
        Le o = new Le();
        switch (type) {
            case 0, 1, 7 -> o.write((int) v);
            case 2, 3 -> o.u16(v);
            case 4, 5 -> o.u32(v);
            case 6 -> o.u32(Float.floatToRawIntBits(v));
            case 12 -> o.u64(Double.doubleToRawLongBits(v));
            default -> o.u64(v);
        }
        return o.toByteArray();
    }

    private static byte[] encIntArray(int elementType, int[] values) {
        Le o = new Le();
        o.u32(elementType).u64(values.length);
        for (int v : values) o.writeBytes(encScalar(elementType, v));
        return o.toByteArray();
    }

    // ============================================================================================ GGUF cases

    private record GgufCase(String description, byte[] bytes) {}

    private GgufCase ggufCase(int index) {
        Random r = random(Kind.GGUF, index);
        GgufSeed s = ggufSeeds.get(r.nextInt(ggufSeeds.size()));
        Gguf g = parse(s.bytes);
        List<String> steps = new ArrayList<>();
        steps.add("seed " + s.name);
        int plan = r.nextInt(10);
        if (plan < 6) {
            steps.add(mutateStructure(g, r, s));
            if (r.nextInt(4) == 0) steps.add(mutateStructure(g, r, s));
        }
        List<Field> fields = new ArrayList<>();
        byte[] bytes = serialize(g, fields);
        if (plan >= 6 && plan < 9) {
            bytes = overwriteField(bytes, fields, r, steps);
            if (r.nextInt(3) == 0) bytes = overwriteField(bytes, fields, r, steps);
        }
        if (plan == 9 || r.nextInt(8) == 0) bytes = mutateBytes(bytes, r, steps, dataStartOf(fields, bytes.length, g));
        return new GgufCase(String.join(" + ", steps), bytes);
    }

    private static int dataStartOf(List<Field> fields, int length, Gguf g) {
        Field last = fields.get(fields.size() - 1);
        return (int) Math.min(length, last.offset + last.width);
    }

    private static final long[] INTERESTING_64 = {0, 1, 2, 3, 4, 7, 8, 31, 32, 33, 63, 64, 255, 256, 4096, 65535, 65536,
            -1, -2, -32, Long.MIN_VALUE, Long.MAX_VALUE, Integer.MAX_VALUE, Integer.MAX_VALUE - 15, 1L << 31, (1L << 32) - 1,
            1L << 32, 1L << 40, 1L << 62, (1L << 63) + 1, Long.MAX_VALUE / 2};

    private static long interesting64(Random r, long original, long fileSize) {
        return switch (r.nextInt(6)) {
            case 0 -> r.nextLong();
            case 1 -> switch (r.nextInt(6)) {
                case 0 -> original + 1;
                case 1 -> original - 1;
                case 2 -> original * 2;
                case 3 -> original + fileSize;
                case 4 -> -original;
                default -> original ^ (1L << r.nextInt(64));
            };
            case 2 -> fileSize + r.nextInt(65) - 32;
            default -> INTERESTING_64[r.nextInt(INTERESTING_64.length)];
        };
    }

    private static long interesting32(Random r, long original) {
        long[] c = {0, 1, 2, 3, 4, 5, 8, 9, 12, 13, 14, 15, 16, 29, 30, 31, 32, 255, 256, 65535, 0x7FFFFFFF, 0x80000000L,
                0xFFFFFFFFL, 0xFFFFFFFEL, original + 1, original - 1, original ^ (1L << r.nextInt(32))};
        return r.nextInt(5) == 0 ? r.nextInt() : c[r.nextInt(c.length)];
    }

    private static byte[] overwriteField(byte[] bytes, List<Field> fields, Random r, List<String> steps) {
        Field f = fields.get(r.nextInt(fields.size()));
        long v = f.width == 8 ? interesting64(r, f.value, bytes.length) : interesting32(r, f.value);
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (f.width == 8) b.putLong(f.offset, v);
        else b.putInt(f.offset, (int) v);
        steps.add(f.name + " := " + (f.width == 8 ? Long.toUnsignedString(v) : Integer.toUnsignedString((int) v)));
        return bytes;
    }

    /** Byte-level damage: truncation, flips, splices, insertions, deletions (mostly in the header). */
    private static byte[] mutateBytes(byte[] bytes, Random r, List<String> steps, int headerEnd) {
        int header = Math.max(1, Math.min(headerEnd, bytes.length));
        switch (r.nextInt(6)) {
            case 0 -> {
                int cut = r.nextBoolean() ? r.nextInt(header) : r.nextInt(bytes.length);
                steps.add("truncate at " + cut);
                return Arrays.copyOf(bytes, cut);
            }
            case 1, 2 -> {
                int flips = 1 + r.nextInt(8);
                StringBuilder at = new StringBuilder();
                for (int i = 0; i < flips; i++) {
                    int p = r.nextInt(10) < 8 ? r.nextInt(header) : r.nextInt(bytes.length);
                    bytes[p] ^= (byte) (r.nextBoolean() ? 1 << r.nextInt(8) : 1 + r.nextInt(255));
                    at.append(i == 0 ? "" : ",").append(p);
                }
                steps.add("flip bytes at " + at);
                return bytes;
            }
            case 3 -> {
                int len = 1 + r.nextInt(Math.min(256, bytes.length));
                int from = r.nextInt(bytes.length - len + 1), to = r.nextInt(Math.max(1, header - len + 1));
                System.arraycopy(bytes, from, bytes, Math.min(to, bytes.length - len), len);
                steps.add("splice " + len + " bytes from " + from + " over " + to);
                return bytes;
            }
            case 4 -> {
                int at = r.nextInt(header), len = 1 + r.nextInt(64);
                byte[] junk = new byte[len];
                r.nextBytes(junk);
                byte[] out = new byte[bytes.length + len];
                System.arraycopy(bytes, 0, out, 0, at);
                System.arraycopy(junk, 0, out, at, len);
                System.arraycopy(bytes, at, out, at + len, bytes.length - at);
                steps.add("insert " + len + " random bytes at " + at);
                return out;
            }
            default -> {
                int at = r.nextInt(header), len = Math.min(1 + r.nextInt(64), bytes.length - at);
                byte[] out = new byte[bytes.length - len];
                System.arraycopy(bytes, 0, out, 0, at);
                System.arraycopy(bytes, at + len, out, at, bytes.length - at - len);
                steps.add("delete " + len + " bytes at " + at);
                return out;
            }
        }
    }

    private static final String[] CONFIG_KEYS = {"chatglm.context_length", "chatglm.embedding_length",
            "chatglm.feed_forward_length", "chatglm.block_count", "chatglm.attention.head_count",
            "chatglm.attention.head_count_kv", "chatglm.attention.layer_norm_rms_epsilon", "chatglm.rope.dimension_count",
            "chatglm.rope.freq_base", "chatglm.attention.key_length", "general.architecture", "general.alignment"};

    private static <T> T pick(Random r, List<T> list) { return list.get(r.nextInt(list.size())); }

    /** One structural mutation of the parsed GGUF; returns what it did. */
    private static String mutateStructure(Gguf g, Random r, GgufSeed s) {
        switch (r.nextInt(21)) {
            case 0 -> {
                long v = interesting64(r, r.nextBoolean() ? g.tis.size() : g.kvs.size(), 1L << 20);
                if (r.nextBoolean()) {
                    g.tensorCount = v;
                    return "tensor count := " + Long.toUnsignedString(v);
                }
                g.kvCount = v;
                return "metadata count := " + Long.toUnsignedString(v);
            }
            case 1 -> {
                g.version = (int) interesting32(r, 3);
                if (r.nextInt(3) == 0) g.magic = (int) interesting32(r, MAGIC);
                return "version := " + Integer.toUnsignedString(g.version) + ", magic := " + Integer.toHexString(g.magic);
            }
            case 2 -> {
                Kv kv = pick(r, g.kvs);
                kv.type = r.nextInt(4) == 0 ? (int) interesting32(r, kv.type) : r.nextInt(15);
                return "value type of " + kv.name() + " := " + Integer.toUnsignedString(kv.type);
            }
            case 3 -> {
                Kv kv = r.nextBoolean() ? pick(r, g.kvs) : addKv(g, "fuzz.deep");
                int depth = 1 + r.nextInt(r.nextBoolean() ? 10 : 40);
                kv.type = 9;
                kv.value = nested(r, depth);
                return kv.name() + " := arrays nested " + depth + " deep";
            }
            case 4 -> {
                Kv kv = r.nextInt(3) == 0 ? pick(r, g.kvs) : addKv(g, "fuzz.dense");
                int n = new int[] {16, 1000, 65_536, 1 << 19}[r.nextInt(4)];
                int et = new int[] {0, 7, 8, 9, 4, 12}[r.nextInt(6)];
                Le o = new Le();
                o.u32(et).u64(n);
                for (int i = 0; i < n; i++) {
                    switch (et) {
                        case 0, 7 -> o.write(i & 1);
                        case 8 -> o.str(i % 4 == 0 ? "a" : "");
                        case 9 -> o.u32(4).u64(0);
                        case 4 -> o.u32(i);
                        default -> o.u64(Double.doubleToRawLongBits(i));
                    }
                }
                kv.type = 9;
                kv.value = o.toByteArray();
                return kv.name() + " := dense array of " + n + " elements of type " + et;
            }
            case 5 -> {
                Kv kv = pick(r, g.kvs);
                g.kvs.add(r.nextInt(g.kvs.size() + 1), new Kv(kv.key.clone(), r.nextBoolean() ? kv.type : 4, r.nextBoolean()
                        ? kv.value.clone() : encScalar(4, 1)));
                return "duplicate key " + kv.name();
            }
            case 6 -> {
                if (r.nextBoolean() && !g.tis.isEmpty()) {
                    Ti t = g.tis.remove(r.nextInt(g.tis.size()));
                    return "drop tensor " + t.label();
                }
                Kv kv = g.kvs.remove(r.nextInt(g.kvs.size()));
                return "drop key " + kv.name();
            }
            case 7 -> {
                Kv kv = g.kv("general.alignment");
                if (kv == null) kv = addKv(g, "general.alignment");
                long v = new long[] {0, 1, 2, 3, 16, 24, 48, 31, 64, 4096, 1L << 30, 1L << 31, 1L << 32, -1, -64, 1L << 40}[r.nextInt(16)];
                int type = new int[] {4, 4, 4, 5, 10, 11, 0, 2, 6, 8}[r.nextInt(10)];
                kv.type = type;
                kv.value = type == 8 ? encString(Long.toString(v)) : encScalar(type, v);
                if (r.nextBoolean()) g.padAlignment = (int) v;
                return "general.alignment := " + v + " as type " + type + (g.padAlignment == v ? " (data padded to it)" : "");
            }
            case 8 -> {
                Ti t = pick(r, g.tis);
                t.nDims = (int) interesting32(r, t.nDims);
                if (r.nextBoolean()) {
                    int n = Math.max(0, Math.min(6, t.nDims));
                    long[] ne = Arrays.copyOf(t.ne, n);
                    for (int d = t.ne.length; d < n; d++) ne[d] = 1;
                    t.ne = ne;
                }
                return "dims of tensor " + t.label() + " := " + Integer.toUnsignedString(t.nDims) + " with " + t.ne.length + " dims written";
            }
            case 9 -> {
                Ti t = pick(r, g.tis);
                int d = r.nextInt(t.ne.length);
                long v = switch (r.nextInt(4)) {
                    case 0 -> 0;
                    case 1 -> -t.ne[d];
                    case 2 -> Long.MAX_VALUE / Math.max(1, t.ne[d]) + 1; // the product overflows
                    default -> interesting64(r, t.ne[d], g.data.length);
                };
                t.ne[d] = v;
                if (r.nextInt(3) == 0 && t.ne.length > 1) t.ne[(d + 1) % t.ne.length] = v == 0 ? 1L << 40 : 0;
                return "dims of tensor " + t.label() + " := " + Arrays.toString(t.ne);
            }
            case 10 -> {
                Ti t = pick(r, g.tis);
                t.type = r.nextBoolean() ? new int[] {0, 1, 2, 8, 12, 13, 14, 30}[r.nextInt(8)] : (int) interesting32(r, t.type);
                return "type of tensor " + t.label() + " := " + Integer.toUnsignedString(t.type);
            }
            case 11 -> {
                Ti t = pick(r, g.tis);
                Ti other = pick(r, g.tis);
                t.offset = switch (r.nextInt(7)) {
                    case 0 -> other.offset; // overlap
                    case 1 -> t.offset + 1; // misaligned
                    case 2 -> t.offset + g.alignment / 2;
                    case 3 -> g.data.length;
                    case 4 -> g.data.length + g.alignment;
                    case 5 -> other.offset + g.alignment;
                    default -> interesting64(r, t.offset, g.data.length);
                };
                return "offset of tensor " + t.label() + " := " + Long.toUnsignedString(t.offset);
            }
            case 12 -> {
                Ti t = pick(r, g.tis), other = pick(r, g.tis);
                t.name = other.name.clone();
                return "tensor name " + t.label() + " duplicated";
            }
            case 13 -> {
                String key = CONFIG_KEYS[r.nextInt(CONFIG_KEYS.length)];
                Kv kv = g.kv(key);
                if (kv == null) kv = addKv(g, key);
                switch (r.nextInt(4)) {
                    case 0 -> {
                        kv.type = 4;
                        kv.value = encScalar(4, interesting32(r, 32));
                    }
                    case 1 -> {
                        kv.type = new int[] {0, 1, 3, 5, 10, 11}[r.nextInt(6)];
                        kv.value = encScalar(kv.type, interesting64(r, 32, 0));
                    }
                    case 2 -> {
                        kv.type = r.nextBoolean() ? 6 : 12;
                        double v = new double[] {0, -1, Double.NaN, Double.POSITIVE_INFINITY, 1e-45, 1e300, 0.5}[r.nextInt(7)];
                        Le o = new Le();
                        if (kv.type == 6) o.u32(Float.floatToRawIntBits((float) v));
                        else o.u64(Double.doubleToRawLongBits(v));
                        kv.value = o.toByteArray();
                    }
                    default -> {
                        kv.type = r.nextBoolean() ? 8 : 9;
                        kv.value = kv.type == 8 ? encString(r.nextBoolean() ? "" : "chatglm") : encIntArray(4, new int[] {32});
                    }
                }
                return key + " := type " + kv.type + " " + describeValue(kv);
            }
            case 14, 15 -> {
                return mutateTokenizer(g, r, s);
            }
            case 16 -> {
                Kv kv = pick(r, g.kvs);
                String before = kv.name();
                kv.key = switch (r.nextInt(5)) {
                    case 0 -> new byte[0];
                    case 1 -> new byte[] {(byte) 0xFF, (byte) 0xC0, (byte) 0x80, 'k'};
                    case 2 -> "k".repeat(10_000).getBytes(StandardCharsets.UTF_8);
                    case 3 -> CONFIG_KEYS[r.nextInt(CONFIG_KEYS.length)].getBytes(StandardCharsets.UTF_8);
                    default -> "tokenizer.ggml.merges".getBytes(StandardCharsets.UTF_8);
                };
                return "key " + before + " renamed to " + kv.name().substring(0, Math.min(40, kv.name().length()));
            }
            case 17 -> {
                switch (r.nextInt(3)) {
                    case 0 -> {
                        int cut = r.nextInt(g.data.length + 1);
                        g.data = Arrays.copyOf(g.data, cut);
                        return "data section cut to " + cut + " bytes";
                    }
                    case 1 -> {
                        g.padAlignment = new int[] {1, 8, 16, 64, 128, 4096}[r.nextInt(6)];
                        return "data padded to " + g.padAlignment + " instead of " + g.alignment;
                    }
                    default -> {
                        g.data = Arrays.copyOf(g.data, g.data.length + 1 + r.nextInt(4096));
                        return "data section extended to " + g.data.length + " bytes";
                    }
                }
            }
            case 18 -> {
                Kv kv = pick(r, g.kvs);
                kv.type = 8;
                byte[] v = switch (r.nextInt(4)) {
                    case 0 -> new byte[] {(byte) 0xED, (byte) 0xA0, (byte) 0x80, (byte) 0xFF};
                    case 1 -> new byte[0];
                    case 2 -> new byte[100_000];
                    default -> "chatglm\0".getBytes(StandardCharsets.ISO_8859_1);
                };
                kv.value = new Le().str(v).toByteArray();
                return kv.name() + " := a string of " + v.length + " odd bytes";
            }
            case 19 -> {
                Collections.shuffle(g.kvs, r);
                Collections.shuffle(g.tis, r);
                return "shuffle keys and tensor infos";
            }
            default -> {
                // many small entries: each costs Java objects several times its bytes, so their number is capped
                int n = new int[] {100, 4096, 100_000, 300_000}[r.nextInt(4)];
                boolean tensors = r.nextBoolean();
                if (n > 4096) {
                    for (int i = 0; i < n; i++) {
                        byte[] name = Integer.toString(i, 36).getBytes(StandardCharsets.UTF_8);
                        if (tensors) g.rawTis.str(name).u32(1).u64(0).u32(0).u64(0);
                        else g.rawKvs.str(name).u32(0).write(1);
                    }
                    if (tensors) g.rawTiCount = n;
                    else g.rawKvCount = n;
                    return n + " extra " + (tensors ? "empty tensors" : "u8 keys") + " with short names";
                }
                for (int i = 0; i < n; i++) {
                    if (tensors) {
                        Ti t = new Ti();
                        t.name = ("x." + i).getBytes(StandardCharsets.UTF_8);
                        t.nDims = 1;
                        t.ne = new long[] {0};
                        t.type = 0;
                        t.offset = 0;
                        g.tis.add(t);
                    } else {
                        g.kvs.add(new Kv(("x." + i).getBytes(StandardCharsets.UTF_8), 0, new byte[] {1}));
                    }
                }
                return n + " extra " + (tensors ? "empty tensors" : "u8 keys");
            }
        }
    }

    private static Kv addKv(Gguf g, String key) {
        Kv kv = new Kv(key.getBytes(StandardCharsets.UTF_8), 4, encScalar(4, 0));
        g.kvs.add(kv);
        return kv;
    }

    private static String describeValue(Kv kv) {
        try {
            ByteBuffer b = ByteBuffer.wrap(kv.value).order(ByteOrder.LITTLE_ENDIAN);
            return switch (kv.type) {
                case 0 -> Integer.toString(b.get(0) & 0xFF);
                case 1 -> Byte.toString(b.get(0));
                case 3 -> Short.toString(b.getShort(0));
                case 4 -> Integer.toUnsignedString(b.getInt(0));
                case 5 -> Integer.toString(b.getInt(0));
                case 6 -> Float.toString(b.getFloat(0));
                case 12 -> Double.toString(b.getDouble(0));
                case 8 -> "\"" + new String(kv.value, 8, kv.value.length - 8, StandardCharsets.UTF_8) + "\"";
                case 9 -> "an array";
                default -> Long.toUnsignedString(b.getLong(0));
            };
        } catch (RuntimeException e) {
            return "?";
        }
    }

    /** Arrays of arrays {@code depth} deep, with small random counts and a random leaf type. */
    private static byte[] nested(Random r, int depth) {
        Le o = new Le();
        writeNested(o, r, depth);
        return o.toByteArray();
    }

    private static void writeNested(Le o, Random r, int depth) {
        if (depth == 0) {
            int et = r.nextInt(13);
            o.u32(et).u64(1);
            switch (et) {
                case 0, 1, 7 -> o.write(1);
                case 2, 3 -> o.u16(1);
                case 4, 5, 6 -> o.u32(1);
                case 8 -> o.str("x");
                case 9 -> o.u32(4).u64(0);
                default -> o.u64(1);
            }
            return;
        }
        int n = depth <= 6 ? 1 + r.nextInt(2) : 1; // at most 2^6 leaves
        o.u32(9).u64(n);
        for (int i = 0; i < n; i++) writeNested(o, r, depth - 1);
    }

    private static String mutateTokenizer(Gguf g, Random r, GgufSeed s) {
        List<String> tokens = new ArrayList<>(s.tokens);
        int[] types = s.tokenTypes.clone();
        List<String> merges = new ArrayList<>(s.merges);
        String what;
        switch (r.nextInt(12)) {
            case 0 -> {
                int i = r.nextInt(tokens.size());
                tokens.remove(i);
                what = "token " + i + " removed";
            }
            case 1 -> {
                int i = r.nextInt(tokens.size()), j = r.nextInt(tokens.size());
                tokens.set(i, tokens.get(j));
                what = "token " + i + " := token " + j;
            }
            case 2 -> {
                int i = r.nextInt(tokens.size());
                String v = new String[] {"", "\uFFFF", "\uD800", "a\u0000b", "ĠĠĠ", "x".repeat(5000)}[r.nextInt(6)];
                tokens.set(i, v);
                what = "token " + i + " := odd string of " + v.length() + " chars";
            }
            case 3 -> {
                int n = r.nextInt(300);
                tokens = new ArrayList<>(tokens.subList(0, Math.min(n, tokens.size())));
                what = "tokens cut to " + tokens.size();
            }
            case 4 -> {
                int i = r.nextInt(types.length);
                types[i] = (int) interesting32(r, types[i]);
                what = "token_type[" + i + "] := " + types[i];
            }
            case 5 -> {
                int i = r.nextInt(Math.min(256, types.length));
                types[i] = 3;
                what = "byte token " + i + " made CONTROL";
            }
            case 6 -> {
                types = Arrays.copyOf(types, Math.max(0, types.length + (r.nextBoolean() ? 1 : -1 - r.nextInt(10))));
                what = "token_type length := " + types.length;
            }
            case 7 -> {
                String m = new String[] {"", " ", "a", "a b c", " x", "x ", "Ġ zzz", "\uFFFF \uFFFF", "h e", "t h"}[r.nextInt(10)];
                merges.add(r.nextInt(merges.size() + 1), m);
                what = "merge \"" + m + "\" added";
            }
            case 8 -> {
                Kv kv = g.kv("tokenizer.ggml.merges");
                if (kv != null) g.kvs.remove(kv);
                kv = new Kv("tokenizer.ggml.merges".getBytes(StandardCharsets.UTF_8), 9, encIntArray(5, new int[] {1, 2}));
                if (r.nextBoolean()) g.kvs.add(kv);
                return "merges removed or made integers";
            }
            case 9 -> {
                String key = new String[] {"tokenizer.ggml.model", "tokenizer.ggml.pre"}[r.nextInt(2)];
                Kv kv = g.kv(key);
                if (kv == null) kv = addKv(g, key);
                kv.type = r.nextInt(4) == 0 ? 4 : 8;
                kv.value = kv.type == 4 ? encScalar(4, 1) : encString(new String[] {"llama", "", "gpt2", "chatglm4", "GPT2"}[r.nextInt(5)]);
                return key + " := " + describeValue(kv);
            }
            case 10 -> {
                String key = new String[] {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"}[r.nextInt(2)];
                Kv kv = g.kv(key);
                if (kv == null) kv = addKv(g, key);
                kv.type = new int[] {4, 5, 10, 11, 8}[r.nextInt(5)];
                kv.value = kv.type == 8 ? encString("256") : encScalar(kv.type, interesting64(r, 256, tokens.size()));
                return key + " := type " + kv.type + " " + describeValue(kv);
            }
            default -> {
                Kv kv = g.kv("tokenizer.ggml.token_type");
                if (kv != null) {
                    kv.value = r.nextBoolean() ? encStringArray(tokens) : encIntArray(0, new int[tokens.size()]);
                }
                return "token_type given another element type";
            }
        }
        replace(g, "tokenizer.ggml.tokens", 9, encStringArray(tokens));
        replace(g, "tokenizer.ggml.token_type", 9, encIntArray(5, types));
        replace(g, "tokenizer.ggml.merges", 9, encStringArray(merges));
        return "tokenizer: " + what;
    }

    private static void replace(Gguf g, String key, int type, byte[] value) {
        Kv kv = g.kv(key);
        if (kv == null) return;
        kv.type = type;
        kv.value = value;
    }

    // ============================================================================================ safetensors cases

    private record HfCase(String description, Map<String, byte[]> files) {}

    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private HfCase hfCase(int index) {
        Random r = random(Kind.SAFETENSORS, index);
        HfSeed s = hfSeeds.get(r.nextInt(4) == 0 ? 1 : 0);
        Map<String, byte[]> files = new TreeMap<>();
        s.files.forEach((k, v) -> files.put(k, v.clone()));
        List<String> steps = new ArrayList<>();
        steps.add("seed " + s.name);
        List<String> shards = files.keySet().stream().filter(n -> n.endsWith(".safetensors")).toList();
        int plan = r.nextInt(100);
        if (plan < 84) {
            String shard = pick(r, shards);
            int n = 1 + (r.nextInt(3) == 0 ? 1 : 0);
            byte[] b = files.get(shard);
            for (int i = 0; i < n; i++) b = mutateShard(b, r, steps);
            files.put(shard, b);
        } else if (plan < 94) {
            files.put("config.json", mutateJsonFile(files.get("config.json"), r, steps, true));
        } else if (files.containsKey(HfCheckpoint.INDEX)) {
            files.put(HfCheckpoint.INDEX, mutateIndex(files.get(HfCheckpoint.INDEX), r, steps));
        } else {
            String shard = pick(r, shards);
            files.put(shard, mutateBytes(files.get(shard), r, steps, headerLength(files.get(shard)) + 8));
        }
        return new HfCase(String.join(" + ", steps), files);
    }

    private static int headerLength(byte[] shard) {
        return (int) ByteBuffer.wrap(shard).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
    }

    private static byte[] mutateShard(byte[] shard, Random r, List<String> steps) {
        if (shard.length < 8) return mutateBytes(shard, r, steps, shard.length);
        long declared = ByteBuffer.wrap(shard).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        if (declared < 2 || declared > shard.length - 8) return mutateBytes(shard, r, steps, shard.length);
        int n = (int) declared;
        byte[] header = Arrays.copyOfRange(shard, 8, 8 + n);
        byte[] data = Arrays.copyOfRange(shard, 8 + n, shard.length);
        Long lengthOverride = null;
        int kind = r.nextInt(100);
        if (kind < 55) {
            ObjectNode tree;
            try {
                tree = (ObjectNode) HfConfig.JSON.readTree(header);
            } catch (IOException | ClassCastException e) {
                return mutateBytes(shard, r, steps, 8 + n);
            }
            steps.add(mutateHeaderTree(tree, r, data.length));
            header = tree.toString().getBytes(StandardCharsets.UTF_8);
        } else if (kind < 80) {
            header = mutateJsonText(header, r, steps);
        } else if (kind < 90) {
            long v = switch (r.nextInt(8)) {
                case 0 -> interesting64(r, n, shard.length);
                case 1 -> n - 1 - r.nextInt(Math.min(n, 16));
                case 2 -> n + 1 + r.nextInt(16);
                case 3 -> shard.length - 8;
                case 4 -> shard.length - 7;
                case 5 -> SafetensorsFile.MAX_HEADER_BYTES + 1;
                case 6 -> -1L - r.nextInt(16);
                default -> 0;
            };
            lengthOverride = v;
            steps.add("header length := " + Long.toUnsignedString(v));
        } else if (r.nextBoolean()) {
            header = manyEntries(header, r, steps);
        } else {
            return mutateBytes(shard, r, steps, 8 + n);
        }
        Le o = new Le();
        o.u64(lengthOverride != null ? lengthOverride : header.length);
        o.writeBytes(header);
        o.writeBytes(data);
        return o.toByteArray();
    }

    /**
     * A header with very many small members before its closing brace: empty tensors with GLM-4 layer names (which
     * the name mapping accepts) or with short names, __metadata__ keys, or unknown fields. A tree of them would cost
     * 10 to 30 times their bytes; each tensor kept costs several times its bytes, so their number is capped.
     */
    private static byte[] manyEntries(byte[] header, Random r, List<String> steps) {
        String text = new String(header, StandardCharsets.UTF_8).trim();
        if (!text.endsWith("}")) return header;
        int n = new int[] {2_000, 5_000, 100_000, 300_000}[r.nextInt(4)];
        int what = r.nextInt(4);
        StringBuilder b = new StringBuilder(text.length() + 60 * n).append(text, 0, text.length() - 1);
        if (what == 2) b.append(",\"__metadata__\":{\"format\":\"pt\"");
        for (int i = 0; i < n; i++) {
            String id = Integer.toString(i, 36);
            switch (what) {
                case 0 -> b.append(",\"model.layers.").append(i).append(".input_layernorm.weight\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}");
                case 1 -> b.append(",\"").append(id).append("\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}");
                case 2 -> b.append(",\"").append(id).append("\":\"\"");
                default -> b.append(",\"").append(id).append("\":{}");
            }
        }
        b.append(what == 2 ? "}}" : "}");
        steps.add(n + " extra " + new String[] {"empty tensors named for layers", "empty tensors with short names",
                "__metadata__ keys", "members that are empty objects"}[what]);
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static final List<String> NAMES = List.of("transformer.embedding.word_embeddings.weight",
            "transformer.encoder.layers.0.input_layernorm.weight", "model.layers.0.input_layernorm.weight",
            "model.layers.00.self_attn.q_proj.weight", "transformer.encoder.layers.99999999999.input_layernorm.weight",
            "model.layers.2147483648.mlp.down_proj.weight", "transformer.encoder.layers.-1.input_layernorm.weight",
            "model.layers.١.input_layernorm.weight", "transformer.rotary_pos_emb.inv_freq", "lm_head.weight",
            "", "__metadata__x", "a\u0000b", "transformer.encoder.layers.0.mystery.weight", "x".repeat(20_000));

    /** One change to a parsed header: an entry's dtype, shape, offsets, name, or __metadata__. */
    private static String mutateHeaderTree(ObjectNode tree, Random r, long dataBytes) {
        List<String> names = new ArrayList<>();
        tree.properties().stream().map(Map.Entry::getKey).forEach(k -> {
            if (!k.equals("__metadata__")) names.add(k);
        });
        if (names.isEmpty()) return "(no tensor entries left to change)";
        String name = pick(r, names);
        JsonNode entry = tree.get(name);
        ObjectNode e = entry instanceof ObjectNode o ? o : tree.putObject(name);
        switch (r.nextInt(12)) {
            case 0 -> {
                JsonNode v = pick(r, List.<JsonNode>of(NODES.textNode("I8"), NODES.textNode("U8"), NODES.textNode("F64"),
                        NODES.textNode("I64"), NODES.textNode("BOOL"), NODES.textNode("F8_E4M3"), NODES.textNode(""),
                        NODES.textNode("f16"), NODES.textNode("F16 "), NODES.numberNode(1), NODES.nullNode(),
                        NODES.arrayNode(), NODES.objectNode(), NODES.booleanNode(true), NODES.textNode("F32"),
                        NODES.textNode("BF16"), NODES.textNode("F16")));
                e.set("dtype", v);
                return name + ".dtype := " + v;
            }
            case 1, 2 -> {
                ArrayNode shape = NODES.arrayNode();
                JsonNode old = e.get("shape");
                switch (r.nextInt(12)) {
                    case 0 -> { }
                    case 1 -> shape.add(0);
                    case 2 -> shape.add(-1).add(32);
                    case 3 -> shape.add(Long.MAX_VALUE).add(2);
                    case 4 -> shape.add(4294967296L).add(4294967296L);
                    case 5 -> {
                        for (int i = 0; i < 9; i++) shape.add(1);
                    }
                    case 6 -> shape.add(1.5).add(2);
                    case 7 -> shape.add("272").add(32);
                    case 8 -> shape.add(new BigInteger("9223372036854775808")).add(1);
                    case 9 -> shape.add(1e30);
                    case 10 -> {
                        if (old != null && old.isArray()) for (int i = old.size() - 1; i >= 0; i--) shape.add(old.get(i));
                    }
                    default -> {
                        if (old != null && old.isArray() && !old.isEmpty()) {
                            for (JsonNode d : old) shape.add(d);
                            shape.set(0, NODES.numberNode(old.get(0).asLong() + 1));
                        }
                    }
                }
                if (r.nextInt(8) == 0) e.set("shape", pick(r, List.<JsonNode>of(NODES.nullNode(), NODES.textNode("abc"), NODES.objectNode())));
                else e.set("shape", shape);
                return name + ".shape := " + e.get("shape");
            }
            case 3, 4 -> {
                JsonNode old = e.get("data_offsets");
                long b = old != null && old.size() == 2 ? old.get(0).asLong() : 0, end = old != null && old.size() == 2 ? old.get(1).asLong() : 0;
                JsonNode other = tree.get(pick(r, names)).get("data_offsets");
                ArrayNode v = NODES.arrayNode();
                switch (r.nextInt(12)) {
                    case 0 -> v.add(end).add(b);
                    case 1 -> v.add(b).add(end + 1);
                    case 2 -> v.add(b - 1).add(end);
                    case 3 -> v.add(0).add(end - b);
                    case 4 -> {
                        if (other != null) v = other.deepCopy() instanceof ArrayNode a ? a : v;
                    }
                    case 5 -> v.add(b).add(dataBytes + 1);
                    case 6 -> v.add(Long.MAX_VALUE - 1).add(Long.MAX_VALUE);
                    case 7 -> v.add(-1).add(end);
                    case 8 -> v.add(b);
                    case 9 -> v.add(b).add(end).add(0);
                    case 10 -> v.add(1.0).add(2.0);
                    default -> v.add(new BigInteger("18446744073709551616")).add(new BigInteger("18446744073709551617"));
                }
                e.set("data_offsets", v);
                return name + ".data_offsets := " + v;
            }
            case 5 -> {
                String field = new String[] {"dtype", "shape", "data_offsets"}[r.nextInt(3)];
                e.remove(field);
                return name + "." + field + " removed";
            }
            case 6 -> {
                JsonNode v = pick(r, List.<JsonNode>of(NODES.numberNode(1), NODES.textNode("x"), NODES.arrayNode(), NODES.nullNode(),
                        NODES.booleanNode(false)));
                tree.set(name, v);
                return name + " := " + v;
            }
            case 7 -> {
                JsonNode v = pick(r, List.<JsonNode>of(NODES.nullNode(), NODES.numberNode(1), NODES.textNode("x"), NODES.arrayNode(),
                        NODES.objectNode().put("format", 123), NODES.objectNode().set("a", NODES.objectNode().put("b", 1)),
                        NODES.objectNode().put("big", "y".repeat(100_000)),
                        NODES.objectNode().put("dtype", "F32").set("data_offsets", NODES.arrayNode().add(0).add(4))));
                if (r.nextInt(5) == 0) {
                    tree.remove("__metadata__");
                    return "__metadata__ removed";
                }
                tree.set("__metadata__", v);
                return "__metadata__ := " + (v.toString().length() > 80 ? v.toString().substring(0, 80) + "…" : v);
            }
            case 8, 9 -> {
                String newName = pick(r, NAMES);
                ObjectNode renamed = NODES.objectNode();
                tree.properties().forEach(f -> renamed.set(f.getKey().equals(name) ? newName : f.getKey(), f.getValue()));
                tree.removeAll();
                tree.setAll(renamed);
                return "tensor " + name + " renamed " + (newName.length() > 60 ? newName.substring(0, 60) + "…" : newName);
            }
            case 10 -> {
                tree.remove(name);
                return "tensor " + name + " removed";
            }
            default -> {
                String newName = pick(r, NAMES);
                tree.set(newName, e.deepCopy());
                return "tensor " + name + " copied as " + (newName.length() > 60 ? newName.substring(0, 60) + "…" : newName);
            }
        }
    }

    private static final Pattern NUMBER = Pattern.compile("-?\\d+");

    /** Text-level damage to a JSON document: invalid syntax, duplicate keys, deep nesting, huge numbers, bad UTF-8. */
    private static byte[] mutateJsonText(byte[] json, Random r, List<String> steps) {
        String text = new String(json, StandardCharsets.UTF_8);
        switch (r.nextInt(11)) {
            case 0 -> {
                int cut = r.nextInt(json.length);
                steps.add("JSON cut at " + cut);
                return Arrays.copyOf(json, cut);
            }
            case 1 -> {
                int at = r.nextInt(text.length() + 1);
                String c = new String[] {"{", "}", "[", "]", ",", ":", "\"", "\\", "\u0000", "x", " ", "\\u"}[r.nextInt(12)];
                steps.add("JSON: '" + c + "' inserted at " + at);
                return (text.substring(0, at) + c + text.substring(at)).getBytes(StandardCharsets.UTF_8);
            }
            case 2 -> {
                // duplicate the first member (names a key twice)
                int open = text.indexOf('{');
                int end = memberEnd(text, open + 1);
                if (open < 0 || end < 0) return json;
                String member = text.substring(open + 1, end);
                steps.add("JSON: first member duplicated");
                return (text.substring(0, open + 1) + member + "," + text.substring(open + 1)).getBytes(StandardCharsets.UTF_8);
            }
            case 3, 4 -> {
                int depth = new int[] {50, 500, 999, 1001, 5_000, 100_000}[r.nextInt(6)];
                String deep = "[".repeat(depth) + "]".repeat(depth);
                Matcher m = NUMBER.matcher(text);
                List<int[]> spans = new ArrayList<>();
                while (m.find()) spans.add(new int[] {m.start(), m.end()});
                if (spans.isEmpty()) return json;
                int[] s = pick(r, spans);
                steps.add("JSON: a number replaced by arrays nested " + depth + " deep");
                return (text.substring(0, s[0]) + deep + text.substring(s[1])).getBytes(StandardCharsets.UTF_8);
            }
            case 5, 6 -> {
                String big = new String[] {"1" + "0".repeat(5000), "1e999999", "-0", "1.0e2", "0x10", "NaN", "Infinity",
                        "9223372036854775808", "18446744073709551616", "-9223372036854775809", "1" + "0".repeat(999), "01"}[r.nextInt(12)];
                Matcher m = NUMBER.matcher(text);
                List<int[]> spans = new ArrayList<>();
                while (m.find()) spans.add(new int[] {m.start(), m.end()});
                if (spans.isEmpty()) return json;
                int[] s = pick(r, spans);
                steps.add("JSON: number " + text.substring(s[0], s[1]) + " := " + (big.length() > 30 ? big.substring(0, 30) + "…" : big));
                return (text.substring(0, s[0]) + big + text.substring(s[1])).getBytes(StandardCharsets.UTF_8);
            }
            case 7 -> {
                byte[][] bad = {{(byte) 0xFF}, {(byte) 0xC0, (byte) 0x80}, {(byte) 0xED, (byte) 0xA0, (byte) 0x80}, {(byte) 0x80},
                        {(byte) 0xE2, (byte) 0x82}, {(byte) 0xF8, (byte) 0x88, (byte) 0x80, (byte) 0x80, (byte) 0x80}};
                byte[] b = bad[r.nextInt(bad.length)];
                int quote = nthQuote(json, r);
                steps.add("JSON: invalid UTF-8 " + b.length + " bytes after byte " + quote);
                byte[] out = new byte[json.length + b.length];
                System.arraycopy(json, 0, out, 0, quote + 1);
                System.arraycopy(b, 0, out, quote + 1, b.length);
                System.arraycopy(json, quote + 1, out, quote + 1 + b.length, json.length - quote - 1);
                return out;
            }
            case 8 -> {
                String whole = new String[] {"", "null", "[]", "\"x\"", "1", "{}", "{}{}", "\uFEFF" + text, text + "x", "[" + text + "]"}[r.nextInt(10)];
                steps.add("JSON document := " + (whole.length() > 20 ? whole.substring(0, 20) + "…" : whole));
                return whole.getBytes(StandardCharsets.UTF_8);
            }
            case 9 -> {
                int at = r.nextInt(json.length);
                byte[] out = json.clone();
                out[at] ^= (byte) (1 << r.nextInt(8));
                steps.add("JSON: bit flip at " + at);
                return out;
            }
            default -> {
                String v = "\"" + "\\uD800".repeat(1 + r.nextInt(3)) + "\"";
                int q = text.indexOf("\"");
                if (q < 0) return json;
                steps.add("JSON: first key := unpaired surrogate escapes");
                int q2 = text.indexOf('"', q + 1);
                return (text.substring(0, q) + v + text.substring(q2 + 1)).getBytes(StandardCharsets.UTF_8);
            }
        }
    }

    /** The index of a random '"' in the document (0 when there is none). */
    private static int nthQuote(byte[] json, Random r) {
        List<Integer> quotes = new ArrayList<>();
        for (int i = 0; i < json.length; i++) if (json[i] == '"') quotes.add(i);
        return quotes.isEmpty() ? 0 : pick(r, quotes);
    }

    /** The end of the JSON member starting at {@code from} (the index of the ',' or '}' after it), or -1. */
    private static int memberEnd(String text, int from) {
        int depth = 0;
        boolean inString = false;
        for (int i = from; i < text.length(); i++) {
            char c = text.charAt(i);
            if (inString) {
                if (c == '\\') i++;
                else if (c == '"') inString = false;
            } else if (c == '"') {
                inString = true;
            } else if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (depth == 0) return i;
                depth--;
            } else if (c == ',' && depth == 0) {
                return i;
            }
        }
        return -1;
    }

    private static final List<String> CONFIG_FIELDS = List.of("hidden_size", "num_attention_heads", "kv_channels",
            "multi_query_attention", "multi_query_group_num", "rope_ratio", "num_layers", "num_hidden_layers",
            "ffn_hidden_size", "seq_length", "padded_vocab_size", "layernorm_epsilon", "add_qkv_bias", "model_type",
            "rope_scaling", "head_dim", "partial_rotary_factor", "intermediate_size", "vocab_size", "rope_theta");

    /** config.json: odd field values (types, signs, sizes), removed fields, or text-level damage. */
    private static byte[] mutateJsonFile(byte[] json, Random r, List<String> steps, boolean config) {
        if (r.nextInt(3) == 0) return mutateJsonText(json, r, steps);
        ObjectNode tree;
        try {
            tree = (ObjectNode) HfConfig.JSON.readTree(json);
        } catch (IOException | ClassCastException e) {
            return mutateJsonText(json, r, steps);
        }
        String field = pick(r, CONFIG_FIELDS);
        if (r.nextInt(6) == 0) {
            tree.remove(field);
            steps.add("config " + field + " removed");
        } else if (r.nextInt(10) == 0) {
            if (r.nextBoolean()) return manyEntries(json, r, steps);
            byte[] padded = Arrays.copyOf(json, (int) HfConfig.MAX_CONFIG_BYTES + 1);
            Arrays.fill(padded, json.length, padded.length, (byte) ' ');
            steps.add("config padded past " + HfConfig.MAX_CONFIG_BYTES + " bytes");
            return padded;
        } else {
            JsonNode v = pick(r, List.<JsonNode>of(NODES.numberNode(0), NODES.numberNode(-1), NODES.numberNode(1), NODES.numberNode(2),
                    NODES.numberNode(3), NODES.numberNode(2147483648L), NODES.numberNode(Integer.MAX_VALUE), NODES.numberNode(1e308),
                    NODES.numberNode(1e-320), NODES.numberNode(-0.0), NODES.numberNode(1.5), NODES.textNode("32"),
                    NODES.booleanNode(true), NODES.nullNode(), NODES.arrayNode(), NODES.objectNode(), NODES.textNode("glm"),
                    NODES.textNode("chatglm"), NODES.numberNode(new BigInteger("1" + "0".repeat(400))), NODES.numberNode(65),
                    NODES.numberNode(7), NODES.numberNode(1 << 20)));
            tree.set(field, v);
            steps.add("config " + field + " := " + v);
        }
        return tree.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] mutateIndex(byte[] json, Random r, List<String> steps) {
        if (r.nextInt(4) == 0) return r.nextBoolean() ? mutateJsonText(json, r, steps) : manyEntries(json, r, steps);
        ObjectNode tree;
        try {
            tree = (ObjectNode) HfConfig.JSON.readTree(json);
        } catch (IOException | ClassCastException e) {
            return mutateJsonText(json, r, steps);
        }
        JsonNode map = tree.get("weight_map");
        if (r.nextInt(5) == 0 || !(map instanceof ObjectNode weights)) {
            JsonNode v = pick(r, List.<JsonNode>of(NODES.arrayNode(), NODES.objectNode(), NODES.textNode("x"), NODES.nullNode()));
            tree.set("weight_map", v);
            steps.add("weight_map := " + v);
        } else {
            List<String> keys = new ArrayList<>();
            weights.properties().forEach(p -> keys.add(p.getKey()));
            String key = r.nextInt(4) == 0 ? "transformer.extra.weight" : pick(r, keys);
            JsonNode v = pick(r, List.<JsonNode>of(NODES.textNode(""), NODES.textNode("../model.safetensors"),
                    NODES.textNode(".hidden"), NODES.textNode("a/b"), NODES.textNode("a\\b"), NODES.textNode("x\u0000y"),
                    NODES.textNode("config.json"), NODES.textNode(HfCheckpoint.INDEX), NODES.textNode("missing.safetensors"),
                    NODES.numberNode(123), NODES.nullNode(), NODES.objectNode(), NODES.textNode("model-00002-of-00002.safetensors"),
                    NODES.textNode("model-00001-of-00002.safetensors"), NODES.textNode("\uD800.safetensors")));
            weights.set(key, v);
            steps.add("weight_map " + key + " := " + v);
        }
        return tree.toString().getBytes(StandardCharsets.UTF_8);
    }

    // ============================================================================================ the corpus

    /** Figures of a run. */
    public static final class Summary {
        public final Map<Kind, int[]> counts = new LinkedHashMap<>(); // cases, loaded, rejected, failed
        public final Map<String, Integer> categories = new TreeMap<>();
        public final Map<String, Integer> tokenizerCategories = new TreeMap<>();
        public final List<Outcome> failures = new ArrayList<>();
        public Outcome slowest, largestRatio, largestOverFile;
        public long tokenizerLoaded, tokenizerRejected;

        void add(Outcome o) {
            int[] c = counts.computeIfAbsent(o.kind(), k -> new int[4]);
            c[0]++;
            if (o.failure() != null) {
                c[3]++;
                failures.add(o);
                return;
            }
            if (o.loaded()) c[1]++;
            else {
                c[2]++;
                categories.merge(o.kind() + ": " + category(o.rejection()), 1, Integer::sum);
            }
            if (o.kind() == Kind.GGUF) {
                if (o.tokenizerLoaded()) tokenizerLoaded++;
                else {
                    tokenizerRejected++;
                    tokenizerCategories.merge(category(o.tokenizerRejection()), 1, Integer::sum);
                }
            }
            if (slowest == null || o.nanos() > slowest.nanos()) slowest = o;
            if (largestOverFile == null || o.allocated() - o.fileBytes() > largestOverFile.allocated() - largestOverFile.fileBytes()) {
                largestOverFile = o;
            }
            // below 1 MiB the fixed costs of a load dominate the ratio (a 13-byte file still builds an exception)
            if (o.fileBytes() >= 1 << 20 && (largestRatio == null || ratio(o) > ratio(largestRatio))) largestRatio = o;
        }

        static double ratio(Outcome o) { return (double) o.allocated() / Math.max(1, o.fileBytes()); }

        public int cases() { return counts.values().stream().mapToInt(c -> c[0]).sum(); }

        public void print(java.io.PrintStream out, int topCategories) {
            for (var e : counts.entrySet()) {
                int[] c = e.getValue();
                out.printf("%-12s cases %6d   loaded %5d   rejected %6d   failures %d%n", e.getKey(), c[0], c[1], c[2], c[3]);
            }
            out.printf("tokenizer (GGUF cases): loaded %d, rejected %d%n", tokenizerLoaded, tokenizerRejected);
            out.println("rejections by message category (model load):");
            categories.entrySet().stream().sorted(Map.Entry.<String, Integer>comparingByValue().reversed()).limit(topCategories)
                    .forEach(e -> out.printf("  %6d  %s%n", e.getValue(), e.getKey()));
            if (categories.size() > topCategories) out.printf("  (%d more categories)%n", categories.size() - topCategories);
            out.println("tokenizer rejections by message category:");
            tokenizerCategories.entrySet().stream().sorted(Map.Entry.<String, Integer>comparingByValue().reversed()).limit(topCategories)
                    .forEach(e -> out.printf("  %6d  %s%n", e.getValue(), e.getKey()));
            if (slowest != null) {
                out.printf("slowest case: %.1f ms (%s %d: %s)%n", slowest.nanos() / 1e6, slowest.kind(), slowest.index(), slowest.mutation());
                out.printf("largest allocation beyond the file's size: %d bytes for a %d-byte file, %.2f MiB over it "
                        + "(limit: file + %d MiB; %s %d: %s)%n", largestOverFile.allocated(), largestOverFile.fileBytes(),
                        (largestOverFile.allocated() - largestOverFile.fileBytes()) / 1048576.0, ALLOWANCE >> 20,
                        largestOverFile.kind(), largestOverFile.index(), largestOverFile.mutation());
                if (largestRatio != null) {
                    out.printf("largest allocation / file size, files of 1 MiB or more: %.3f (%d bytes for %d bytes; %s %d: %s)%n",
                            ratio(largestRatio), largestRatio.allocated(), largestRatio.fileBytes(), largestRatio.kind(),
                            largestRatio.index(), largestRatio.mutation());
                }
            }
            out.println("failures: " + failures.size());
            for (Outcome f : failures.subList(0, Math.min(20, failures.size()))) out.println(f);
        }
    }

    /** Runs cases {@code [0, gguf)} and {@code [0, safetensors)}; {@code each} sees every outcome. */
    public Summary runCorpus(int gguf, int safetensors, java.util.function.Consumer<Outcome> each) {
        Summary summary = new Summary();
        for (int i = 0; i < gguf; i++) {
            Outcome o = run(Kind.GGUF, i);
            summary.add(o);
            each.accept(o);
        }
        for (int i = 0; i < safetensors; i++) {
            Outcome o = run(Kind.SAFETENSORS, i);
            summary.add(o);
            each.accept(o);
        }
        return summary;
    }

    /**
     * {@code bin/fuzz-models}: {@code [--gguf N] [--safetensors N] [--seed S] [--timeout-ms T]
     * [--replay gguf:I|safetensors:I [--save DIR]]}. Exits 1 when a case fails.
     */
    public static void main(String[] args) throws Exception {
        int gguf = 10_000, safetensors = 2_000;
        long seed = 1;
        long timeout = DEFAULT_TIMEOUT_MS;
        String replay = null;
        Path save = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--gguf" -> gguf = Integer.parseInt(args[++i]);
                case "--safetensors" -> safetensors = Integer.parseInt(args[++i]);
                case "--seed" -> seed = Long.parseLong(args[++i]);
                case "--timeout-ms" -> timeout = Long.parseLong(args[++i]);
                case "--replay" -> replay = args[++i];
                case "--save" -> save = Path.of(args[++i]);
                default -> {
                    System.err.println("usage: bin/fuzz-models [--gguf N] [--safetensors N] [--seed S] [--timeout-ms T] "
                            + "[--replay gguf:I|safetensors:I [--save DIR]]");
                    System.exit(2);
                }
            }
        }
        Path work = Files.createTempDirectory("model-fuzz");
        try (ModelFuzzer fuzzer = new ModelFuzzer(work, seed, timeout)) {
            if (replay != null) {
                String[] kindIndex = replay.split(":");
                Kind kind = Kind.valueOf(kindIndex[0].toUpperCase());
                int index = Integer.parseInt(kindIndex[1]);
                Outcome o = fuzzer.run(kind, index);
                System.out.println(o);
                if (o.tokenizerRejection() != null) System.out.println("  tokenizer: " + o.tokenizerRejection());
                if (save != null) {
                    Files.createDirectories(save);
                    for (var e : fuzzer.files(kind, index).entrySet()) Files.write(save.resolve(e.getKey()), e.getValue());
                    System.out.println("  files written to " + save);
                }
                System.exit(o.failure() == null ? 0 : 1);
            }
            long started = System.nanoTime();
            int[] done = {0};
            int total = gguf + safetensors;
            Summary summary = fuzzer.runCorpus(gguf, safetensors, o -> {
                if (++done[0] % 1000 == 0) System.err.printf("  %d / %d cases%n", done[0], total);
                if (o.failure() != null) System.err.println(o);
            });
            System.out.printf("model fuzz corpus, seed %d: %d cases in %.1f s (JVM max heap %d MiB)%n", seed, summary.cases(),
                    (System.nanoTime() - started) / 1e9, Runtime.getRuntime().maxMemory() >> 20);
            summary.print(System.out, 40);
            System.exit(summary.failures.isEmpty() ? 0 : 1);
        } finally {
            deleteTree(work);
        }
    }
}
