package io.sparkglm.spark.sql;

import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.aggregate.V2Aggregator;
import org.apache.spark.sql.connector.catalog.functions.AggregateFunction;
import scala.collection.immutable.IndexedSeq;
import scala.collection.immutable.Seq;

/**
 * Catalyst's V2Aggregator under the function's own name (an unaliased column reads {@code glm_summarize_agg(doc)},
 * not {@code v2aggregator(doc)}); Spark copies aggregates as it plans them, so every copy keeps this class.
 */
final class GlmAggregateExpression<S extends java.io.Serializable> extends V2Aggregator<S, Object> {

    GlmAggregateExpression(AggregateFunction<S, Object> function, Seq<Expression> children) {
        this(function, children, 0, 0);
    }

    private GlmAggregateExpression(AggregateFunction<S, Object> function, Seq<Expression> children, int mutableOffset, int inputOffset) {
        super(function, children, mutableOffset, inputOffset);
    }

    @Override
    public String prettyName() {
        return aggrFunc().name();
    }

    @Override
    public V2Aggregator<S, Object> withNewMutableAggBufferOffset(int offset) {
        return new GlmAggregateExpression<>(aggrFunc(), children(), offset, inputAggBufferOffset());
    }

    @Override
    public V2Aggregator<S, Object> withNewInputAggBufferOffset(int offset) {
        return new GlmAggregateExpression<>(aggrFunc(), children(), mutableAggBufferOffset(), offset);
    }

    @Override
    public Expression withNewChildrenInternal(IndexedSeq<Expression> newChildren) {
        return new GlmAggregateExpression<>(aggrFunc(), newChildren.toList(), mutableAggBufferOffset(), inputAggBufferOffset());
    }
}
