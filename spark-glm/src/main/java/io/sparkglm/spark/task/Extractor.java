package io.sparkglm.spark.task;

import io.sparkglm.constrain.JsonConstraints;
import io.sparkglm.constrain.JsonGrammar;
import com.fasterxml.jackson.databind.JsonNode;
import io.sparkglm.spark.conf.GlmConf;
import io.sparkglm.spark.executor.GlmRunner;
import io.sparkglm.spark.executor.GlmRunner.Fit;
import io.sparkglm.spark.executor.RowResult;
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
     * Extracts from one non-blank document in this JVM's engine under the schema's grammar. The budget is
     * spark.glm.maxNewTokens, raised to the schema's shortest JSON when that is longer, so the value always closes.
     * Under longDocumentPolicy=mapreduce a document longer than the context is read in chunks, all in the batch at
     * once, and their extractions merged ({@link ExtractionMerge}). Never fails but for an engine failure (see
     * {@link GlmRunner#submit}); pass the result to {@link GlmRunner#finish}.
     */
    public CompletableFuture<Extracted> submit(GlmRunner runner, String doc) {
        JsonGrammar g = grammar(runner);
        GlmConf conf = runner.conf();
        int maxTokens = Math.max(conf.maxNewTokens(), g.minTokens());
        Prompt whole = prompt(doc);
        Fit fit = conf.longDocumentPolicy() == GlmConf.LongDocumentPolicy.MAPREDUCE ? runner.fit(whole, maxTokens) : null;
        if (!(fit instanceof Fit.TooLong)) {
            CompletableFuture<RowResult> one = fit == null
                    ? runner.submit(whole, maxTokens, conf.sampling(), List.of(), g.constraint(maxTokens))
                    : runner.submit(fit, whole, maxTokens, conf.sampling(), List.of(), g.constraint(maxTokens));
            return one.thenApply(this::read);
        }
        Prompt part = new Prompt(SYSTEM, partInstruction(schema), null);
        List<String> chunks;
        try {
            chunks = runner.chunks(part, doc, maxTokens);
        } catch (RuntimeException e) {   // the numbers do not allow it, or the text cannot be cut
            return CompletableFuture.completedFuture(new Extracted(null, GlmRunner.rowFailure(e)));
        }
        int n = chunks.size();
        return runner.submitEach(part, chunks, maxTokens, 0, 1, () -> g.constraint(maxTokens)).thenApply(results -> {
            RowResult all = RowResult.combined(results, results.getLast(), i -> "part " + (i + 1) + " of " + n, n, 1);
            if (!all.ok()) return new Extracted(null, all);
            try {
                JsonNode merged = ExtractionMerge.merge(results.stream().map(r -> ExtractTypes.parse(r.text())).toList());
                return new Extracted(merged == null ? empty() : ExtractTypes.toRow(merged, schema), all.withText(String.valueOf(merged)));
            } catch (RuntimeException e) {  // cannot happen with the grammar; counted as a failure if it does
                return new Extracted(null, RowResult.failed(e.getMessage(), all.promptTokens()));
            }
        });
    }

    static String partInstruction(StructType schema) {
        return "Extract these fields from the following part of a longer document as one JSON object: " + schema.toDDL()
                + ". Use null for a field this part does not give.";
    }

    private JsonGrammar grammar(GlmRunner runner) {
        if (grammar == null) grammar = JsonConstraints.of(ExtractTypes.jsonType(schema, ""), runner.tokenizer());
        return grammar;
    }

    /** A finished extraction: the struct (null when the row failed) and the result to count. */
    public record Extracted(GenericInternalRow row, RowResult result) {}

    /** The generated JSON as a row of the schema; a row that cannot be read counts as failed. */
    private Extracted read(RowResult result) {
        if (!result.ok()) return new Extracted(null, result);
        try {
            return new Extracted(ExtractTypes.toRow(result.text(), schema), result);
        } catch (RuntimeException e) {  // cannot happen with the grammar; counted as a failure if it does
            return new Extracted(null, RowResult.failed(e.getMessage(), result.promptTokens()));
        }
    }
}
