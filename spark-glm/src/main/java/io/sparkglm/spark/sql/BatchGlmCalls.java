package io.sparkglm.spark.sql;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.apache.spark.sql.catalyst.expressions.Alias;
import org.apache.spark.sql.catalyst.expressions.And;
import org.apache.spark.sql.catalyst.expressions.Attribute;
import org.apache.spark.sql.catalyst.expressions.AttributeReference;
import org.apache.spark.sql.catalyst.expressions.AttributeSet;
import org.apache.spark.sql.catalyst.expressions.ConditionalExpression;
import org.apache.spark.sql.catalyst.expressions.ExprId;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.NamedExpression;
import org.apache.spark.sql.catalyst.expressions.NamedExpression$;
import org.apache.spark.sql.catalyst.expressions.Or;
import org.apache.spark.sql.catalyst.plans.logical.Generate;
import org.apache.spark.sql.catalyst.plans.logical.LocalLimit;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.catalyst.plans.logical.Project;
import org.apache.spark.sql.catalyst.rules.Rule;
import org.apache.spark.sql.types.Metadata;
import scala.Function1;
import scala.Option;
import scala.PartialFunction;
import scala.runtime.AbstractPartialFunction;
import scala.jdk.javaapi.CollectionConverters;

/**
 * An optimizer rule that makes the engine-backed glm_* calls of a Project run in batches: it moves them into a
 * {@link GlmBatchEval} generator under the Project, so that a task keeps {@code spark.glm.batchSize} rows in the
 * engine at once instead of one (Spark plans Python UDFs the same way). The Project then reads the calls' results as
 * columns. The results are the same values the calls give row by row.
 *
 * <p>Left row by row: calls inside conditional expressions (CASE, IF, COALESCE, AND, OR: batching would run the
 * model on rows the condition skips), calls whose arguments hold another such call, calls outside a Project (a
 * filter, an aggregate), and everything when {@code spark.glm.batchSql=false}.
 */
final class BatchGlmCalls extends Rule<LogicalPlan> {

    @Override
    public LogicalPlan apply(LogicalPlan plan) {
        // Top down, so that a LIMIT is seen before the Project under it: the batch then never starts rows past the limit.
        return plan.transformDown(new AbstractPartialFunction<LogicalPlan, LogicalPlan>() {
            @Override
            public boolean isDefinedAt(LogicalPlan p) {
                if (p instanceof Project project) return !batchable(project).isEmpty();
                return p instanceof LocalLimit limit && limit.limitExpr().foldable() && limit.child() instanceof Project under
                        && !batchable(under).isEmpty();
            }

            @Override
            public <A1 extends LogicalPlan, B1> B1 applyOrElse(A1 p, Function1<A1, B1> otherwise) {
                if (!isDefinedAt(p)) return otherwise.apply(p);
                LogicalPlan rewritten = p instanceof LocalLimit limit
                        ? limit.withNewChildInternal(rewrite((Project) limit.child(), ((Number) limit.limitExpr().eval(null)).longValue()))
                        : rewrite((Project) p, Long.MAX_VALUE);
                @SuppressWarnings("unchecked") B1 out = (B1) rewritten;
                return out;
            }
        });
    }

    /** The calls of a Project to batch, without repeats (by canonical form), in order of appearance. */
    static List<GlmFunctionExpression> batchable(Project project) {
        Map<Expression, GlmFunctionExpression> found = new LinkedHashMap<>();
        for (NamedExpression e : CollectionConverters.asJava(project.projectList())) collect((Expression) e, found);
        return new ArrayList<>(found.values());
    }

    private static void collect(Expression e, Map<Expression, GlmFunctionExpression> found) {
        if (e instanceof ConditionalExpression || e instanceof And || e instanceof Or) return;
        if (isEngineCall(e)) {
            GlmFunctionExpression call = (GlmFunctionExpression) e;
            if (CollectionConverters.asJava(call.children()).stream().noneMatch(BatchGlmCalls::containsEngineCall)) {
                found.putIfAbsent(call.canonicalized(), call);
            }
            return;
        }
        for (Expression child : CollectionConverters.asJava(e.children())) collect(child, found);
    }

