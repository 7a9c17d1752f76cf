package io.sparkglm.spark.source;

import io.sparkglm.spark.task.Summarizer;
import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.spark.executor.ExecutorEngines;
import io.sparkglm.spark.executor.GlmMetrics;
import io.sparkglm.spark.sql.SummarizeFunction;
import io.sparkglm.spark.testing.ScriptedEngine;
import io.sparkglm.spark.testing.SharedSpark;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * format("glm") on local[2] with a scripted engine (it records every request): schema, SQL, order, projection,
 * pushdown, limit, resume, errors, on-error policy, metrics.
 */
class GlmDataSourceTest {

    // Set when the class starts, not when it loads: the local-cluster test (run last) stops the shared session.
    private static SparkSession spark;
    private static final StructType DOCS = new StructType()
            .add("id", DataTypes.LongType).add("lang", DataTypes.StringType)
            .add("body", DataTypes.StringType).add("extra", DataTypes.StringType);
    @TempDir static Path dir;
    private static String docs; // 20 documents, one file, several row groups
    private final AtomicReference<ScriptedEngine> engine = new AtomicReference<>();

    static String body(long id) {
        return id == 7 ? null : id == 8 ? "   " : "Document " + id + ": " + "some words of text ".repeat(1 + (int) (id % 5));
    }

    static List<Row> docRows(int from, int to) {
        return IntStream.range(from, to).mapToObj(i -> RowFactory.create((long) i, i % 3 == 0 ? "de" : "en", body(i),
                "x".repeat(i))).toList();
    }

    static String write(String name, List<Row> rows, StructType schema) {
        String path = dir.resolve(name).toString();
        // tiny row groups, so that one file has several to plan and read
        spark.createDataFrame(rows, schema).coalesce(1).write().option("parquet.block.size", "512")
                .option("parquet.page.size.row.check.min", "1").option("parquet.page.size.row.check.max", "2").parquet(path);
        return path;
    }

    @BeforeAll
    static void data() {
        spark = SharedSpark.session();
        docs = write("docs", docRows(0, 20), DOCS);
    }

    @BeforeEach
    void scriptTheEngine() {
        ScriptedEngine.install(spark, 4000, engine);
    }

    @AfterEach
    void reset() {
        spark.conf().unset("spark.glm.model");
        spark.catalog().dropTempView("glm_docs");
    }

    @AfterAll
    static void realEngineAgain() {
        ExecutorEngines.replaceLoaderForTesting(null);
    }

    private Dataset<Row> read(String... options) {
        var reader = spark.read().format("glm").option("textColumn", "body");
        for (int i = 0; i < options.length; i += 2) reader = reader.option(options[i], options[i + 1]);
        return reader.load(docs);
    }

    /** Documents the engine was asked about (the scripted engine saw the user turn: instruction + doc). */
    private List<String> sentDocuments() {
        ScriptedEngine e = engine.get();
        if (e == null) return List.of();
        String prefix = Summarizer.instruction(100) + "\n\n";
        return e.requests.stream().map(r -> r.messages().getLast().content())
                .map(s -> s.startsWith(prefix) ? s.substring(prefix.length()) : s).sorted().toList();
    }

    private static List<String> bodies(long... ids) {
        List<String> b = new ArrayList<>();
        for (long id : ids) b.add(body(id));
        b.sort(null);
        return b;
    }

    @Test
    void theFileHasSeveralRowGroups() {
        var footers = ParquetInput.read(List.of(docs), new Configuration()).footers();
        assertEquals(1, footers.size());
        assertTrue(footers.getFirst().rowCounts().size() >= 4, "row groups: " + footers.getFirst().rowCounts());
    }

    @Test
    void sqlViewGivesInputColumnsPlusSummaryInInputOrder() {
        spark.sql("CREATE TEMPORARY VIEW glm_docs USING glm OPTIONS (path '" + docs + "', textColumn 'body', "
                + "task 'summarize', tokensPerPartition '200')");
        Dataset<Row> df = spark.table("glm_docs");
        assertEquals(List.of("id", "lang", "body", "extra", "summary", "finish_reason", "prompt_tokens",
                "completion_tokens", "truncated", "error", "chunks", "levels"), List.of(df.schema().fieldNames()));
        assertTrue(df.rdd().getNumPartitions() > 2, "a small budget splits by row groups: " + df.rdd().getNumPartitions());
        List<Row> rows = df.collectAsList();
        assertEquals(LongStreamIds(0, 20), rows.stream().map(r -> r.getLong(0)).toList(), "input order");
        for (Row r : rows) {
            long id = r.getLong(0);
            if (id == 7) {
                assertTrue(r.isNullAt(4) && r.isNullAt(5), "NULL document, NULL result");
            } else if (id == 8) {
                assertEquals("", r.getString(4), "blank document: empty summary");
                assertEquals("stop", r.getString(5));
            } else {
                assertEquals("answer[2 turns, user " + (Summarizer.instruction(100).length() + 2 + body(id).length())
                        + " chars, max " + Summarizer.maxTokens(100, 256) + ", seed 0]", r.getString(4));
                assertEquals("length", r.getString(5));
                assertTrue(r.getInt(6) > 0);
                assertTrue(r.isNullAt(9));
            }
        }
        assertEquals(bodies(LongStreamIds(0, 20).stream().filter(i -> i != 7 && i != 8).mapToLong(i -> i).toArray()),
                sentDocuments(), "every document once, NULL and blank never");
    }

