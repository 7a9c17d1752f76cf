package io.sparkglm.constrain;

import io.sparkglm.tokenizer.GlmTokenizer;

/**
 * Entry points for typed JSON output: a grammar from a Spark DDL field list or a JSON schema, compiled for a
 * tokenizer's vocabulary. Then {@code request.withConstraint(grammar.constraint(request.maxTokens()))}.
 */
public final class JsonConstraints {

    private JsonConstraints() {}

    public static JsonGrammar fromDdl(String ddl, GlmTokenizer tokenizer) {
        return of(JsonTypes.fromDdl(ddl), tokenizer);
    }

    public static JsonGrammar fromJsonSchema(String jsonSchema, GlmTokenizer tokenizer) {
        return of(JsonTypes.fromJsonSchema(jsonSchema), tokenizer);
    }

    public static JsonGrammar of(JsonType type, GlmTokenizer tokenizer) {
        return new JsonGrammar(type, TokenTrie.of(tokenizer));
    }
}
