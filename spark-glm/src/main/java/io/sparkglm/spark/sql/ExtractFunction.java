package io.sparkglm.spark.sql;

import io.sparkglm.constrain.JsonConstraints;
import io.sparkglm.constrain.JsonGrammar;
import io.sparkglm.generate.GenerationResult;
import io.sparkglm.spark.executor.GlmRunner;
import io.sparkglm.spark.executor.GlmRunner.Prompt;
import java.util.List;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * {@code glm_extract(doc, schema)}: the fields of {@code schema} read from the document, as a struct. The engine
 * generates JSON under a grammar of the schema (io.sparkglm.constrain), so the output always parses into the
 * struct; fields the model leaves null are NULL. The token budget is spark.glm.maxNewTokens, raised to the
 * schema's shortest JSON when that is longer. NULL doc or a failed row: NULL (onError policy).
 */
final class ExtractFunction extends GlmFunction<InternalRow> {

    static final String SYSTEM = "You extract structured data from documents. You answer with JSON only.";

    private final StructType schema;
    private transient JsonGrammar grammar;

    ExtractFunction(String name, GlmRunner runner, StructType schema, DataType schemaArgType) {
        super(name, runner, DataTypes.StringType, schemaArgType);
        this.schema = schema;
    }

    @Override
    public DataType resultType() {
        return schema;
    }

    static String instruction(StructType schema) {
        return "Extract these fields from the document as one JSON object: " + schema.toDDL()
                + ". Use null for a field the document does not give.";
    }

    private JsonGrammar grammar() {
        if (grammar == null) grammar = JsonConstraints.of(ExtractTypes.jsonType(schema, ""), runner.tokenizer());
        return grammar;
    }

    @Override
    public InternalRow produceResult(InternalRow input) {
        if (input.isNullAt(0)) return null;
        String doc = input.getUTF8String(0).toString();
        if (doc.isBlank()) return new GenericInternalRow(new Object[schema.fields().length]);   // nothing to read: all NULL
        JsonGrammar g = grammar();
        int maxTokens = Math.max(runner.conf().maxNewTokens(), g.minTokens());
        GenerationResult result = runner.submit(new Prompt(SYSTEM, instruction(schema), doc), maxTokens,
                runner.conf().sampling(), List.of(), g.constraint(maxTokens)).join();
        GenericInternalRow row = null;
        if (result.ok()) {
            try {
                row = ExtractTypes.toRow(result.text(), schema);
            } catch (RuntimeException e) {       // cannot happen with the grammar; counted as a failure if it does
                result = GenerationResult.failed(e.getMessage(), result.promptTokens());
            }
        }
        runner.finish(result);
        return row;
    }
}