    private static List<Long> LongStreamIds(int from, int to) {
        return IntStream.range(from, to).mapToObj(i -> (long) i).toList();
    }

    @Test
    void filteredRowsNeverReachTheEngineAndOnlyNeededColumnsAreRead() {
        GlmMetrics m = GlmMetrics.of(spark.sparkContext());
        long before = m.rows.value();
        Dataset<Row> df = read().filter("lang = 'en' AND id > 10").select("id", "summary");
        String plan = df.queryExecution().executedPlan().toString();
        assertTrue(plan.contains("readColumns=[id, lang, body]"), plan); // not 'extra'
        assertTrue(plan.contains("pushedFilters=[IsNotNull(lang), IsNotNull(id), EqualTo(lang,en), GreaterThan(id,10)]"), plan);
        List<Long> ids = df.collectAsList().stream().map(r -> r.getLong(0)).toList();
        assertEquals(List.of(11L, 13L, 14L, 16L, 17L, 19L), ids);
        assertEquals(bodies(11, 13, 14, 16, 17, 19), sentDocuments(), "only the rows that pass the filter");
        assertEquals(6, m.rows.value() - before, "GlmMetrics counts only those rows");
    }

    @Test
    void aFilterOnTheSummaryIsLeftToSparkAndAQueryWithoutTaskColumnsRunsNoModel() {
        assertEquals(19, read().filter("summary IS NOT NULL").count()); // all but the NULL document
        assertEquals(18, sentDocuments().size());
        engine.get().requests.clear();
        Dataset<Row> inputsOnly = read().select("id", "lang").filter("id < 5");
        assertTrue(inputsOnly.queryExecution().executedPlan().toString().contains("no inference"));
        assertEquals(5, inputsOnly.count());
        assertEquals(List.of(), sentDocuments());
        assertEquals(20, read().count());
        assertEquals(List.of(), sentDocuments());
    }

    @Test
    void limitIsPushedSoOnlyThoseRowsAreRun() {
        Dataset<Row> df = read("tokensPerPartition", "100000000").limit(3);
        assertTrue(df.queryExecution().executedPlan().toString().contains("limit=3"), df.queryExecution().executedPlan().toString());
        List<Row> rows = df.collectAsList();
        assertEquals(List.of(0L, 1L, 2L), rows.stream().map(r -> r.getLong(0)).toList());
        assertEquals(bodies(0, 1, 2), sentDocuments());
    }

    @Test
    void resumeSkipsExactlyTheDoneIds() {
        String out = dir.resolve("resume-out").toString();
        // a first run that stopped after some documents (here: those with id < 6 or id = 12)
        read("idColumn", "id", "resumeFrom", out).filter("id < 6 OR id = 12").select("id", "summary", "error")
                .write().mode("append").parquet(out);
        assertEquals(bodies(0, 1, 2, 3, 4, 5, 12), sentDocuments());
        engine.get().requests.clear();
        read("idColumn", "id", "resumeFrom", out).select("id", "summary", "error").write().mode("append").parquet(out);
        assertEquals(bodies(6, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19).stream().filter(b -> !b.isBlank()).toList(),
                sentDocuments(), "exactly the documents not done (7 is NULL, 8 blank: no engine)");
        List<Long> all = spark.read().parquet(out).select("id").orderBy("id").collectAsList().stream().map(r -> r.getLong(0)).toList();
        assertEquals(LongStreamIds(0, 20), all, "every document once over both runs");
        engine.get().requests.clear();
        assertEquals(0, read("idColumn", "id", "resumeFrom", out).select("id", "summary").count());
        assertEquals(List.of(), sentDocuments());
    }

