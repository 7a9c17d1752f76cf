package io.sparkglm.spark.sql;

import io.sparkglm.constrain.JsonConstraints;
import io.sparkglm.constrain.JsonGrammar;
import io.sparkglm.generate.GenerationResult;
import io.sparkglm.spark.executor.GlmRunner;
import io.sparkglm.spark.executor.GlmRunner.Prompt;
import java.io.Serializable;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.types.StructType;

/**
 * Typed extraction of one document, shared by {@code glm_extract} and {@code format("glm")} with task extract:
 * the prompt, the grammar derived from the schema (built lazily on the executor, for the model's tokenizer),
 * the token budget, and the generated JSON read back as a row of the schema. Made on the driver while the
 * query is analyzed (an invalid schema fails there), then shipped to the tasks.
 */
public final class Extractor implements Serializable {

    public static final String SYSTEM = "You extract structured data from documents. You answer with JSON only.";

    private final StructType schema;
    private transient JsonGrammar grammar;

    /** @param schema a schema from {@link ExtractTypes#fromDdl} or {@link ExtractTypes#fromNames} (every field nullable) */
    public Extractor(StructType schema) {
        ExtractTypes.jsonType(schema, ""); // unsupported types fail now, on the driver
        this.schema = schema;
    }

    /** The struct every extraction returns. */
    public StructType schema() {
        return schema;
    }

    public static String instruction(StructType schema) {
        return "Extract these fields from the document as one JSON object: " + schema.toDDL()
                + ". Use null for a field the document does not give.";
    }

    public Prompt prompt(String doc) {
        return new Prompt(SYSTEM, instruction(schema), doc);
    }

    /** What a blank document extracts to, without the engine: a struct of NULL fields. */
    public GenericInternalRow empty() {
        return new GenericInternalRow(new Object[schema.fields().length]);
    }

    /**
     * Queues the document into this JVM's engine under the schema's grammar. The budget is spark.glm.maxNewTokens,
     * raised to the schema's shortest JSON when that is longer, so the value always closes. Never fails (see
     * {@link GlmRunner#submit}); pass the result to {@link #read}, then to {@link GlmRunner#finish}.
     */
    public CompletableFuture<GenerationResult> submit(GlmRunner runner, String doc) {
        JsonGrammar g = grammar(runner);
        int maxTokens = Math.max(runner.conf().maxNewTokens(), g.minTokens());
        return runner.submit(prompt(doc), maxTokens, runner.conf().sampling(), List.of(), g.constraint(maxTokens));
    }

    private JsonGrammar grammar(GlmRunner runner) {
        if (grammar == null) grammar = JsonConstraints.of(ExtractTypes.jsonType(schema, ""), runner.tokenizer());
        return grammar;
    }

    /** A finished extraction: the struct (null when the row failed) and the result to count. */
    public record Extracted(GenericInternalRow row, GenerationResult result) {}

    /** The generated JSON as a row of the schema; a row that cannot be read counts as failed. */
    public Extracted read(GenerationResult result) {
        if (!result.ok()) return new Extracted(null, result);
        try {
            return new Extracted(ExtractTypes.toRow(result.text(), schema), result);
        } catch (RuntimeException e) {  // cannot happen with the grammar; counted as a failure if it does
            return new Extracted(null, GenerationResult.failed(e.getMessage(), result.promptTokens()));
        }
    }
}
