package io.sparkglm.spark.source;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparkglm.generate.SamplingParams;
import io.sparkglm.spark.conf.CallOptions;
import io.sparkglm.spark.conf.GlmConf;
import io.sparkglm.spark.executor.GlmRunner.Prompt;
import io.sparkglm.constrain.LabelScorer;
import io.sparkglm.spark.task.ExtractTypes;
import io.sparkglm.spark.task.Extractor;
import io.sparkglm.spark.task.Summarizer;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Pattern;
import org.apache.spark.sql.types.StructType;

/**
 * The options of {@code format("glm")}, parsed and validated once, on the driver, while the query is analyzed.
 * Engine settings have the names of the {@code spark.glm.*} conf (with or without the prefix, any case) and
 * override the session's values; glm_generate's per-call options (system, stop, max_tokens, top_p, top_k) work
 * for task generate. Task extract needs option schema, task classify option labels; both are checked here.
 *
 * @param paths              files or directories of Parquet files
 * @param task               summarize, generate, count_tokens, extract or classify
 * @param textColumn         the column sent to the model (the prompt column for generate)
 * @param maxWords           summary length (summarize)
 * @param idColumn           the column that identifies a document (needed by resumeFrom), or null
 * @param resumeFrom         an earlier (partial) output whose ids are skipped, or null
 * @param tokensPerPartition the work budget of one partition in estimated tokens
 * @param bytesPerToken      UTF-8 bytes per token the planner assumes
 * @param conf               the engine settings: session conf overridden by options
 * @param call               max_tokens, sampling, system turn and stop strings of each row's request
 * @param extractor          task extract: the schema's prompt, grammar and parsing (glm_extract's); else null
 * @param labels             task classify: the labels to choose from; else null
 */
