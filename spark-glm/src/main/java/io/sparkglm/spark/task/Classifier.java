package io.sparkglm.spark.task;

import io.sparkglm.constrain.LabelScorer;
import io.sparkglm.generate.FinishReason;
import io.sparkglm.spark.executor.GlmEngineException;
import io.sparkglm.spark.executor.GlmRunner;
import io.sparkglm.spark.executor.RowResult;
import io.sparkglm.spark.executor.GlmRunner.Prompt;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.apache.spark.sql.catalyst.util.ArrayBasedMapData;
import org.apache.spark.sql.catalyst.util.GenericArrayData;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * Classification of one document by likelihood, shared by {@code glm_classify(_result)} and {@code format("glm")}
 * with task classify: each label is scored as the assistant's whole reply ({@link LabelScorer}) and the most
 * likely one wins; the probabilities are the softmax over the labels.
 */
public final class Classifier {

    /** glm_classify_result's struct (and the columns of the source's task classify). */
    public static final StructType RESULT = new StructType()
            .add("label", DataTypes.StringType, true)
            .add("probabilities", DataTypes.createMapType(DataTypes.StringType, DataTypes.DoubleType, false), true)
            .add("error", DataTypes.StringType, true);

    public static final String SYSTEM = "You classify documents. You answer with exactly one of the given labels.";

    private Classifier() {}

    public static String instruction(List<String> labels) {
        return "Classify the document into exactly one of these labels: " + String.join(", ", labels) + ". Answer with the label only.";
    }

    /** A finished classification: the scores, or the error that stopped them (exactly one is null). */
    public record Outcome(LabelScorer.Classification classification, String error) {

        /** What the job metrics and the on-error policy see ({@link GlmRunner#finish}). */
        public RowResult counted() {
            return error != null ? RowResult.failed(error, 0)
                    : new RowResult(classification.label(), FinishReason.STOP, 0, 0, 0, false, null, 1, 1);
        }

        public UTF8String label() {
            return classification == null ? null : UTF8String.fromString(classification.label());
        }

        /** The values of {@link #RESULT}: label, probabilities (label -> probability), error. */
        public Object[] resultValues() {
            if (classification == null) return new Object[] {null, null, UTF8String.fromString(error)};
            List<String> labels = classification.labels();
            Object[] keys = new Object[labels.size()], values = new Object[labels.size()];
            for (int i = 0; i < keys.length; i++) {
                keys[i] = UTF8String.fromString(labels.get(i));
                values[i] = classification.probabilities()[i];
            }
            return new Object[] {label(), new ArrayBasedMapData(new GenericArrayData(keys), new GenericArrayData(values)), null};
        }
    }

    /** Scores the labels for the document in this JVM's engine. Never fails: a failure is an outcome with an error. */
    public static CompletableFuture<Outcome> classify(GlmRunner runner, String doc, List<String> labels) {
        try {
            List<String> checked = LabelScorer.checkLabels(labels);
            return runner.score(new Prompt(SYSTEM, instruction(checked), doc),
                            tok -> checked.stream().map(l -> LabelScorer.continuation(tok, l)).toList())
                    .handle((scores, failure) -> {
                        if (failure == null) return outcome(checked, scores);
                        GlmEngineException engineFailed = GlmRunner.engineFailure(failure);
                        if (engineFailed != null) throw engineFailed;     // not this row's problem: fails the task
                        return new Outcome(null, GlmRunner.errorMessage(failure));
                    });
        } catch (IllegalArgumentException e) {
            return CompletableFuture.completedFuture(new Outcome(null, e.getMessage()));
        }
    }

    private static Outcome outcome(List<String> labels, double[] scores) {
        try {
            return new Outcome(LabelScorer.of(labels, scores), null);
        } catch (IllegalArgumentException e) {
            return new Outcome(null, e.getMessage());
        }
    }
}
