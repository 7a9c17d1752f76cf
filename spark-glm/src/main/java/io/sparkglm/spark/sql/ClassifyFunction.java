package io.sparkglm.spark.sql;

import io.sparkglm.constrain.LabelScorer;
import io.sparkglm.generate.FinishReason;
import io.sparkglm.generate.GenerationResult;
import io.sparkglm.spark.executor.GlmRunner;
import io.sparkglm.spark.executor.GlmRunner.Prompt;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionException;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.util.ArrayBasedMapData;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.sql.catalyst.util.GenericArrayData;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * {@code glm_classify(doc, labels)} and {@code glm_classify_result(doc, labels)}: each label is scored as the
 * assistant's whole reply ("\n" + label + end of turn, see {@link LabelScorer}) and the most likely one wins;
 * the result form adds the softmax probabilities over the labels. Nothing is free-generated, so the answer is
 * always one of the labels.
 */
final class ClassifyFunction extends GlmFunction<Object> {

    static final StructType RESULT = new StructType()
            .add("label", DataTypes.StringType, true)
            .add("probabilities", DataTypes.createMapType(DataTypes.StringType, DataTypes.DoubleType, false), true)
            .add("error", DataTypes.StringType, true);

    static final String SYSTEM = "You classify documents. You answer with exactly one of the given labels.";

    private final boolean fullResult;

    ClassifyFunction(String name, GlmRunner runner, boolean fullResult) {
        super(name, runner, DataTypes.StringType, DataTypes.createArrayType(DataTypes.StringType));
        this.fullResult = fullResult;
    }

    @Override
    public DataType resultType() {
        return fullResult ? RESULT : DataTypes.StringType;
    }

    static String instruction(List<String> labels) {
        return "Classify the document into exactly one of these labels: " + String.join(", ", labels) + ". Answer with the label only.";
    }

    static List<String> labels(ArrayData array) {
        List<String> labels = new ArrayList<>(array.numElements());
        for (int i = 0; i < array.numElements(); i++) labels.add(array.isNullAt(i) ? null : array.getUTF8String(i).toString());
        return labels;
    }

    @Override
    public Object produceResult(InternalRow input) {
        if (input.isNullAt(0) || input.isNullAt(1)) return null;
        String doc = input.getUTF8String(0).toString();
        LabelScorer.Classification c = null;
        String error = null;
        try {
            List<String> labels = LabelScorer.checkLabels(labels(input.getArray(1)));
            double[] scores = runner.score(new Prompt(SYSTEM, instruction(labels), doc),
                    tok -> labels.stream().map(l -> LabelScorer.continuation(tok, l)).toList()).join();
            c = LabelScorer.of(labels, scores);
        } catch (CompletionException e) {
            error = String.valueOf(e.getCause() == null ? e : e.getCause().getMessage());
        } catch (IllegalArgumentException e) {
            error = e.getMessage();
        }
        GenerationResult counted = error != null ? GenerationResult.failed(error, 0)
                : new GenerationResult(c.label(), new int[0], FinishReason.STOP, 0, 0, 0, 0, false, null);
        runner.finish(counted);
        if (!fullResult) return c == null ? null : UTF8String.fromString(c.label());
        if (c == null) return new GenericInternalRow(new Object[] {null, null, UTF8String.fromString(error)});
        Object[] keys = new Object[c.labels().size()], values = new Object[keys.length];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = UTF8String.fromString(c.labels().get(i));
            values[i] = c.probabilities()[i];
        }
        return new GenericInternalRow(new Object[] {
            UTF8String.fromString(c.label()), new ArrayBasedMapData(new GenericArrayData(keys), new GenericArrayData(values)), null});
    }
}