public record GlmSourceOptions(List<String> paths, GlmTask task, String textColumn, int maxWords, String idColumn,
                               String resumeFrom, long tokensPerPartition, double bytesPerToken, GlmConf conf,
                               Call call, Extractor extractor, List<String> labels) implements Serializable {

    /**
     * A row's request settings: {@link CallOptions} in a serializable form (its SamplingParams is not
     * Serializable, and these travel to the executors).
     */
    public record Call(String system, int maxTokens, List<String> stop, float temperature, int topK, float topP,
                       float minP, float repetitionPenalty, long seed) implements Serializable {

        static Call of(CallOptions o) {
            SamplingParams s = o.sampling();
            return new Call(o.system(), o.maxTokens(), List.copyOf(o.stop()), s.temperature(), s.topK(), s.topP(), s.minP(),
                    s.repetitionPenalty(), s.seed());
        }

        public SamplingParams sampling() {
            return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, seed);
        }
    }

    public static final long DEFAULT_TOKENS_PER_PARTITION = 200_000;
    public static final double DEFAULT_BYTES_PER_TOKEN = 3.0;

    /** Source options (lower case, as Spark's case-insensitive maps give them) besides the engine settings. */
    private static final List<String> SOURCE_KEYS = List.of("path", "paths", "task", "textcolumn", "promptcolumn",
            "maxwords", "idcolumn", "resumefrom", "tokensperpartition", "bytespertoken", "schema", "labels");
    /** glm_generate's per-call options that are not also spark.glm settings. */
    private static final List<String> CALL_KEYS = List.of("system", "stop", "max_tokens", "top_p", "top_k");

    /** Parses the source's options over the session's {@code spark.glm.*} settings. */
    public static GlmSourceOptions parse(Map<String, String> options, Map<String, String> sessionConf) {
        Map<String, String> lower = new LinkedHashMap<>();
        options.forEach((k, v) -> lower.put(k.toLowerCase(Locale.ROOT), v));

        Map<String, String> confKeys = new HashMap<>(); // lower-case name -> spark.glm.Name
        GlmConf.DEFAULTS.keySet().forEach(k -> confKeys.put(k.toLowerCase(Locale.ROOT), GlmConf.PREFIX + k));
        Map<String, String> merged = new HashMap<>(sessionConf);
        Map<String, String> callOptions = new HashMap<>();
        for (var e : lower.entrySet()) {
            String key = e.getKey();
            String name = key.startsWith(GlmConf.PREFIX) ? key.substring(GlmConf.PREFIX.length()) : key;
            if (confKeys.containsKey(name)) {
                merged.put(confKeys.get(name), e.getValue());
            } else if (CALL_KEYS.contains(key)) {
                callOptions.put(key, e.getValue());
            } else if (!SOURCE_KEYS.contains(key)) {
                TreeSet<String> allowed = new TreeSet<>(List.of("path", "task", "textColumn", "promptColumn", "maxWords",
                        "idColumn", "resumeFrom", "tokensPerPartition", "bytesPerToken", "schema", "labels"));
                allowed.addAll(GlmConf.DEFAULTS.keySet());
                allowed.addAll(CALL_KEYS);
                throw new GlmSourceException("Unknown option '" + key + "' for format(\"glm\"); options: " + String.join(", ", allowed));
            }
        }
        GlmConf conf = GlmConf.parse(merged);
        conf.requireModel();

        GlmTask task = GlmTask.parse(lower.getOrDefault("task", "summarize"));
        String text = lower.get(task == GlmTask.GENERATE && lower.containsKey("promptcolumn") ? "promptcolumn" : "textcolumn");
        if (text == null || text.isBlank()) {
            throw new GlmSourceException("format(\"glm\") needs option textColumn (the column holding the documents"
                    + (task == GlmTask.GENERATE ? "; or promptColumn for task generate)" : ")"));
        }
        int maxWords = (int) number(lower, "maxwords", "maxWords", 100, 1, 10_000);
        if (task != GlmTask.GENERATE && !callOptions.isEmpty()) {
            throw new GlmSourceException("Options " + callOptions.keySet() + " apply to task generate only (task is "
                    + task.optionName() + ")");
        }
        Call call = Call.of(switch (task) {
            case GENERATE -> CallOptions.parse(callOptions, conf);
            case SUMMARIZE -> new CallOptions(null, Summarizer.maxTokens(maxWords, conf.maxNewTokens()), conf.sampling(), List.of());
            // extract raises this to the schema's shortest JSON on the executor (Extractor.submit); classify generates nothing
            case EXTRACT, CLASSIFY, COUNT_TOKENS -> new CallOptions(null, conf.maxNewTokens(), conf.sampling(), List.of());
        });
        Extractor extractor = onlyFor(task, GlmTask.EXTRACT, lower, "schema") ? extractor(lower.get("schema")) : null;
        List<String> labels = onlyFor(task, GlmTask.CLASSIFY, lower, "labels") ? labels(lower.get("labels")) : null;

        String idColumn = blankToNull(lower.get("idcolumn"));
        String resumeFrom = blankToNull(lower.get("resumefrom"));
        if (resumeFrom != null && idColumn == null) {
            throw new GlmSourceException("Option resumeFrom needs option idColumn: the column that identifies a document "
                    + "in both the input and the earlier output");
        }
        long budget = number(lower, "tokensperpartition", "tokensPerPartition", DEFAULT_TOKENS_PER_PARTITION, 1, Long.MAX_VALUE);
        double bytesPerToken = DEFAULT_BYTES_PER_TOKEN;
        if (lower.containsKey("bytespertoken")) {
            try {
                bytesPerToken = Double.parseDouble(lower.get("bytespertoken").trim());
            } catch (NumberFormatException e) {
                bytesPerToken = Double.NaN;
            }
            if (!(bytesPerToken > 0) || Double.isInfinite(bytesPerToken)) {
                throw new GlmSourceException("Bad value for option bytesPerToken: '" + lower.get("bytespertoken") + "'; allowed: a number > 0");
            }
        }
        return new GlmSourceOptions(paths(lower), task, text.trim(), maxWords, idColumn, resumeFrom, budget, bytesPerToken, conf, call, extractor,
                labels);
    }

    /** The columns the task adds after the input columns. */
    public StructType outputColumns() {
        return task.outputColumns(extractor == null ? null : extractor.schema());
    }

    /** The request for one row's text (summarize, generate; extract and classify prompt through their helpers). */
    public Prompt prompt(String text) {
        return switch (task) {
            case SUMMARIZE -> Summarizer.prompt(text, maxWords);
            case GENERATE -> new Prompt(call.system(), null, text);
            case EXTRACT -> extractor.prompt(text);
            case COUNT_TOKENS, CLASSIFY -> throw new IllegalStateException(task.optionName() + " sends no generation prompt");
        };
    }

    public int maxTokens() {
        return call.maxTokens();
    }

    public SamplingParams sampling() {
        return call.sampling();
    }

    /** Tokens one row may generate: the planner's per-row cost on top of the prompt. */
    public int generatedPerRow() {
        return task == GlmTask.COUNT_TOKENS || task == GlmTask.CLASSIFY ? 0 : call.maxTokens();
    }

    /** Whether the task's own option is needed: required by {@code owner}, refused by the other tasks. */
    private static boolean onlyFor(GlmTask task, GlmTask owner, Map<String, String> lower, String option) {
        if (task == owner) return true;
        if (lower.containsKey(option)) {
            throw new GlmSourceException("Option " + option + " applies to task " + owner.optionName() + " only (task is "
                    + task.optionName() + ")");
        }
        return false;
    }

    private static final String SCHEMA_USAGE = "a DDL field list such as 'party STRING, signed DATE, "
            + "amount DOUBLE, items ARRAY<STRING>', or field names (all STRING) such as 'party, signed' or '[\"party\", \"signed\"]'";
    private static final Pattern NAME = Pattern.compile("[\\p{L}_][\\p{L}\\p{N}_]*");

    /** Option schema: a DDL field list (glm_extract's string form) or a list of field names (its array form). */
    static Extractor extractor(String value) {
        if (value == null || value.isBlank()) {
            throw new GlmSourceException("format(\"glm\") task extract needs option schema: " + SCHEMA_USAGE);
        }
        try {
            boolean json = value.trim().startsWith("[");
            List<String> names = json ? jsonList(value, "schema") : List.of(value.split(",", -1)).stream().map(String::trim).toList();
            boolean allNames = json || names.stream().allMatch(n -> NAME.matcher(n).matches());
            return new Extractor(allNames ? ExtractTypes.fromNames(names) : ExtractTypes.fromDdl(value));
        } catch (IllegalArgumentException e) {
            throw new GlmSourceException("Bad value for option schema: " + e.getMessage() + "; expected " + SCHEMA_USAGE);
        }
    }

    /** Option labels: comma-separated, or a JSON array of strings (for labels that hold commas). */
    static List<String> labels(String value) {
        String usage = "; expected labels such as 'positive, negative, neutral' or '[\"positive\", \"negative\"]'";
        if (value == null || value.isBlank()) throw new GlmSourceException("format(\"glm\") task classify needs option labels" + usage);
        List<String> labels = value.trim().startsWith("[") ? jsonList(value, "labels")
                : List.of(value.split(",", -1)).stream().map(String::trim).toList();
        try {
            return List.copyOf(LabelScorer.checkLabels(labels));
        } catch (IllegalArgumentException e) {
            throw new GlmSourceException("Bad value for option labels: " + e.getMessage() + usage);
        }
    }

    private static List<String> jsonList(String value, String option) {
        try {
            return List.of(new ObjectMapper().readValue(value, String[].class));
        } catch (java.io.IOException | NullPointerException e) {
            throw new GlmSourceException("Bad value for option " + option + " (a JSON array of strings expected): " + value);
        }
    }

    private static List<String> paths(Map<String, String> lower) {
        List<String> paths = new ArrayList<>();
        if (lower.get("path") != null && !lower.get("path").isBlank()) paths.add(lower.get("path"));
        if (lower.get("paths") != null) {
            try {
                // DataFrameReader.load(p1, p2, ...) passes a JSON array
                for (String p : new ObjectMapper().readValue(lower.get("paths"), String[].class)) paths.add(p);
            } catch (java.io.IOException e) {
                throw new GlmSourceException("Bad value for option paths (a JSON array of strings expected): " + lower.get("paths"));
            }
        }
        if (paths.isEmpty()) {
            throw new GlmSourceException("format(\"glm\") needs a path: load(\"docs.parquet\"), option(\"path\", ...) or "
                    + "OPTIONS (path '...') in SQL");
        }
        return List.copyOf(paths);
    }

    private static long number(Map<String, String> lower, String key, String name, long dflt, long min, long max) {
        String v = lower.get(key);
        if (v == null) return dflt;
        try {
            long n = Long.parseLong(v.trim());
            if (n >= min && n <= max) return n;
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new GlmSourceException("Bad value for option " + name + ": '" + v + "'; allowed: an integer in " + min + ".." + max);
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s.trim();
    }
}
