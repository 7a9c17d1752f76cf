package io.sparkglm.constrain;

import java.util.List;
import java.util.Objects;

/**
 * The shape of a JSON value that constrained decoding produces: the common ground of Spark DDL types and a
 * JSON-schema subset. Every object field and every top-level-below value is nullable ({@code null} where the
 * document has no value); array elements are not (a missing element is simply not listed).
 *
 * <p>Sizes are bounded by construction so that each value always fits its target type: integers by digit
 * count (INT 9 digits, BIGINT 18), decimals by precision and scale, dates are valid calendar dates.
 */
public sealed interface JsonType {

    /** An object with exactly these fields, written in this order. */
    record Obj(List<Field> fields) implements JsonType {
        public Obj {
            fields = List.copyOf(fields);
            if (fields.stream().map(Field::name).distinct().count() != fields.size()) {
                throw new IllegalArgumentException("duplicate field name in " + fields);
            }
        }
    }

    record Field(String name, JsonType type) {
        public Field {
            Objects.requireNonNull(name, "field name");
            Objects.requireNonNull(type, "field type");
        }
    }

    record Arr(JsonType element) implements JsonType {
        public Arr { Objects.requireNonNull(element, "array element type"); }
    }

    record Str() implements JsonType {}

    /** An integer of at most {@code maxDigits} digits (so it always fits: 9 for INT, 18 for BIGINT). */
    record Int(int maxDigits) implements JsonType {
        public Int {
            if (maxDigits < 1 || maxDigits > 18) throw new IllegalArgumentException("integer digits must be in 1..18: " + maxDigits);
        }
    }

    /**
     * A JSON number with at most {@code intDigits} digits before the point, {@code fracDigits} after it and
     * {@code expDigits} exponent digits (0 = no fraction / no exponent). DECIMAL(p, s) is (p - s, s, 0).
     */
    record Num(int intDigits, int fracDigits, int expDigits) implements JsonType {
        public Num {
            if (intDigits < 0 || fracDigits < 0 || expDigits < 0 || intDigits > 40 || fracDigits > 40 || expDigits > 3) {
                throw new IllegalArgumentException("number digits out of range: " + intDigits + "/" + fracDigits + "/" + expDigits);
            }
        }
    }

    record Bool() implements JsonType {}

    /** A calendar date as the string "YYYY-MM-DD" (years 1000..9999, always a real day). */
    record Date() implements JsonType {}

    /** One of these strings. */
    record Enum(List<String> values) implements JsonType {
        public Enum {
            values = List.copyOf(values);
            if (values.isEmpty()) throw new IllegalArgumentException("an enum needs at least one value");
            if (values.size() > 64) throw new IllegalArgumentException("an enum may have at most 64 values, got " + values.size());
            if (values.stream().distinct().count() != values.size()) throw new IllegalArgumentException("duplicate enum value in " + values);
        }
    }

    static JsonType string() { return new Str(); }
    static JsonType int32() { return new Int(9); }
    static JsonType int64() { return new Int(18); }
    static JsonType float64() { return new Num(20, 16, 2); }
}
