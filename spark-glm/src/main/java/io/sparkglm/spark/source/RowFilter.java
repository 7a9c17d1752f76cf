package io.sparkglm.spark.source;

import java.io.Serializable;
import java.util.Map;
import org.apache.spark.sql.sources.AlwaysFalse;
import org.apache.spark.sql.sources.AlwaysTrue;
import org.apache.spark.sql.sources.And;
import org.apache.spark.sql.sources.EqualNullSafe;
import org.apache.spark.sql.sources.EqualTo;
import org.apache.spark.sql.sources.Filter;
import org.apache.spark.sql.sources.GreaterThan;
import org.apache.spark.sql.sources.GreaterThanOrEqual;
import org.apache.spark.sql.sources.In;
import org.apache.spark.sql.sources.IsNotNull;
import org.apache.spark.sql.sources.IsNull;
import org.apache.spark.sql.sources.LessThan;
import org.apache.spark.sql.sources.LessThanOrEqual;
import org.apache.spark.sql.sources.Not;
import org.apache.spark.sql.sources.Or;
import org.apache.spark.sql.sources.StringContains;
import org.apache.spark.sql.sources.StringEndsWith;
import org.apache.spark.sql.sources.StringStartsWith;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * A pushed-down filter on input columns, evaluated on each row as Parquet gives it, before the row can reach
 * the model. SQL's three-valued logic: {@link #test} gives TRUE, FALSE or null (unknown), and a row is kept only
 * on TRUE, exactly as Spark's own Filter would decide.
 */
interface RowFilter extends Serializable {

    /** TRUE, FALSE, or null for unknown. */
    Boolean test(Object[] row);

    /**
     * Compiles a Spark filter against the columns read ({@code name -> index in the row, type}), or returns null
     * when it cannot be evaluated here (another column, a type or filter not handled): Spark then evaluates it
     * after the scan, and the rows it removes still go through the model.
     */
    static RowFilter compile(Filter f, Map<String, Integer> index, Map<String, DataType> types) {
        return switch (f) {
            case AlwaysTrue t -> row -> true;
            case AlwaysFalse t -> row -> false;
            case And a -> {
                RowFilter l = compile(a.left(), index, types), r = compile(a.right(), index, types);
                yield l == null || r == null ? null : row -> and(l.test(row), r.test(row));
            }
            case Or o -> {
                RowFilter l = compile(o.left(), index, types), r = compile(o.right(), index, types);
                yield l == null || r == null ? null : row -> or(l.test(row), r.test(row));
            }
            case Not n -> {
                RowFilter c = compile(n.child(), index, types);
                yield c == null ? null : row -> {
                    Boolean b = c.test(row);
                    return b == null ? null : !b;
                };
            }
            case IsNull n -> column(n.attribute(), index, types, (v, t) -> v == null, true);
            case IsNotNull n -> column(n.attribute(), index, types, (v, t) -> v != null, true);
            case EqualTo e -> compare(e.attribute(), e.value(), index, types, c -> c == 0);
            case GreaterThan e -> compare(e.attribute(), e.value(), index, types, c -> c > 0);
            case GreaterThanOrEqual e -> compare(e.attribute(), e.value(), index, types, c -> c >= 0);
            case LessThan e -> compare(e.attribute(), e.value(), index, types, c -> c < 0);
            case LessThanOrEqual e -> compare(e.attribute(), e.value(), index, types, c -> c <= 0);
            case EqualNullSafe e -> {
                Integer i = index.get(e.attribute());
                if (i == null || !comparable(types.get(e.attribute()), e.value())) yield null;
                Object value = e.value();
                yield row -> row[i] == null || value == null ? row[i] == null && value == null : compareValues(row[i], value) == 0;
            }
            case In in -> {
                Integer i = index.get(in.attribute());
                if (i == null) yield null;
                for (Object v : in.values()) if (v != null && !comparable(types.get(in.attribute()), v)) yield null;
                Object[] values = in.values();
                yield row -> {
                    if (row[i] == null) return null;
                    boolean sawNull = false;
                    for (Object v : values) {
                        if (v == null) sawNull = true;
                        else if (compareValues(row[i], v) == 0) return true;
                    }
                    return sawNull ? null : false;
                };
            }
            case StringStartsWith s -> string(s.attribute(), index, types, v -> v.startsWith(s.value()));
            case StringEndsWith s -> string(s.attribute(), index, types, v -> v.endsWith(s.value()));
            case StringContains s -> string(s.attribute(), index, types, v -> v.contains(s.value()));
            default -> null;
        };
    }

    private static Boolean and(Boolean a, Boolean b) {
        if (Boolean.FALSE.equals(a) || Boolean.FALSE.equals(b)) return false;
        return a == null || b == null ? null : true;
    }

    private static Boolean or(Boolean a, Boolean b) {
        if (Boolean.TRUE.equals(a) || Boolean.TRUE.equals(b)) return true;
        return a == null || b == null ? null : false;
    }

    interface ValueTest extends Serializable {
        boolean test(Object value, DataType type);
    }

    interface CompareTest extends Serializable {
        boolean test(int comparison);
    }

    interface StringTest extends Serializable {
        boolean test(String value);
    }

    private static RowFilter column(String name, Map<String, Integer> index, Map<String, DataType> types, ValueTest test,
                                    boolean nullAware) {
        Integer i = index.get(name);
        if (i == null) return null;
        DataType type = types.get(name);
        return row -> !nullAware && row[i] == null ? null : test.test(row[i], type);
    }

    private static RowFilter compare(String name, Object value, Map<String, Integer> index, Map<String, DataType> types,
                                     CompareTest test) {
        Integer i = index.get(name);
        if (i == null || value == null || !comparable(types.get(name), value)) return null;
        return row -> row[i] == null ? null : test.test(compareValues(row[i], value));
    }

    private static RowFilter string(String name, Map<String, Integer> index, Map<String, DataType> types, StringTest test) {
        Integer i = index.get(name);
        if (i == null || !DataTypes.StringType.equals(types.get(name))) return null;
        return row -> row[i] == null ? null : test.test(row[i].toString());
    }

    /** Whether a column of this type can be compared here with a filter value (others are left to Spark). */
    private static boolean comparable(DataType type, Object value) {
        if (DataTypes.StringType.equals(type)) return value instanceof String;
        if (DataTypes.BooleanType.equals(type)) return value instanceof Boolean;
        boolean numericColumn = DataTypes.IntegerType.equals(type) || DataTypes.LongType.equals(type)
                || DataTypes.FloatType.equals(type) || DataTypes.DoubleType.equals(type);
        return numericColumn && (value instanceof Integer || value instanceof Long || value instanceof Short
                || value instanceof Byte || value instanceof Float || value instanceof Double);
    }

    /** Compares a row value (UTF8String, Boolean or a number) with a filter value of a comparable kind. */
    private static int compareValues(Object rowValue, Object value) {
        if (rowValue instanceof Boolean b) return Boolean.compare(b, (Boolean) value);
        if (rowValue instanceof Number n) {
            Number m = (Number) value;
            boolean floating = n instanceof Float || n instanceof Double || m instanceof Float || m instanceof Double;
            if (!floating) return Long.compare(n.longValue(), m.longValue());
            double x = n.doubleValue(), y = m.doubleValue();
            return x == y ? 0 : Double.compare(x, y); // as Spark: -0.0 = 0.0, NaN above everything
        }
        // Spark orders strings by their UTF-8 bytes, which is not String.compareTo's UTF-16 order
        return ((UTF8String) rowValue).compareTo(UTF8String.fromString((String) value));
    }
}
