package io.sparkglm.spark.sql;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import io.sparkglm.spark.task.RowWindow;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.Attribute;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.expressions.Generator;
import org.apache.spark.sql.catalyst.expressions.codegen.CodegenContext;
import org.apache.spark.sql.catalyst.expressions.codegen.ExprCode;
import org.apache.spark.sql.catalyst.trees.TreePattern$;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.StructType;
import scala.Enumeration;
import scala.collection.IterableOnce;
import scala.collection.immutable.IndexedSeq;
import scala.collection.immutable.Seq;
import scala.jdk.javaapi.CollectionConverters;

/**
 * The batched evaluation of glm_* calls in a SQL query ({@link BatchGlmCalls} puts it under the Project that held
 * them): a Spark generator that starts each row's calls in the engine at once and holds up to
 * {@code spark.glm.batchSize} rows in flight, giving rows back in input order, each with the columns it carries
 * through and the calls' results. Rows of one task thus share the engine's batch, as rows of the DataSource do.
 *
 * <p>Evaluated by GenerateExec without code generation, one instance per task (the plan is deserialized per task).
 */
final class GlmBatchEval extends Expression implements Generator, java.io.Serializable {

    /** One input row on its way: the values it carries through and its calls in the making. */
    private record InFlight(Object[] carried, GlmFunction.Pending[] results) {}

    private final List<Expression> carried;
    private final List<GlmFunctionExpression> calls;
    /** Each call's argument expressions (its children), as Java lists once rather than per row. */
    private final List<List<Expression>> arguments;
    private final int batchSize;
    /** Rows a task may start (a LIMIT above: Spark reads no more); Long.MAX_VALUE without one. */
    private final long limit;
    private transient RowWindow<InFlight> window;
    private transient long started;

    GlmBatchEval(List<? extends Expression> carried, List<GlmFunctionExpression> calls, int batchSize, long limit) {
        this.carried = List.copyOf(carried);
        this.calls = List.copyOf(calls);
        this.arguments = this.calls.stream().map(c -> List.copyOf(CollectionConverters.asJava(c.children()))).toList();
        this.batchSize = batchSize;
        this.limit = limit;
    }

    @Override
    public StructType elementSchema() {
        StructType s = new StructType();
        for (int i = 0; i < carried.size(); i++) {
            Expression e = carried.get(i);
            s = s.add(e instanceof Attribute a ? a.name() : "c" + i, e.dataType(), e.nullable());
        }
        for (int i = 0; i < calls.size(); i++) s = s.add(calls.get(i).prettyName() + "_" + i, calls.get(i).dataType(), true);
        return s;
    }

    @Override
    public IterableOnce<InternalRow> eval(InternalRow row) {
        if (window == null) window = new RowWindow<>(batchSize);
        if (started >= limit) {  // past the LIMIT: Spark stops reading before it needs this row; give back what is held
            return CollectionConverters.asScala(window.isEmpty() ? List.<InternalRow>of() : List.of(finish(window.next())));
        }
        started++;
        Object[] values = new Object[carried.size()];
        for (int i = 0; i < values.length; i++) values[i] = InternalRow.copyValue(carried.get(i).eval(row));
        GlmFunction.Pending[] results = new GlmFunction.Pending[calls.size()];
        for (int c = 0; c < results.length; c++) {
            GlmFunctionExpression call = calls.get(c);
            List<Expression> args = arguments.get(c);
            Object[] argValues = new Object[args.size()];
            for (int a = 0; a < argValues.length; a++) argValues[a] = InternalRow.copyValue(args.get(a).eval(row));
            results[c] = ((GlmFunction<?>) call.function()).start(new GenericInternalRow(argValues));
        }
        window.add(new InFlight(values, results));
        if (window.hasRoom() && started < limit) return CollectionConverters.asScala(List.<InternalRow>of());
        return CollectionConverters.asScala(List.of(finish(window.next())));
    }

    /** The rows still in flight, in order, when the task's input ends; the most held at once is reported. */
    @Override
    public IterableOnce<InternalRow> terminate() {
        List<InternalRow> rest = new ArrayList<>();
        if (window == null) return CollectionConverters.asScala(rest);
        while (!window.isEmpty()) rest.add(finish(window.next()));
        ((GlmFunction<?>) calls.getFirst().function()).runner.recordInFlight(window.mostHeld());
        return CollectionConverters.asScala(rest);
    }

    private InternalRow finish(InFlight row) {
        Object[] out = new Object[row.carried().length + row.results().length];
        System.arraycopy(row.carried(), 0, out, 0, row.carried().length);
        for (int c = 0; c < row.results().length; c++) out[row.carried().length + c] = row.results()[c].finish();
        return new GenericInternalRow(out);
    }

    // ---- the Expression and Generator plumbing ----

    @Override public DataType dataType() { return new ArrayType(elementSchema(), false); }
    @Override public boolean nullable() { return false; }
    @Override public boolean supportCodegen() { return false; }
    @Override public String prettyName() { return "glm_batch"; }

    @Override
    public Seq<Enumeration.Value> nodePatterns() {
        return CollectionConverters.asScala(List.of(TreePattern$.MODULE$.GENERATOR())).toList();
    }

    @Override
    public void org$apache$spark$sql$catalyst$expressions$Generator$_setter_$nodePatterns_$eq(Seq<Enumeration.Value> patterns) {
        // the trait's val is answered by nodePatterns() above
    }

    @Override
    public ExprCode doGenCode(CodegenContext ctx, ExprCode ev) {
        throw new UnsupportedOperationException("glm_batch is evaluated without code generation (supportCodegen is false)");
    }

    @Override
    public Seq<Expression> children() {
        List<Expression> all = new ArrayList<>(carried);
        all.addAll(calls);
        return CollectionConverters.asScala(all).toList();
    }

    @Override
    public Expression withNewChildrenInternal(IndexedSeq<Expression> newChildren) {
        List<Expression> all = CollectionConverters.asJava(newChildren);
        List<GlmFunctionExpression> newCalls = new ArrayList<>();
        for (Expression e : all.subList(carried.size(), all.size())) newCalls.add((GlmFunctionExpression) e);
        return new GlmBatchEval(all.subList(0, carried.size()), newCalls, batchSize, limit);
    }

    @Override public int productArity() { return 4; }

    @Override
    public Object productElement(int n) {
        return switch (n) {
            case 0 -> CollectionConverters.asScala(carried).toList();
            case 1 -> CollectionConverters.asScala(calls).toList();
            case 2 -> batchSize;
            case 3 -> limit;
            default -> throw new IndexOutOfBoundsException(n);
        };
    }

    @Override public boolean canEqual(Object that) { return that instanceof GlmBatchEval; }

    @Override
    public boolean equals(Object o) {
        return o instanceof GlmBatchEval g && g.carried.equals(carried) && g.calls.equals(calls) && g.batchSize == batchSize
                && g.limit == limit;
    }

    @Override
    public int hashCode() {
        return Objects.hash(carried, calls, batchSize, limit);
    }
}
