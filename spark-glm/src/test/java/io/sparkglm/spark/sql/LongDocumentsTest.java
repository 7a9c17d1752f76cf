package io.sparkglm.spark.sql;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.spark.testing.SharedSpark;
import io.sparkglm.testing.SharedFiles;
import io.sparkglm.tokenizer.GlmTokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * longDocumentPolicy=mapreduce on the tiny random model: documents many times the context are read in chunks and
 * their parts combined, with every call's tokens counted, the same answer alone, in a batch, through the DataSource
 * and on a retry.
 */
class LongDocumentsTest {

    private final SparkSession spark = SharedSpark.session();

    private static final String[] WORDS = {"contract", "party", "shall", "pay", "within", "thirty", "days", "of", "notice",
        "the", "supplier", "delivers", "goods", "to", "buyer", "in", "March", "and", "April", "price", "is", "fixed"};

    /** Paragraphs of sentences of random words, at least {@code tokens} tokens long (the tiny model's tokenizer). */
    static String document(long seed, int tokens) {
        GlmTokenizer tok = GlmTokenizer.load(SharedFiles.tinyQ8());
        SplittableRandom r = new SplittableRandom(seed);
        StringBuilder sb = new StringBuilder();
        while (true) {
            for (int p = 0; p < 20; p++) {
                for (int s = 0; s < 2 + r.nextInt(5); s++) {
                    String first = WORDS[r.nextInt(WORDS.length)];
                    sb.append(Character.toUpperCase(first.charAt(0))).append(first.substring(1));
                    for (int w = 0; w < 4 + r.nextInt(12); w++) sb.append(' ').append(WORDS[r.nextInt(WORDS.length)]);
                    sb.append(". ");
                }
                sb.append("\n\n");
            }
            if (tok.encode(sb.toString()).length >= tokens) return sb.toString();
        }
    }

    @BeforeEach
    void conf() {
        spark.conf().set("spark.glm.model", SharedFiles.tinyQ8().toString());
        spark.conf().set("spark.glm.maxContext", "2048");
        spark.conf().set("spark.glm.longDocumentPolicy", "mapreduce");
        spark.conf().set("spark.glm.threads", "2");
    }

    @AfterEach
    void unset() {
        for (String k : List.of("spark.glm.model", "spark.glm.maxContext", "spark.glm.longDocumentPolicy", "spark.glm.threads",
                "spark.glm.temperature", "spark.glm.seed", "spark.glm.chunkOverlap", "spark.glm.maxNewTokens")) {
            spark.conf().unset(k);
        }
    }

    private Row summarize(String view, String docSql, int maxWords) {
        return spark.sql("SELECT glm_summarize_result(" + docSql + ", " + maxWords + ") AS r FROM " + view).first().getStruct(0);
    }

    private void oneRow(String view, String doc) {
        spark.createDataFrame(List.of(RowFactory.create(doc)), new StructType().add("doc", DataTypes.StringType))
                .createOrReplaceTempView(view);
    }

    @Test
    void aThirtySixThousandTokenDocumentIsSummarizedWithinA2048TokenContext() {
        String doc = document(36, 36_000);
        oneRow("long36k", doc);
        Row r = summarize("long36k", "doc", 60);
        assertNull(r.getString(5), "no error");
        assertNotNull(r.getString(0));
        assertNotEquals("error", r.getString(1));
        int chunks = r.getInt(6), levels = r.getInt(7);
        assertTrue(chunks >= 36_000 / 2048, "chunks: " + chunks);
        assertTrue(levels >= 2, "levels: " + levels);
        assertTrue(r.getInt(2) >= 36_000, "prompt tokens count every chunk: " + r.getInt(2));
        assertTrue(r.getInt(3) > chunks, "generated tokens count every call: " + r.getInt(3));
        assertFalse(r.getBoolean(4));

        // The other policies on the same document: truncate reads one context's worth; error names mapreduce.
        spark.conf().set("spark.glm.longDocumentPolicy", "truncate");
        Row cut = summarize("long36k", "doc", 60);
        assertTrue(cut.getBoolean(4));
        assertEquals(1, cut.getInt(6));
        assertTrue(cut.getInt(2) <= 2048, "prompt " + cut.getInt(2));
        spark.conf().set("spark.glm.longDocumentPolicy", "error");
        Row refused = summarize("long36k", "doc", 60);
        assertNull(refused.getString(0));
        assertTrue(refused.getString(5).contains("longDocumentPolicy=mapreduce"), refused.getString(5));
    }

