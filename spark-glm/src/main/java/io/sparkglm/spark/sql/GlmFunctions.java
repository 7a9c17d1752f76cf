package io.sparkglm.spark.sql;

import io.sparkglm.spark.conf.CallOptions;
import io.sparkglm.spark.conf.GlmConf;
import io.sparkglm.spark.conf.GlmConfException;
import io.sparkglm.spark.conf.SessionSettings;
import io.sparkglm.spark.executor.GlmMetrics;
import io.sparkglm.spark.executor.GlmRunner;
import io.sparkglm.spark.task.ExtractTypes;
import io.sparkglm.spark.task.Extractor;
import io.sparkglm.spark.task.Summarizer;
import java.util.List;
import java.util.function.Function;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.SparkSessionExtensions;
import org.apache.spark.sql.catalyst.FunctionIdentifier;
import org.apache.spark.sql.catalyst.expressions.ApplyFunctionExpression;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.ExpressionInfo;
import org.apache.spark.sql.catalyst.util.MapData;
import io.sparkglm.constrain.LabelScorer;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.MapType;
import org.apache.spark.sql.types.StringType;
import org.apache.spark.sql.types.StructType;
import scala.Option;
import scala.Tuple3;
import scala.collection.immutable.Seq;
import scala.jdk.javaapi.CollectionConverters;

/**
 * The glm_* SQL functions. Each builder runs while a query is analyzed, on the driver: it parses the session's
 * {@code spark.glm.*} settings and any literal options, so that a bad setting fails the query before a task
 * starts, and wraps a {@link GlmFunction} (carrying the parsed settings to the executors) in Catalyst's
 * {@link ApplyFunctionExpression}.
 *
 * <p>Register them for every session with {@code spark.sql.extensions=io.sparkglm.spark.sql.GlmExtensions}, or
 * for one session with {@link #register(SparkSession)}.
 */
public final class GlmFunctions {

    private GlmFunctions() {}

    /** One SQL function: its name, usage line and builder. */
    public record Definition(String name, String usage, Function<List<Expression>, Expression> builder) {

        FunctionIdentifier identifier() {
            return new FunctionIdentifier(name, Option.empty(), Option.empty());
        }

        ExpressionInfo info() {
            return new ExpressionInfo(GlmFunctions.class.getName(), null, name, usage, "");
        }

        scala.Function1<Seq<Expression>, Expression> scalaBuilder() {
            return args -> builder.apply(CollectionConverters.asJava(args));
        }
    }

    public static final List<Definition> ALL = List.of(
            new Definition("glm_summarize", "glm_summarize(doc [, max_words]) - a summary of doc in at most max_words "
                    + "words (default 100); NULL for a NULL doc or a failed row",
                    args -> summarize("glm_summarize", args, false)),
            new Definition("glm_summarize_result", "glm_summarize_result(doc [, max_words]) - the summary as "
                    + "STRUCT<text, finish_reason, prompt_tokens, completion_tokens, truncated, error, chunks, levels>",
                    args -> summarize("glm_summarize_result", args, true)),
            new Definition("glm_summarize_agg", "glm_summarize_agg(text [, max_words]) - aggregate: one summary of a group's "
                    + "texts in at most max_words words (default 100, a literal); NULL and blank texts are skipped",
                    args -> summarizeAgg("glm_summarize_agg", args, false)),
            new Definition("glm_summarize_agg_result", "glm_summarize_agg_result(text [, max_words]) - aggregate: the group's "
                    + "summary as STRUCT<text, finish_reason, prompt_tokens, completion_tokens, truncated, error, chunks, levels> "
                    + "(chunks: rows combined; levels: rounds of calls)",
                    args -> summarizeAgg("glm_summarize_agg_result", args, true)),
            new Definition("glm_generate", "glm_generate(prompt [, options]) - the model's answer to one user turn; "
                    + "options MAP<STRING,STRING>: system, max_tokens, temperature, top_p, top_k, seed, stop",
                    args -> generate("glm_generate", args, false)),
            new Definition("glm_generate_result", "glm_generate_result(prompt [, options]) - as glm_generate, as "
                    + "STRUCT<text, finish_reason, prompt_tokens, completion_tokens, truncated, error, chunks, levels>",
                    args -> generate("glm_generate_result", args, true)),
            new Definition("glm_extract", "glm_extract(doc, schema) - the fields of schema read from doc as a STRUCT; schema "
                    + "is a DDL literal such as 'party STRING, signed DATE, amount DECIMAL(12,2), items ARRAY<STRING>' or an "
                    + "ARRAY<STRING> literal of field names (all STRING); output always fits the struct (grammar-constrained)",
                    GlmFunctions::extract),
            new Definition("glm_classify", "glm_classify(doc, labels ARRAY<STRING>) - the most likely label (scored, not generated)",
                    args -> classify("glm_classify", args, false)),
            new Definition("glm_classify_result", "glm_classify_result(doc, labels ARRAY<STRING>) - "
                    + "STRUCT<label STRING, probabilities MAP<STRING,DOUBLE>, error STRING>",
                    args -> classify("glm_classify_result", args, true)),
            new Definition("glm_count_tokens", "glm_count_tokens(text) - tokens of text with the model's tokenizer",
                    GlmFunctions::countTokens),
            new Definition("glm_engine_options", "glm_engine_options() - the engine options this task would use "
                    + "(model path, backend, assigned GPU); loads nothing",
                    GlmFunctions::engineOptions));

