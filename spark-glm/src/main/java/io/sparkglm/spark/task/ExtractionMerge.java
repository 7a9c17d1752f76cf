package io.sparkglm.spark.task;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * How the extractions of a long document's chunks become one (longDocumentPolicy=mapreduce), field by field, in
 * document order: a scalar is the first non-null one; an object merges its fields the same way; an array is every
 * chunk's elements concatenated, without repeats, capped at {@link #MAX_ARRAY} elements. The result has the schema's
 * shape, so it reads back as the same struct a short document gives.
 */
public final class ExtractionMerge {

    /** The most elements a merged array keeps (the first ones, in document order). */
    public static final int MAX_ARRAY = 1_000;

    private ExtractionMerge() {}

    /** The chunks' JSON values merged (null when there are none or all are null). */
    public static JsonNode merge(List<JsonNode> parts) {
        JsonNode merged = null;
        for (JsonNode part : parts) merged = merge(merged, part);
        return merged;
    }

    private static JsonNode merge(JsonNode earlier, JsonNode later) {
        if (isNull(earlier)) return isNull(later) ? null : later.deepCopy();
        if (isNull(later)) return earlier;
        if (earlier instanceof ObjectNode a && later instanceof ObjectNode b) {
            ObjectNode out = a.deepCopy();
            b.properties().forEach(e -> {
                JsonNode m = merge(a.get(e.getKey()), e.getValue());
                out.set(e.getKey(), m == null ? JsonNodeFactory.instance.nullNode() : m);
            });
            return out;
        }
        if (earlier instanceof ArrayNode a && later instanceof ArrayNode b) {
            Set<JsonNode> seen = new LinkedHashSet<>();
            a.forEach(seen::add);
            for (JsonNode e : b) {
                if (seen.size() >= MAX_ARRAY) break;
                seen.add(e);
            }
            ArrayNode out = JsonNodeFactory.instance.arrayNode();
            seen.stream().limit(MAX_ARRAY).forEach(out::add);
            return out;
        }
        return earlier; // scalars: the first one in document order wins
    }

    private static boolean isNull(JsonNode n) {
        return n == null || n.isNull() || n.isMissingNode();
    }
}
