package io.sparkglm.spark.sql;

import io.sparkglm.spark.executor.GlmRunner;
import io.sparkglm.spark.task.Extractor;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;

/**
 * {@code glm_extract(doc, schema)}: the fields of {@code schema} read from the document, as a struct. The engine
 * generates JSON under a grammar of the schema (io.sparkglm.constrain), so the output always parses into the
 * struct; fields the model leaves null are NULL. The token budget is spark.glm.maxNewTokens, raised to the
 * schema's shortest JSON when that is longer. NULL doc or a failed row: NULL (onError policy). The prompt,
 * grammar and parsing are {@link Extractor}'s, shared with format("glm") task extract.
 */
final class ExtractFunction extends EngineFunction<InternalRow> {

    private final Extractor extractor;

    ExtractFunction(String name, GlmRunner runner, Extractor extractor, DataType schemaArgType) {
        super(name, runner, DataTypes.StringType, schemaArgType);
        this.extractor = extractor;
    }

    @Override
    public DataType resultType() {
        return extractor.schema();
    }

    @Override
    Pending start(InternalRow input) {
        if (input.isNullAt(0)) return () -> null;
        String doc = input.getUTF8String(0).toString();
        if (doc.isBlank()) return extractor::empty;   // nothing to read: all NULL
        var extraction = extractor.submit(runner, doc);
        return () -> {
            Extractor.Extracted extracted = GlmRunner.await(extraction);
            runner.finish(extracted.result());
            return extracted.row();
        };
    }
}