    /** Registers the functions in one session (for code that cannot set spark.sql.extensions). */
    public static void register(SparkSession spark) {
        var classic = (org.apache.spark.sql.classic.SparkSession) spark;
        var registry = classic.sessionState().functionRegistry();
        for (Definition d : ALL) registry.createOrReplaceTempFunction(d.name(), d.scalaBuilder(), "java_udf");
        var experimental = classic.experimental();
        List<org.apache.spark.sql.catalyst.rules.Rule<org.apache.spark.sql.catalyst.plans.logical.LogicalPlan>> rules =
                new java.util.ArrayList<>(CollectionConverters.asJava(experimental.extraOptimizations()));
        if (rules.stream().noneMatch(r -> r instanceof BatchGlmCalls)) {
            rules.add(new BatchGlmCalls());
            experimental.extraOptimizations_$eq(CollectionConverters.asScala(rules).toList());
        }
    }

    static void inject(SparkSessionExtensions extensions) {
        for (Definition d : ALL) extensions.injectFunction(new Tuple3<>(d.identifier(), d.info(), d.scalaBuilder()));
        extensions.injectOptimizerRule(session -> new BatchGlmCalls());
    }

    // ---- builders (driver, analysis time) ----

    private static Expression summarize(String name, List<Expression> args, boolean fullResult) {
        arity(name, args, 1, 2, "doc [, max_words]");
        GlmRunner runner = runner(true);
        if (args.size() == 2 && args.get(1).foldable()) {
            String bad = Summarizer.checkMaxWords(args.get(1).eval(null));
            if (bad != null) throw new GlmConfException(name + ": " + bad);
        }
        return apply(new SummarizeFunction(name, runner, args.size() == 2, fullResult), args);
    }

    private static Expression summarizeAgg(String name, List<Expression> args, boolean fullResult) {
        arity(name, args, 1, 2, "text [, max_words]");
        GlmRunner runner = runner(true);
        int maxWords = Summarizer.DEFAULT_MAX_WORDS;
        if (args.size() == 2) {
            Expression words = args.get(1);
            if (!words.foldable()) {
                throw new GlmConfException(name + ": max_words must be a literal such as 50 (one length for the whole group), "
                        + "not an expression that varies by row");
            }
            Object value = words.eval(null);
            String bad = value == null ? "max_words must not be NULL" : Summarizer.checkMaxWords(value);
            if (bad != null) throw new GlmConfException(name + ": " + bad);
            maxWords = Integer.parseInt(value.toString().trim());
        }
        return new GlmAggregateExpression(new SummarizeAggFunction(name, runner, maxWords, fullResult),
                CollectionConverters.asScala(List.of(args.get(0))).toList());
    }