    @Test
    void aRowGivesTheSameSummaryAloneInABatchThroughTheDataSourceAndOnARetry(@TempDir Path dir) {
        String longDoc = document(5, 6_000);
        List<Row> rows = new ArrayList<>();
        rows.add(RowFactory.create(0, longDoc));
        for (int i = 1; i < 7; i++) rows.add(RowFactory.create(i, i % 2 == 0 ? document(100 + i, 3_000) : "A short note number " + i + "."));
        StructType schema = new StructType().add("id", DataTypes.IntegerType).add("doc", DataTypes.StringType);
        spark.createDataFrame(rows, schema).repartition(2).createOrReplaceTempView("mixed_docs");
        String path = dir.resolve("mixed").toString();
        spark.createDataFrame(rows, schema).repartition(2).write().parquet(path);
        oneRow("alone_doc", longDoc);

        for (String temperature : List.of("0", "0.9")) {
            spark.conf().set("spark.glm.temperature", temperature);
            spark.conf().set("spark.glm.seed", "11");
            Row alone = summarize("alone_doc", "doc", 30);
            assertTrue(alone.getInt(6) > 1, "read in chunks: " + alone);
            Map<Integer, Row> batch = new HashMap<>();
            for (Row row : spark.sql("SELECT id, glm_summarize_result(doc, 30) FROM mixed_docs").collectAsList()) {
                batch.put(row.getInt(0), row.getStruct(1));
            }
            assertEquals(alone, batch.get(0), "temperature " + temperature + ": alone and in a batch");
            Row retry = spark.sql("SELECT glm_summarize_result(doc, 30) FROM mixed_docs WHERE id = 0").first().getStruct(0);
            assertEquals(alone, retry, "temperature " + temperature + ": again");
            Row viaSource = spark.read().format("glm").option("textColumn", "doc").option("maxWords", "30").load(path)
                    .where("id = 0").select("summary", "prompt_tokens", "completion_tokens", "chunks", "levels").first();
            assertEquals(List.of(alone.get(0), alone.get(2), alone.get(3), alone.get(6), alone.get(7)),
                    List.of(viaSource.get(0), viaSource.get(1), viaSource.get(2), viaSource.get(3), viaSource.get(4)),
                    "temperature " + temperature + ": through format(\"glm\")");
            for (Row other : batch.values()) assertNull(other.getString(5), "every row answered: " + other);
        }
    }

    @Test
    void extractionReadsEveryChunkAndKeepsTheShortDocumentsStruct(@TempDir Path dir) {
        spark.conf().set("spark.glm.maxContext", "1024");
        spark.conf().set("spark.glm.maxNewTokens", "96");
        String doc = document(9, 5_000);
        String ddl = "party STRING, items ARRAY<STRING>, months INT";
        oneRow("extract_long", doc);
        oneRow("extract_short", "Acme pays Bob for 3 months.");
        var longDf = spark.sql("SELECT glm_extract(doc, '" + ddl + "') AS x FROM extract_long");
        var shortDf = spark.sql("SELECT glm_extract(doc, '" + ddl + "') AS x FROM extract_short");
        assertEquals(shortDf.schema(), longDf.schema());
        assertFalse(longDf.first().isNullAt(0), "the long document was read");

        String path = dir.resolve("extract").toString();
        spark.createDataFrame(List.of(RowFactory.create(1, doc)), new StructType().add("id", DataTypes.IntegerType)
                .add("doc", DataTypes.StringType)).write().parquet(path);
        Row viaSource = spark.read().format("glm").option("task", "extract").option("schema", ddl).option("textColumn", "doc")
                .load(path).select("extracted", "chunks", "levels", "error", "prompt_tokens").first();
        assertNull(viaSource.getString(3));
        assertEquals(longDf.first().get(0), viaSource.get(0), "the same merge through SQL and format(\"glm\")");
        assertTrue(viaSource.getInt(1) >= 5, "chunks: " + viaSource.getInt(1));
        assertEquals(1, viaSource.getInt(2), "extraction merges without model calls");
        assertTrue(viaSource.getInt(4) >= 5_000, "every chunk's prompt counted: " + viaSource.getInt(4));
    }

    @Test
    void overlapTooLargeForTheChunksIsARowErrorNamingTheNumbers() {
        spark.conf().set("spark.glm.chunkOverlap", "1500");
        oneRow("overlap_doc", document(3, 4_000));
        Row r = summarize("overlap_doc", "doc", 30);
        assertNull(r.getString(0));
        assertTrue(r.getString(5).contains("chunkOverlap") && r.getString(5).contains("1500") && r.getString(5).contains("half"),
                r.getString(5));
    }

    @Test
    void generationAndClassificationSayMapreduceDoesNotApplyToThem() {
        oneRow("gen_doc", document(4, 4_000));
        Row gen = spark.sql("SELECT glm_generate_result(doc) FROM gen_doc").first().getStruct(0);
        assertTrue(gen.getString(5).contains("mapreduce applies to summaries and extraction"), gen.getString(5));
        Row cls = spark.sql("SELECT glm_classify_result(doc, array('a', 'b')) FROM gen_doc").first().getStruct(0);
        assertTrue(cls.getString(2).contains("does not apply to classification"), cls.getString(2));
    }
}