    @Test
    void failedRowsFollowOnError() {
        String path = write("failing", List.of(RowFactory.create(1L, "en", "fine", ""), RowFactory.create(2L, "en", "please FAIL_ME", "")), DOCS);
        List<Row> rows = spark.read().format("glm").option("textColumn", "body").load(path).orderBy("id").collectAsList();
        assertFalse(rows.get(0).isNullAt(4));
        assertTrue(rows.get(1).isNullAt(4));
        assertEquals("error", rows.get(1).getString(5));
        assertEquals("scripted failure", rows.get(1).getString(9));
        Exception e = assertThrows(Exception.class, () -> spark.read().format("glm").option("textColumn", "body")
                .option("onError", "fail").load(path).collectAsList());
        assertTrue(causes(e).contains("spark.glm.onError=fail"), causes(e));
    }

    @Test
    void countTokensAndGenerateEqualTheSqlFunctions() {
        List<Row> counted = read("task", "count_tokens").select("id", "tokens").orderBy("id").collectAsList();
        spark.read().parquet(docs).createOrReplaceTempView("glm_plain");
        List<Row> expected = spark.sql("SELECT id, glm_count_tokens(body) FROM glm_plain ORDER BY id").collectAsList();
        assertEquals(expected, counted);
        assertTrue(counted.get(1).getInt(1) > 3);

        List<Row> generated = read("task", "generate", "promptColumn", "body", "system", "Be brief.", "max_tokens", "7")
                .select("id", "text").orderBy("id").collectAsList();
        // a per-row options map: a literal map cannot be used here, glm_generate then fails with "Task not
        // serializable: SamplingParams" (reported to the SQL functions' owner)
        List<Row> viaSql = spark.sql("SELECT id, glm_generate(body, map('system', concat('Be brief.', substr(body, 1, 0)), "
                + "'max_tokens', '7')) FROM glm_plain ORDER BY id").collectAsList();
        assertEquals(viaSql, generated);
        assertTrue(generated.get(1).getString(1).startsWith("answer[2 turns"), generated.get(1).getString(1));
        spark.catalog().dropTempView("glm_plain");
    }

    @Test
    void customMetricsAreReportedOnTheScanNode() {
        Dataset<Row> df = read().filter("id < 4").select("id", "summary");
        df.collectAsList();
        var plan = df.queryExecution().executedPlan();
        var scan = plan.collectLeaves().head();
        var metrics = scala.jdk.javaapi.CollectionConverters.asJava(scan.metrics());
        assertEquals(4, metrics.get(GlmSourceMetrics.ROWS).value(), metrics.keySet().toString());
        assertTrue(metrics.get(GlmSourceMetrics.PROMPT_TOKENS).value() > 0);
        assertEquals(12, metrics.get(GlmSourceMetrics.GENERATED_TOKENS).value()); // scripted: 3 per row
        assertEquals(0, metrics.get(GlmSourceMetrics.FAILED_ROWS).value());
    }

    @Test
    void severalFilesAndDirectoriesAreOneTable() {
        String a = write("part-a", docRows(0, 3), DOCS);
        String b = write("part-b", docRows(3, 5), DOCS);
        List<Row> rows = spark.read().format("glm").option("textColumn", "body").option("task", "count_tokens")
                .load(a, b).select("id").collectAsList();
        assertEquals(LongStreamIds(0, 5), rows.stream().map(r -> r.getLong(0)).toList());
    }

    @Test
    void badInputsFailAtAnalysisWithClearMessages() throws IOException {
        String missing = assertThrows(Exception.class, () -> spark.read().format("glm").option("textColumn", "text")
                .load(docs)).getMessage();
        assertTrue(missing.contains("Column 'text' (option textColumn) not found")
                && missing.contains("available columns: id bigint, lang string, body string, extra string"), missing);

        String wrongType = assertThrows(Exception.class, () -> spark.read().format("glm").option("textColumn", "id")
                .load(docs)).getMessage();
        assertTrue(wrongType.contains("must be a string column, but it is BIGINT"), wrongType);

        String noPath = assertThrows(Exception.class, () -> spark.read().format("glm").option("textColumn", "body")
                .load(dir.resolve("nope").toString())).getMessage();
        assertTrue(noPath.contains("Path does not exist") && noPath.contains("nope"), noPath);

        String typo = assertThrows(Exception.class, () -> read("maxNewTokenz", "5")).getMessage();
        assertTrue(typo.contains("Unknown option 'maxnewtokenz'") && typo.contains("maxNewTokens"), typo);

        String badConf = assertThrows(Exception.class, () -> read("onError", "ignore")).getMessage();
        assertTrue(badConf.contains("spark.glm.onError"), badConf);

        Path corruptDir = dir.resolve("corrupt");
        Files.createDirectories(corruptDir);
        Files.copy(Path.of(ParquetInput.read(List.of(docs), new Configuration()).files().getFirst().replace("file:", "")),
                corruptDir.resolve("good.parquet"));
        Files.write(corruptDir.resolve("bad.parquet"), "this is not parquet at all, not even close".getBytes());
        String corrupt = assertThrows(Exception.class, () -> spark.read().format("glm").option("textColumn", "body")
                .load(corruptDir.toString())).getMessage();
        assertTrue(corrupt.contains("bad.parquet") && corrupt.contains("corrupt or not a Parquet file"), corrupt);

        String other = write("other-schema", List.of(RowFactory.create(1, "x")),
                new StructType().add("n", DataTypes.IntegerType).add("body", DataTypes.StringType));
        String mixed = assertThrows(Exception.class, () -> spark.read().format("glm").option("textColumn", "body")
                .load(docs, other)).getMessage();
        assertTrue(mixed.contains("different schemas") && mixed.contains("other-schema"), mixed);
    }

