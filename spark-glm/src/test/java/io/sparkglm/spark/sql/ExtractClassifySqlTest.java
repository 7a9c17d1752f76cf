package io.sparkglm.spark.sql;

import io.sparkglm.spark.task.ExtractTypes;
import io.sparkglm.spark.task.Classifier;
import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.constrain.JsonTestSupport;
import io.sparkglm.constrain.JsonType;
import io.sparkglm.constrain.LabelScorer;
import io.sparkglm.generate.Engine;
import io.sparkglm.generate.EngineOptions;
import io.sparkglm.spark.testing.SharedSpark;
import io.sparkglm.testing.SharedFiles;
import io.sparkglm.tokenizer.ChatMessage;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.apache.spark.sql.AnalysisException;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.*;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** glm_extract and glm_classify on local[2] with the tiny random (noise) model. */
class ExtractClassifySqlTest {

    private static final SparkSession spark = SharedSpark.session();
    private static final List<String> KEYS = List.of("spark.glm.model", "spark.glm.maxNewTokens", "spark.glm.maxContext",
            "spark.glm.threads", "spark.glm.temperature", "spark.glm.batchSize");

    @BeforeAll
    static void conf() {
        spark.conf().set("spark.glm.model", SharedFiles.tinyF32().toString());
        spark.conf().set("spark.glm.maxNewTokens", "40");
        spark.conf().set("spark.glm.maxContext", "512");
        spark.conf().set("spark.glm.threads", "1");
        spark.conf().set("spark.glm.temperature", "1.5");   // noise: the grammar alone keeps the output valid
    }

    @AfterAll
    static void unset() {
        for (String k : KEYS) spark.conf().unset(k);
    }

    static DataType randomType(Random r, int depth) {
        return switch (r.nextInt(depth <= 0 ? 9 : 12)) {
            case 0, 1 -> DataTypes.StringType;
            case 2 -> DataTypes.IntegerType;
            case 3 -> DataTypes.LongType;
            case 4 -> DataTypes.DoubleType;
            case 5 -> {
                int p = 1 + r.nextInt(18);
                yield DataTypes.createDecimalType(p, Math.min(p, r.nextInt(3)));
            }
            case 6 -> DataTypes.BooleanType;
            case 7 -> DataTypes.DateType;
            case 8 -> r.nextBoolean() ? DataTypes.ShortType : DataTypes.FloatType;
            case 9 -> DataTypes.createArrayType(randomType(r, depth - 1), true);
            default -> randomStruct(r, depth - 1);
        };
    }

    static StructType randomStruct(Random r, int depth) {
        StructType s = new StructType();
        int n = 1 + r.nextInt(4);
        for (int i = 0; i < n; i++) s = s.add((i == 0 && r.nextBoolean() ? "odd name " : "f") + i, randomType(r, depth), true);
        return s;
    }

    /** Random schemas x random documents: every row is a non-NULL struct of exactly the requested type. */
    @Test
    void everyExtractionFitsItsStruct() {
        Random r = new Random(17);
        List<String> docs = new ArrayList<>();
        for (int i = 0; i < 40; i++) docs.add(JsonTestSupport.randomString(r, 30));
        spark.createDataset(docs, Encoders.STRING()).toDF("doc").repartition(2).createOrReplaceTempView("extract_docs");
        int rows = 0;
        for (int s = 0; s < 6; s++) {
            StructType schema = randomStruct(r, 2);
            String ddl = schema.toDDL();
            var df = spark.sql("SELECT glm_extract(doc, '" + ddl.replace("'", "\\'") + "') AS x FROM extract_docs");
            assertEquals(ExtractTypes.fromDdl(ddl), ((StructType) df.schema().apply("x").dataType()));
            for (Row row : df.collectAsList()) {
                assertFalse(row.isNullAt(0), () -> "a failed extraction for " + ddl);
                rows++;
            }
        }
        assertEquals(240, rows);
    }