    private static boolean isEngineCall(Expression e) {
        return e instanceof GlmFunctionExpression f && f.function() instanceof GlmFunction<?> g && g.batched() && g.runner.conf().batchSql();
    }

    private static boolean containsEngineCall(Expression e) {
        return isEngineCall(e) || CollectionConverters.asJava(e.children()).stream().anyMatch(BatchGlmCalls::containsEngineCall);
    }

    /**
     * Project(list, child) into Project(list', Generate(GlmBatchEval(carried, calls), child)); under a LIMIT of
     * {@code limit} rows per partition the generator starts no more than that many.
     */
    private static LogicalPlan rewrite(Project project, long limit) {
        List<GlmFunctionExpression> calls = batchable(project);
        LogicalPlan child = project.child();
        List<Attribute> childOutput = CollectionConverters.asJava(child.output());
        AttributeSet referenced = project.references();
        List<Attribute> carried = childOutput.stream().filter(referenced::contains).toList();

        // New attributes for what the generator gives: the carried columns (new ids: the generator makes them) and results.
        Map<ExprId, Attribute> carriedOut = new HashMap<>();
        List<Attribute> generatorOutput = new ArrayList<>();
        for (Attribute a : carried) {
            Attribute fresh = a.newInstance();
            carriedOut.put(a.exprId(), fresh);
            generatorOutput.add(fresh);
        }
        Map<Expression, Attribute> results = new HashMap<>();
        for (int i = 0; i < calls.size(); i++) {
            GlmFunctionExpression call = calls.get(i);
            Attribute result = new AttributeReference(call.prettyName() + "_" + i, call.dataType(), true, Metadata.empty(),
                    NamedExpression$.MODULE$.newExprId(), CollectionConverters.asScala(List.<String>of()).toList());
            results.put(call.canonicalized(), result);
            generatorOutput.add(result);
        }
        int batchSize = ((GlmFunction<?>) calls.getFirst().function()).runner.conf().batchSize();
        Generate generate = new Generate(new GlmBatchEval(carried, calls, batchSize, limit),
                CollectionConverters.asScala(IntStream.range(0, childOutput.size()).boxed().map(i -> (Object) i).toList()).toList(),
                false, Option.empty(), CollectionConverters.asScala(generatorOutput).toList(), child);

        List<NamedExpression> projectList = new ArrayList<>();
        for (NamedExpression e : CollectionConverters.asJava(project.projectList())) {
            Expression replaced = ((Expression) e).transformDown(partial(x -> results.get(x.canonicalized())))
                    .transformUp(partial(x -> x instanceof Attribute a ? carriedOut.get(a.exprId()) : null));
            // A column passed through keeps its id (operators above refer to it): an alias of the carried copy.
            projectList.add(e instanceof Attribute a
                    ? new Alias(replaced, a.name(), a.exprId(), a.qualifier(), Option.empty(), CollectionConverters.asScala(List.<String>of()).toList())
                    : (NamedExpression) replaced);
        }
        return new Project(CollectionConverters.asScala(projectList).toList(), generate);
    }

    /** A partial function defined where {@code f} gives non-null. */
    private static PartialFunction<Expression, Expression> partial(java.util.function.Function<Expression, Expression> f) {
        return new AbstractPartialFunction<>() {
            @Override
            public boolean isDefinedAt(Expression x) {
                return f.apply(x) != null;
            }

            @Override
            public <A1 extends Expression, B1> B1 applyOrElse(A1 x, Function1<A1, B1> otherwise) {
                Expression r = f.apply(x);
                @SuppressWarnings("unchecked") B1 out = r != null ? (B1) r : otherwise.apply(x);
                return out;
            }
        };
    }
}
