package io.sparkglm.spark.sql;

import io.sparkglm.spark.executor.GlmRunner;
import io.sparkglm.spark.task.Classifier;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;

/**
 * {@code glm_classify(doc, labels)} and {@code glm_classify_result(doc, labels)}: each label is scored as the
 * assistant's whole reply and the most likely one wins; the result form adds the softmax probabilities over the
 * labels. Nothing is free-generated, so the answer is always one of the labels. The scoring is
 * {@link Classifier}'s, shared with format("glm") task classify.
 */
final class ClassifyFunction extends EngineFunction<Object> {

    private final boolean fullResult;

    ClassifyFunction(String name, GlmRunner runner, boolean fullResult) {
        super(name, runner, DataTypes.StringType, DataTypes.createArrayType(DataTypes.StringType));
        this.fullResult = fullResult;
    }

    @Override
    public DataType resultType() {
        return fullResult ? Classifier.RESULT : DataTypes.StringType;
    }

    static List<String> labels(ArrayData array) {
        List<String> labels = new ArrayList<>(array.numElements());
        for (int i = 0; i < array.numElements(); i++) labels.add(array.isNullAt(i) ? null : array.getUTF8String(i).toString());
        return labels;
    }

    @Override
    Pending start(InternalRow input) {
        if (input.isNullAt(0) || input.isNullAt(1)) return () -> null;
        var scores = Classifier.classify(runner, input.getUTF8String(0).toString(), labels(input.getArray(1)));
        return () -> {
            Classifier.Outcome outcome = GlmRunner.await(scores);
            runner.finish(outcome.counted());
            return fullResult ? new GenericInternalRow(outcome.resultValues()) : outcome.label();
        };
    }
}
