package io.sparkglm.spark.task;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparkglm.constrain.JsonType;
import io.sparkglm.constrain.JsonTypes;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.util.GenericArrayData;
import org.apache.spark.sql.types.*;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * glm_extract's types: a Spark schema (from a DDL string or a list of field names) into the JSON type the
 * engine's grammar generates, and generated JSON back into Catalyst values of that schema. Supported:
 * STRING (and CHAR/VARCHAR), TINYINT, SMALLINT, INT, BIGINT, FLOAT, DOUBLE, DECIMAL(p,s), BOOLEAN, DATE,
 * ARRAY&lt;T&gt;, STRUCT&lt;...&gt;, nested. Every field of the result is nullable.
 */
public final class ExtractTypes {

    private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);

    private ExtractTypes() {}

    /** The schema of a DDL field list, every field made nullable; IllegalArgumentException when invalid. */
    public static StructType fromDdl(String ddl) {
        StructType parsed;
        try {
            parsed = StructType.fromDDL(ddl);
        } catch (Exception e) {      // Spark's ParseException / AnalysisException
            throw new IllegalArgumentException("invalid DDL schema '" + ddl + "': " + firstLine(e.getMessage()));
        }
        if (parsed.fields().length == 0) throw new IllegalArgumentException("the DDL schema '" + ddl + "' has no fields");
        StructType s = (StructType) nullable(parsed);
        jsonType(s, "");     // rejects unsupported types now, at analysis time
        return s;
    }

    /** A schema of STRING fields with these names. */
    public static StructType fromNames(List<String> names) {
        if (names.isEmpty()) throw new IllegalArgumentException("the list of field names is empty");
        StructType s = new StructType();
        for (String n : names) {
            if (n == null || n.isEmpty()) throw new IllegalArgumentException("field names must be non-empty: " + names);
            s = s.add(n, DataTypes.StringType, true);
        }
        if (s.fieldNames().length != new java.util.HashSet<>(names).size()) throw new IllegalArgumentException("duplicate field name in " + names);
        return s;
    }

    private static String firstLine(String m) {
        if (m == null) return "";
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }

    private static DataType nullable(DataType t) {
        if (t instanceof StructType st) {
            StructType out = new StructType();
            for (StructField f : st.fields()) out = out.add(f.name(), nullable(f.dataType()), true);
            return out;
        }
        if (t instanceof ArrayType at) return new ArrayType(nullable(at.elementType()), true);
        if (t instanceof CharType || t instanceof VarcharType) return DataTypes.StringType;
        return t;
    }

    /** The JSON type the grammar generates for a Spark type. */
    public static JsonType jsonType(DataType t, String path) {
        if (t instanceof StructType st) {
            List<JsonType.Field> fields = new ArrayList<>();
            for (StructField f : st.fields()) fields.add(new JsonType.Field(f.name(), jsonType(f.dataType(), path + f.name() + ".")));
            return new JsonType.Obj(fields);
        }
        if (t instanceof ArrayType at) return new JsonType.Arr(jsonType(at.elementType(), path));
        if (t instanceof StringType || t instanceof CharType || t instanceof VarcharType) return new JsonType.Str();
        if (t instanceof ByteType) return JsonTypes.integral(1);
        if (t instanceof ShortType) return JsonTypes.integral(2);
        if (t instanceof IntegerType) return JsonTypes.integral(4);
        if (t instanceof LongType) return JsonTypes.integral(8);
        if (t instanceof FloatType) return JsonTypes.float32();
        if (t instanceof DoubleType) return JsonTypes.float64();
        if (t instanceof DecimalType d) return JsonTypes.decimal(d.precision(), d.scale());
        if (t instanceof BooleanType) return new JsonType.Bool();
        if (t instanceof DateType) return new JsonType.Date();
        String where = path.isEmpty() ? "" : " (field " + path.substring(0, path.length() - 1) + ")";
        throw new IllegalArgumentException("type " + t.sql() + where + " is not supported; use STRING, INT, BIGINT, SMALLINT, "
                + "TINYINT, DOUBLE, FLOAT, DECIMAL(p,s), BOOLEAN, DATE, ARRAY<T> or STRUCT<...>");
    }

    /** Generated JSON text as a Catalyst row of the schema (missing or null fields are NULL). */
    public static GenericInternalRow toRow(String json, StructType schema) {
        return toRow(parse(json), schema);
    }

    /** A JSON value as a Catalyst row of the schema (missing or null fields are NULL; a null value is NULL). */
    public static GenericInternalRow toRow(JsonNode node, StructType schema) {
        return (GenericInternalRow) value(node, schema);
    }

    /** The model's JSON output, parsed; IllegalArgumentException when it is not JSON. */
    public static JsonNode parse(String json) {
        try {
            return JSON.readTree(json);
        } catch (Exception e) {
            throw new IllegalArgumentException("the model's output is not JSON: " + e.getMessage());
        }
    }

    private static Object value(JsonNode n, DataType t) {
        if (n == null || n.isNull() || n.isMissingNode()) return null;
        if (t instanceof StructType st) {
            if (!n.isObject()) throw mismatch(n, t);
            Object[] values = new Object[st.fields().length];
            for (int i = 0; i < values.length; i++) values[i] = value(n.get(st.fields()[i].name()), st.fields()[i].dataType());
            return new GenericInternalRow(values);
        }
        if (t instanceof ArrayType at) {
            if (!n.isArray()) throw mismatch(n, t);
            Object[] values = new Object[n.size()];
            for (int i = 0; i < values.length; i++) values[i] = value(n.get(i), at.elementType());
            return new GenericArrayData(values);
        }
        if (t instanceof StringType) {
            if (!n.isTextual()) throw mismatch(n, t);
            return UTF8String.fromString(n.asText());
        }
        if (t instanceof BooleanType) {
            if (!n.isBoolean()) throw mismatch(n, t);
            return n.booleanValue();
        }
        if (t instanceof DateType) {
            if (!n.isTextual()) throw mismatch(n, t);
            return (int) LocalDate.parse(n.asText()).toEpochDay();
        }
        if (!n.isNumber()) throw mismatch(n, t);
        if (t instanceof ByteType) return (byte) exactLong(n, Byte.MIN_VALUE, Byte.MAX_VALUE);
        if (t instanceof ShortType) return (short) exactLong(n, Short.MIN_VALUE, Short.MAX_VALUE);
        if (t instanceof IntegerType) return (int) exactLong(n, Integer.MIN_VALUE, Integer.MAX_VALUE);
        if (t instanceof LongType) return exactLong(n, Long.MIN_VALUE, Long.MAX_VALUE);
        if (t instanceof FloatType) return n.floatValue();
        if (t instanceof DoubleType) return n.doubleValue();
        if (t instanceof DecimalType d) {
            BigDecimal v = n.decimalValue().setScale(d.scale(), RoundingMode.HALF_UP);
            if (v.precision() > d.precision()) throw mismatch(n, t);
            return Decimal.apply(v, d.precision(), d.scale());
        }
        throw mismatch(n, t);
    }

    private static long exactLong(JsonNode n, long min, long max) {
        if (!n.isIntegralNumber() || !n.canConvertToLong() || n.longValue() < min || n.longValue() > max) {
            throw new IllegalArgumentException("the model's output " + n + " is not an integer in [" + min + ", " + max + "]");
        }
        return n.longValue();
    }

    private static IllegalArgumentException mismatch(JsonNode n, DataType t) {
        return new IllegalArgumentException("the model's output " + n + " does not fit " + t.sql());
    }
}
