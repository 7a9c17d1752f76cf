package io.sparkglm.spark.conf;

import io.sparkglm.generate.EngineOptions;
import io.sparkglm.generate.SamplingParams;
import java.io.Serializable;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import org.apache.spark.network.util.JavaUtils;

/**
 * Every {@code spark.glm.*} setting, parsed and validated in one place. The SQL functions parse the session
 * configuration with {@link #parse(Map)} while a query is analyzed, so a typo or a bad value fails the query
 * before any task starts; the parsed record then travels to the executors inside the function.
 *
 * @param model              GGUF file or Hugging Face folder (a local path, or the name of a file shipped
 *                           with {@code --files}); null when not set
 * @param backend            cpu, tornado or auto
 * @param threads            engine compute threads per executor JVM (0 = all cores)
 * @param maxContext         context cap in tokens, prompt + generated (0 = the model's own)
 * @param maxNewTokens       most generated tokens per row
 * @param temperature        default sampling temperature (0 = greedy, the default)
 * @param topP               default nucleus sampling cutoff
 * @param topK               default top-k (0 = off)
 * @param seed               default sampling seed: outputs are a pure function of (model, input, options, seed)
 * @param batchSize          most sequences the engine decodes together (and rows a partition keeps in flight)
 * @param prefillChunk       prompt tokens per forward step
 * @param kvCacheType        f32, f16, q8_0 or auto (the smallest-error type whose caches fit the KV memory)
 * @param kvCacheMemory      bytes the KV caches of one engine may take together (0 = auto: the machine's memory
 *                           less the heap limit and the weights); a row whose cache cannot fit gets an error
 * @param stepTimeoutMillis  a forward step running longer fails the engine and the tasks waiting on it (0 = never)
 * @param longDocumentPolicy what to do with a document longer than the context
 * @param chunkOverlap       mapreduce: tokens a chunk repeats from the end of the one before it
 * @param onError            what a failed row becomes
 * @param batchSql           SQL functions keep batchSize rows of a task in the engine at once (false: one row at a time)
 */