    private static Expression generate(String name, List<Expression> args, boolean fullResult) {
        arity(name, args, 1, 2, "prompt [, options MAP<STRING,STRING>]");
        GlmRunner runner = runner(true);
        CallOptions fixed = null;
        if (args.size() == 2) {
            Expression options = args.get(1);
            if (options.resolved() && !(options.dataType() instanceof MapType)) {
                throw new GlmConfException(name + ": options must be a MAP<STRING,STRING> such as "
                        + "map('max_tokens', '64', 'temperature', '0'), not " + options.dataType().sql());
            }
            if (options.foldable()) {
                Object value = options.eval(null);
                fixed = value == null ? CallOptions.defaults(runner.conf())
                        : CallOptions.parse(GenerateFunction.toJava((MapData) value), runner.conf());
            }
        } else {
            fixed = CallOptions.defaults(runner.conf());
        }
        return apply(new GenerateFunction(name, runner, args.size() == 2, fixed, fullResult), args);
    }

    private static Expression extract(List<Expression> args) {
        arity("glm_extract", args, 2, 2, "doc, schema");
        GlmRunner runner = runner(true);
        return apply(new ExtractFunction("glm_extract", runner, new Extractor(extractSchema(args.get(1))), args.get(1).dataType()), args);
    }

    /** The struct glm_extract returns, from its literal schema argument (analysis time). */
    static StructType extractSchema(Expression schema) {
        String usage = "glm_extract: schema must be a literal: a DDL string such as 'name STRING, born DATE' or an "
                + "ARRAY<STRING> of field names";
        if (!schema.foldable()) throw new GlmConfException(usage + " (got an expression that varies by row)");
        Object value = schema.eval(null);
        if (value == null) throw new GlmConfException(usage + " (got NULL)");
        try {
            if (schema.dataType() instanceof StringType) return ExtractTypes.fromDdl(value.toString());
            if (schema.dataType() instanceof ArrayType at && at.elementType() instanceof StringType) {
                return ExtractTypes.fromNames(ClassifyFunction.labels((ArrayData) value));
            }
        } catch (IllegalArgumentException e) {
            throw new GlmConfException("glm_extract: " + e.getMessage());
        }
        throw new GlmConfException(usage + " (got " + schema.dataType().sql() + ")");
    }

    private static Expression classify(String name, List<Expression> args, boolean fullResult) {
        arity(name, args, 2, 2, "doc, labels ARRAY<STRING>");
        GlmRunner runner = runner(true);
        Expression labels = args.get(1);
        if (labels.resolved() && !(labels.dataType() instanceof ArrayType at && at.elementType() instanceof StringType)) {
            throw new GlmConfException(name + ": labels must be an ARRAY<STRING> such as array('positive', 'negative'), not "
                    + labels.dataType().sql());
        }
        if (labels.foldable()) {
            Object value = labels.eval(null);
            try {
                if (value != null) LabelScorer.checkLabels(ClassifyFunction.labels((ArrayData) value));
            } catch (IllegalArgumentException e) {
                throw new GlmConfException(name + ": " + e.getMessage());
            }
        }
        return apply(new ClassifyFunction(name, runner, fullResult), args);
    }

    private static Expression countTokens(List<Expression> args) {
        arity("glm_count_tokens", args, 1, 1, "text");
        return apply(new CountTokensFunction(runner(true)), args);
    }

    private static Expression engineOptions(List<Expression> args) {
        arity("glm_engine_options", args, 0, 0, "");
        return apply(new EngineOptionsFunction(runner(true)), args);
    }

    /**
     * Parses the spark.glm.* settings of the session running the query (failing the query on a bad one) into a
     * runner. Read from the live session, not SQLConf.get(): inside a view that is the view's captured conf,
     * which never holds spark.glm.* (see {@link SessionSettings}).
     */
    private static GlmRunner runner(boolean needsModel) {
        GlmConf conf = GlmConf.parse(SessionSettings.current());
        if (needsModel) conf.requireModel();
        return new GlmRunner(conf, GlmMetrics.of(SparkSession.active().sparkContext()));
    }

    private static void arity(String name, List<Expression> args, int min, int max, String signature) {
        if (args.size() < min || args.size() > max) {
            throw new GlmConfException(name + "(" + signature + ") takes " + (min == max ? String.valueOf(min) : min + " or " + max)
                    + " argument" + (max == 1 ? "" : "s") + ", got " + args.size());
        }
    }

    private static Expression apply(GlmFunction<?> function, List<Expression> args) {
        return new GlmFunctionExpression(function, CollectionConverters.asScala(args).toList());
    }
}
