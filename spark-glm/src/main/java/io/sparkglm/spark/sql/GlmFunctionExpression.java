package io.sparkglm.spark.sql;

import org.apache.spark.sql.catalyst.expressions.ApplyFunctionExpression;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.connector.catalog.functions.ScalarFunction;
import scala.collection.immutable.IndexedSeq;
import scala.collection.immutable.Seq;

/**
 * Catalyst's ApplyFunctionExpression under the function's own name, so that an unaliased
 * {@code SELECT glm_count_tokens('hello world')} gets the column name {@code glm_count_tokens(hello world)}
 * instead of {@code applyfunctionexpression(hello world)}; and never foldable: with a literal argument Spark would
 * otherwise run the model while optimizing the query, on the driver, once per reference to the result (a query
 * reading four fields of glm_summarize_result ran the model four times, before any task started).
 */
final class GlmFunctionExpression extends ApplyFunctionExpression {

    GlmFunctionExpression(ScalarFunction<?> function, Seq<Expression> children) {
        super(function, children);
    }

    @Override
    public boolean foldable() {
        return false;
    }

    @Override
    public String prettyName() {
        return function().name();
    }

    @Override
    public Expression withNewChildrenInternal(IndexedSeq<Expression> newChildren) {
        return new GlmFunctionExpression(function(), newChildren.toList());
    }
}
