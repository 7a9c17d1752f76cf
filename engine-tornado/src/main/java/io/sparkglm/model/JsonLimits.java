package io.sparkglm.model;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import java.io.IOException;

/**
 * A cap on the size of a JSON tree before it is built. A Jackson tree costs 10 to 30 times the bytes of a
 * document of many small values (an object node and its map for {@code {}}, a node and a String for
 * {@code "a"}); counted first with the streaming parser, which allocates only for new member names, a
 * document of at most {@code maxTokens} tokens costs a bounded tree whatever its size in bytes.
 */
final class JsonLimits {

    private static final JsonFactory FACTORY = JsonFactory.builder().disable(JsonFactory.Feature.CANONICALIZE_FIELD_NAMES).build();

    private JsonLimits() {}

    /**
     * Throws a {@link ModelFormatException} naming {@code what} when {@code json} has more than {@code maxTokens}
     * tokens (values, names, and each object's and array's start and end); invalid JSON throws Jackson's exception.
     */
    static void checkTokens(byte[] json, int maxTokens, String what, String typical) throws IOException {
        count(FACTORY.createParser(json), maxTokens, what, typical);
    }

    /** As {@link #checkTokens(byte[], int, String, String)}, for text. */
    static void checkTokens(String json, int maxTokens, String what, String typical) throws IOException {
        count(FACTORY.createParser(json), maxTokens, what, typical);
    }

    private static void count(JsonParser parser, int maxTokens, String what, String typical) throws IOException {
        try (JsonParser p = parser) {
            int tokens = 0;
            while (p.nextToken() != null) {
                if (++tokens > maxTokens) {
                    throw new ModelFormatException(what + " has more than " + maxTokens + " JSON tokens; " + typical);
                }
            }
        }
    }
}