public record GlmConf(String model, String backend, int threads, int maxContext, int maxNewTokens,
                      float temperature, float topP, int topK, long seed, int batchSize, int prefillChunk,
                      String kvCacheType, long kvCacheMemory, long stepTimeoutMillis,
                      LongDocumentPolicy longDocumentPolicy, int chunkOverlap, OnError onError, boolean batchSql)
        implements Serializable {

    public static final String PREFIX = "spark.glm.";

    /**
     * A document longer than the context: fail the row, cut it and say so in the result, or split it into chunks
     * that fit and combine what each gives (summaries and extraction; docs/adr/0013-long-documents.md).
     */
    public enum LongDocumentPolicy { ERROR, TRUNCATE, MAPREDUCE }

    /** The largest chunkOverlap accepted; it must also be under half of each chunk's budget (checked per row). */
    public static final int MAX_CHUNK_OVERLAP = 65_536;

    /** A failed row: NULL (counted in the failure metric), or fail the task. */
    public enum OnError { NULL, FAIL }

    /** Setting names (without the prefix) with their defaults, in documentation order. */
    public static final Map<String, String> DEFAULTS = defaults();

    private static Map<String, String> defaults() {
        Map<String, String> d = new LinkedHashMap<>();
        d.put("model", "");
        d.put("backend", "cpu");
        d.put("threads", "0");
        d.put("maxContext", "0");
        d.put("maxNewTokens", "256");
        d.put("temperature", "0");
        d.put("topP", "1");
        d.put("topK", "0");
        d.put("seed", "0");
        d.put("batchSize", "16");
        d.put("prefillChunk", "512");
        d.put("kvCacheType", "f32");
        d.put("kvCacheMemory", "auto");
        d.put("stepTimeout", "30min");
        d.put("longDocumentPolicy", "error");
        d.put("chunkOverlap", "0");
        d.put("onError", "null");
        d.put("batchSql", "true");
        return java.util.Collections.unmodifiableMap(d);
    }

    public static final Set<String> BACKENDS = Set.of("cpu", "tornado", "auto");

    private static final String KV_MEMORY_ALLOWED = "auto, or a size such as 8g or 512m";
    private static final String POLICIES = "error, truncate or mapreduce";
    private static final String CHUNK_OVERLAP_ALLOWED = "an integer in 0.." + MAX_CHUNK_OVERLAP
            + " (tokens; under half of a chunk, which the context and max_tokens size)";
    private static final String STEP_TIMEOUT_ALLOWED = "a duration such as 30min, 600s or 2h (0 = never)";

    public GlmConf {
        // The record is also built directly (tests, Dataset API): the same checks as parse().
        if (!BACKENDS.contains(backend)) throw bad("backend", backend, "one of cpu, tornado, auto");
        if (threads < 0) throw bad("threads", threads, "an integer >= 0 (0 = all cores)");
        if (maxContext < 0) throw bad("maxContext", maxContext, "an integer >= 0 (0 = the model's own)");
        if (maxNewTokens < 1) throw bad("maxNewTokens", maxNewTokens, "an integer >= 1");
        if (!(temperature >= 0) || Float.isInfinite(temperature)) throw bad("temperature", temperature, "a number >= 0 (0 = greedy)");
        if (!(topP > 0 && topP <= 1)) throw bad("topP", topP, "a number in (0, 1]");
        if (topK < 0) throw bad("topK", topK, "an integer >= 0 (0 = off)");
        if (batchSize < 1) throw bad("batchSize", batchSize, "an integer >= 1");
        if (prefillChunk < 0) throw bad("prefillChunk", prefillChunk, "an integer >= 0 (0 = whole prompt)");
        if (!io.sparkglm.backend.KvCacheType.isValidOption(kvCacheType)) {
            throw bad("kvCacheType", kvCacheType, io.sparkglm.backend.KvCacheType.ALLOWED);
        }
        if (kvCacheMemory < 0) throw bad("kvCacheMemory", kvCacheMemory, KV_MEMORY_ALLOWED);
        if (stepTimeoutMillis < 0) throw bad("stepTimeout", stepTimeoutMillis, STEP_TIMEOUT_ALLOWED);
        if (longDocumentPolicy == null) throw bad("longDocumentPolicy", null, POLICIES);
        if (chunkOverlap < 0 || chunkOverlap > MAX_CHUNK_OVERLAP) throw bad("chunkOverlap", chunkOverlap, CHUNK_OVERLAP_ALLOWED);
        if (onError == null) throw bad("onError", null, "null or fail");
        if (model != null && model.isBlank()) model = null;
    }

    /** The defaults with a model. */
    public static GlmConf withModel(String model) {
        return parse(Map.of(PREFIX + "model", model));
    }

    /**
     * Parses the {@code spark.glm.*} entries of a configuration (other keys are ignored). Unknown
     * {@code spark.glm.*} keys and bad values throw {@link GlmConfException} naming the key and what is allowed.
     */
    public static GlmConf parse(Map<String, String> conf) {
        Map<String, String> v = new TreeMap<>();
        DEFAULTS.forEach(v::put);
        for (var e : conf.entrySet()) {
            if (!e.getKey().startsWith(PREFIX)) continue;
            String name = e.getKey().substring(PREFIX.length());
            if (!DEFAULTS.containsKey(name)) {
                throw new GlmConfException("Unknown setting " + e.getKey() + "; the spark.glm settings are: "
                        + String.join(", ", DEFAULTS.keySet().stream().map(k -> PREFIX + k).toList()));
            }
            v.put(name, e.getValue() == null ? "" : e.getValue().trim());
        }
        return new GlmConf(
                v.get("model"),
                lower(v.get("backend")),
                parseNumber(v, "threads", Integer::parseInt, "an integer >= 0 (0 = all cores)"),
                parseNumber(v, "maxContext", Integer::parseInt, "an integer >= 0 (0 = the model's own)"),
                parseNumber(v, "maxNewTokens", Integer::parseInt, "an integer >= 1"),
                parseNumber(v, "temperature", Float::parseFloat, "a number >= 0 (0 = greedy)"),
                parseNumber(v, "topP", Float::parseFloat, "a number in (0, 1]"),
                parseNumber(v, "topK", Integer::parseInt, "an integer >= 0 (0 = off)"),
                parseNumber(v, "seed", Long::parseLong, "an integer"),
                parseNumber(v, "batchSize", Integer::parseInt, "an integer >= 1"),
                parseNumber(v, "prefillChunk", Integer::parseInt, "an integer >= 0 (0 = whole prompt)"),
                lower(v.get("kvCacheType")),
                v.get("kvCacheMemory").equalsIgnoreCase("auto") ? 0
                        : parseNonNegative(v, "kvCacheMemory", JavaUtils::byteStringAsBytes, KV_MEMORY_ALLOWED),
                parseNonNegative(v, "stepTimeout", JavaUtils::timeStringAsMs, STEP_TIMEOUT_ALLOWED),
                parseEnum(v, "longDocumentPolicy", LongDocumentPolicy.class, POLICIES),
                parseNumber(v, "chunkOverlap", Integer::parseInt, CHUNK_OVERLAP_ALLOWED),
                parseEnum(v, "onError", OnError.class, "null or fail"),
                parseBoolean(v, "batchSql"));
    }

    /** The model, or a clear error when {@code spark.glm.model} is not set. */
    public String requireModel() {
        if (model == null) {
            throw new GlmConfException("spark.glm.model is not set: give the path of a GGUF file or a Hugging Face "
                    + "folder, e.g. --conf spark.glm.model=/models/glm-4-9b-chat-1m.Q8_0.gguf");
        }
        return model;
    }

    /** The engine options for this configuration on a given device (-1 = default). */
    public EngineOptions engineOptions(Path resolvedModel, int device) {
        return new EngineOptions(resolvedModel, backend, threads, maxContext, kvCacheType, prefillChunk, batchSize, device,
                kvCacheMemory, stepTimeoutMillis);
    }

    /** The default sampling: greedy unless a temperature is set; the seed makes a sampled row reproducible. */
    public SamplingParams sampling() {
        return new SamplingParams(temperature, topK, topP, 0f, 1f, seed);
    }

    private static String lower(String s) {
        return s.toLowerCase(Locale.ROOT);
    }

    private static <T> T parseNumber(Map<String, String> v, String name, Function<String, T> parser, String allowed) {
        try {
            return parser.apply(v.get(name));
        } catch (NumberFormatException e) {  // JavaUtils' size and duration parsers throw it too
            throw bad(name, v.get(name), allowed);
        }
    }

    /** A size or a duration in Spark's notation ("8g", "30min"), named with its raw value when bad. */
    private static long parseNonNegative(Map<String, String> v, String name, Function<String, Long> parser, String allowed) {
        long value = parseNumber(v, name, parser, allowed);
        if (value < 0) throw bad(name, v.get(name), allowed);
        return value;
    }

    private static boolean parseBoolean(Map<String, String> v, String name) {
        String value = v.get(name).toLowerCase(Locale.ROOT);
        if (value.equals("true") || value.equals("false")) return Boolean.parseBoolean(value);
        throw bad(name, v.get(name), "true or false");
    }

    private static <E extends Enum<E>> E parseEnum(Map<String, String> v, String name, Class<E> type, String allowed) {
        try {
            return Enum.valueOf(type, v.get(name).toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw bad(name, v.get(name), allowed);
        }
    }

    private static GlmConfException bad(String name, Object value, String allowed) {
        return new GlmConfException("Bad value for " + PREFIX + name + ": '" + value + "'; allowed: " + allowed);
    }
}