    @Test
    void extractAndClassifyOptionsAreCheckedAtAnalysis() {
        // the schema option takes glm_extract's two forms; the output type is glm_extract's struct
        StructType ddl = read("task", "extract", "schema", "party STRING, terms STRUCT<months: INT, ends DATE>, items ARRAY<STRING>")
                .schema();
        assertEquals(io.sparkglm.spark.task.ExtractTypes.fromDdl("party STRING, terms STRUCT<months: INT, ends DATE>, items ARRAY<STRING>"),
                ddl.apply("extracted").dataType());
        assertEquals(List.of("id", "lang", "body", "extra", "extracted", "finish_reason", "prompt_tokens", "completion_tokens",
                "truncated", "error", "chunks", "levels"), List.of(ddl.fieldNames()));
        StructType names = io.sparkglm.spark.task.ExtractTypes.fromNames(List.of("party", "city"));
        assertEquals(names, read("task", "extract", "schema", "party, city").schema().apply("extracted").dataType());
        assertEquals(names, read("task", "extract", "schema", "[\"party\", \"city\"]").schema().apply("extracted").dataType());
        StructType classify = read("task", "classify", "labels", "[\"yes, really\", \"no\"]").schema();
        assertEquals(List.of("label", "probabilities", "error"), List.of(classify.fieldNames()).subList(4, 7));
        assertEquals("map<string,double>", classify.apply("probabilities").dataType().simpleString());

        assertAnalysisError("task extract needs option schema", "task", "extract");
        assertAnalysisError("Bad value for option schema: invalid DDL schema 'party STRNG'", "task", "extract", "schema", "party STRNG");
        assertAnalysisError("MAP<STRING, INT> (field m) is not supported", "task", "extract", "schema", "m MAP<STRING, INT>");
        assertAnalysisError("duplicate field name", "task", "extract", "schema", "a, a");
        assertAnalysisError("Option schema applies to task extract only (task is summarize)", "schema", "a STRING");
        assertAnalysisError("task classify needs option labels", "task", "classify");
        assertAnalysisError("Bad value for option labels: labels must be distinct", "task", "classify", "labels", "a, b, a");
        assertAnalysisError("Bad value for option labels: labels must be non-empty", "task", "classify", "labels", "a,,b");
        assertAnalysisError("Option labels applies to task classify only", "task", "extract", "schema", "a", "labels", "x");
        assertNull(engine.get(), "analysis alone never loads an engine");
    }

    private void assertAnalysisError(String expected, String... options) {
        String message = assertThrows(Exception.class, () -> read(options).schema()).getMessage();
        assertTrue(message.contains(expected), message);
    }

    @Test
    void aCorruptDataPageFailsTheTaskNamingTheFile() throws IOException {
        Path file = Path.of(ParquetInput.read(List.of(docs), new Configuration()).files().getFirst().replace("file:", ""));
        byte[] bytes = Files.readAllBytes(file);
        // garble the data pages (the first bytes after the 4-byte magic), leaving the footer readable
        for (int i = 4; i < Math.min(bytes.length / 2, 400); i++) bytes[i] = (byte) (bytes[i] * 31 + 7);
        Path copy = dir.resolve("garbled").resolve("docs.parquet");
        Files.createDirectories(copy.getParent());
        Files.write(copy, bytes);
        Exception e = assertThrows(Exception.class, () -> spark.read().format("glm").option("textColumn", "body")
                .option("task", "count_tokens").load(copy.toString()).collectAsList());
        assertTrue(causes(e).contains("garbled/docs.parquet"), causes(e));
    }

    private static String causes(Throwable e) {
        StringBuilder b = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) b.append(t).append(" | ");
        return b.toString();
    }
}
