package io.sparkglm.spark.task;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;

/** The per-field merge of a long document's chunk extractions. */
class ExtractionMergeTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static JsonNode json(String s) {
        try {
            return JSON.readTree(s);
        } catch (Exception e) {
            throw new IllegalArgumentException(e);
        }
    }

    private static JsonNode merge(String... parts) {
        return ExtractionMerge.merge(List.of(parts).stream().map(ExtractionMergeTest::json).toList());
    }

    @Test
    void scalarsTakeTheFirstNonNullInDocumentOrder() {
        assertEquals(json("{\"party\":\"Acme\",\"amount\":12.5,\"signed\":\"2024-01-02\",\"ok\":false}"),
                merge("{\"party\":null,\"amount\":12.5,\"signed\":null,\"ok\":null}",
                      "{\"party\":\"Acme\",\"amount\":99,\"signed\":null,\"ok\":false}",
                      "{\"party\":\"Other\",\"amount\":null,\"signed\":\"2024-01-02\",\"ok\":true}"));
    }

    @Test
    void arraysAreConcatenatedInOrderWithoutRepeats() {
        assertEquals(json("{\"items\":[\"a\",\"b\",\"c\",{\"x\":1}],\"n\":[3,1,2]}"),
                merge("{\"items\":[\"a\",\"b\",\"a\"],\"n\":[3]}", "{\"items\":null,\"n\":[1,3]}",
                      "{\"items\":[\"c\",\"b\",{\"x\":1}],\"n\":[2]}", "{\"items\":[{\"x\":1}],\"n\":[]}"));
    }

    @Test
    void arraysAreCappedKeepingTheFirstElements() {
        List<JsonNode> parts = new ArrayList<>();
        for (int p = 0; p < 5; p++) {
            int base = p * 400;
            parts.add(json("{\"ids\":" + IntStream.range(base, base + 400).boxed().toList() + "}"));
        }
        JsonNode merged = ExtractionMerge.merge(parts);
        assertEquals(ExtractionMerge.MAX_ARRAY, merged.get("ids").size());
        assertEquals(0, merged.get("ids").get(0).intValue());
        assertEquals(ExtractionMerge.MAX_ARRAY - 1, merged.get("ids").get(ExtractionMerge.MAX_ARRAY - 1).intValue());
    }

    @Test
    void nestedObjectsMergeFieldByField() {
        assertEquals(json("{\"terms\":{\"months\":12,\"ends\":\"2025-01-01\",\"notes\":[\"x\",\"y\"]}}"),
                merge("{\"terms\":{\"months\":12,\"ends\":null,\"notes\":[\"x\"]}}", "{\"terms\":null}",
                      "{\"terms\":{\"months\":24,\"ends\":\"2025-01-01\",\"notes\":[\"y\",\"x\"]}}"));
    }

    @Test
    void nothingFoundIsAllNullAndReadsBackAsTheSameStruct() {
        StructType schema = ExtractTypes.fromDdl("party STRING, items ARRAY<STRING>, terms STRUCT<months: INT>");
        JsonNode merged = merge("{\"party\":null,\"items\":null,\"terms\":null}", "{\"party\":null,\"items\":null,\"terms\":null}");
        GenericInternalRow row = ExtractTypes.toRow(merged, schema);
        assertEquals(3, row.numFields());
        for (int i = 0; i < 3; i++) assertTrue(row.isNullAt(i), "field " + i);
        GenericInternalRow some = ExtractTypes.toRow(merge("{\"party\":null,\"items\":[\"a\"],\"terms\":null}",
                "{\"party\":\"P\",\"items\":[\"b\"],\"terms\":{\"months\":3}}"), schema);
        assertEquals("P", some.getUTF8String(0).toString());
        assertEquals(2, some.getArray(1).numElements());
        assertEquals(3, some.getStruct(2, 1).getInt(0));
        assertNull(ExtractionMerge.merge(List.of()));
    }
}