    @Test
    void fieldNamesFormAndAnalysisErrors() {
        Row row = spark.sql("SELECT glm_extract('Ann lives in Paris.', array('name', 'city')) AS x").first();
        assertEquals(List.of("name", "city"), List.of(row.getStruct(0).schema().fieldNames()));
        assertError("SELECT glm_extract('d', concat('a ', 'STRING', cast(rand() AS STRING)))", "literal");
        assertError("SELECT glm_extract('d', 'a STRNG')", "invalid DDL");
        assertError("SELECT glm_extract('d', 'm MAP<STRING, INT>')", "not supported");
        assertError("SELECT glm_classify('d', 'positive')", "ARRAY<STRING>");
        assertError("SELECT glm_classify('d', array('a', 'a'))", "distinct");
    }

    private static void assertError(String sql, String expected) {
        Exception e = assertThrows(Exception.class, () -> spark.sql(sql).collect());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    /** The SQL label is the engine's own likelihood winner; probabilities sum to one. */
    @Test
    void classificationEqualsTheEngineScoringDirectly() throws Exception {
        List<String> docs = List.of("I loved it, great value.", "Terrible. Broke after a day.", "It is a chair.", "\u4e2d\u6587 ok");
        List<String> labels = List.of("positive", "negative", "neutral");
        spark.createDataset(docs, Encoders.STRING()).toDF("doc").createOrReplaceTempView("classify_docs");
        List<Row> rows = spark.sql("SELECT doc, glm_classify(doc, array('positive', 'negative', 'neutral')) AS label, "
                + "glm_classify_result(doc, array('positive', 'negative', 'neutral')) AS r FROM classify_docs ORDER BY doc").collectAsList();
        try (Engine engine = Engine.load(EngineOptions.defaults(SharedFiles.tinyF32().toAbsolutePath().normalize()).withThreads(1).withMaxContext(512))) {
            for (Row row : rows) {
                String doc = row.getString(0);
                List<ChatMessage> prompt = List.of(ChatMessage.system(Classifier.SYSTEM),
                        ChatMessage.user(Classifier.instruction(labels) + "\n\n" + doc));
                LabelScorer.Classification expected = LabelScorer.classify(engine, prompt, labels).get();
                assertEquals(expected.label(), row.getString(1));
                Row r = row.getStruct(2);
                assertEquals(expected.label(), r.getString(0));
                scala.collection.Map<String, Double> probs = r.getMap(1);
                double sum = 0;
                for (int i = 0; i < labels.size(); i++) {
                    double p = probs.apply(labels.get(i));
                    assertEquals(expected.probabilities()[i], p, 1e-9);
                    sum += p;
                }
                assertEquals(1.0, sum, 1e-9);
                assertTrue(r.isNullAt(2));
            }
        }
        assertEquals(4, rows.size());
    }

    /** Thousands of random JSON instances of random Spark schemas convert into Catalyst values. */
    @Test
    void generatedJsonConvertsIntoTheStruct() {
        Random r = new Random(23);
        int converted = 0;
        for (int s = 0; s < 100; s++) {
            StructType schema = (StructType) ExtractTypes.fromDdl(randomStruct(r, 3).toDDL());
            JsonType type = ExtractTypes.jsonType(schema, "");
            for (int k = 0; k < 30; k++) {
                String json = new String(JsonTestSupport.randomInstance(r, type, 40, 4), StandardCharsets.UTF_8);
                var row = ExtractTypes.toRow(json, schema);
                assertEquals(schema.fields().length, row.numFields());
                converted++;
            }
        }
        var row = ExtractTypes.toRow("{\"a\":\"x\\\"y\",\"b\":12,\"c\":\"2024-02-29\",\"d\":[1.5,-2],\"e\":null}",
                ExtractTypes.fromDdl("a STRING, b INT, c DATE, d ARRAY<DECIMAL(4,1)>, e BOOLEAN"));
        assertEquals("x\"y", row.getUTF8String(0).toString());
        assertEquals(12, row.getInt(1));
        assertEquals(java.time.LocalDate.of(2024, 2, 29).toEpochDay(), row.getInt(2));
        assertEquals("1.5", row.getArray(3).getDecimal(0, 4, 1).toString());
        assertTrue(row.isNullAt(4));
        assertEquals(3000, converted);
    }
}
