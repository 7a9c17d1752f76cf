package io.sparkglm.constrain;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Schemas into {@link JsonType}s: a Spark DDL field list and a JSON-schema subset. Both map types the
 * same way as the Spark side does (io.sparkglm.spark.sql.ExtractTypes): STRING, INT/INTEGER (9 digits),
 * BIGINT/LONG (18), SMALLINT (4), TINYINT (2), DOUBLE, FLOAT/REAL, DECIMAL(p,s), BOOLEAN, DATE, ARRAY&lt;T&gt;,
 * STRUCT&lt;name: T, ...&gt;.
 */
public final class JsonTypes {

    private JsonTypes() {}

    /** A DDL field list such as {@code party STRING, signed DATE, items ARRAY<STRUCT<name: STRING, qty: INT>>}. */
    public static JsonType.Obj fromDdl(String ddl) {
        DdlParser p = new DdlParser(ddl);
        JsonType.Obj fields = p.fields(false);
        p.expectEnd();
        return fields;
    }

    /** The JSON type a DECIMAL(precision, scale) value always fits in. */
    public static JsonType decimal(int precision, int scale) {
        if (precision < 1 || precision > 38 || scale < 0 || scale > precision) {
            throw new IllegalArgumentException("DECIMAL(" + precision + ", " + scale + ") is not a valid decimal type");
        }
        return new JsonType.Num(precision - scale, scale, 0);
    }

    public static JsonType float32() { return new JsonType.Num(20, 10, 0); }

    public static JsonType float64() { return JsonType.float64(); }

    /** Integer digits that always fit a Spark integral type of this many bytes. */
    public static JsonType integral(int bytes) {
        return new JsonType.Int(switch (bytes) { case 1 -> 2; case 2 -> 4; case 4 -> 9; default -> 18; });
    }

    private static final class DdlParser {
        private final String s;
        private int at;

        DdlParser(String s) {
            if (s == null || s.isBlank()) throw new IllegalArgumentException("the DDL schema is empty");
            this.s = s;
        }

        JsonType.Obj fields(boolean inStruct) {
            List<JsonType.Field> fields = new ArrayList<>();
            do {
                String name = name();
                skip();
                if (inStruct && peek() == ':') at++;
                JsonType type = type();
                modifiers();
                fields.add(new JsonType.Field(name, type));
            } while (consume(','));
            return new JsonType.Obj(fields);
        }

        private void modifiers() {
            while (true) {
                skip();
                int save = at;
                String word = at < s.length() && Character.isLetter(s.charAt(at)) ? word() : "";
                switch (word) {
                    case "NOT" -> { if (!word().equals("NULL")) throw error("expected NULL after NOT"); }
                    case "COMMENT" -> stringLiteral();
                    default -> { at = save; return; }
                }
            }
        }

        JsonType type() {
            String word = word();
            return switch (word) {
                case "STRING", "VARCHAR", "CHAR" -> { if (!word.equals("STRING")) parenthesized(1); yield new JsonType.Str(); }
                case "INT", "INTEGER" -> integral(4);
                case "BIGINT", "LONG" -> integral(8);
                case "SMALLINT", "SHORT" -> integral(2);
                case "TINYINT", "BYTE" -> integral(1);
                case "DOUBLE" -> float64();
                case "FLOAT", "REAL" -> float32();
                case "DECIMAL", "DEC", "NUMERIC" -> {
                    int[] ps = parenthesized(2);
                    yield decimal(ps.length > 0 ? ps[0] : 10, ps.length > 1 ? ps[1] : 0);
                }
                case "BOOLEAN" -> new JsonType.Bool();
                case "DATE" -> new JsonType.Date();
                case "ARRAY" -> {
                    expect('<');
                    JsonType element = type();
                    expect('>');
                    yield new JsonType.Arr(element);
                }
                case "STRUCT" -> {
                    expect('<');
                    skip();
                    if (peek() == '>') { at++; yield new JsonType.Obj(List.of()); }
                    JsonType.Obj o = fields(true);
                    expect('>');
                    yield o;
                }
                default -> throw error("unsupported type " + word + " (supported: STRING, INT, BIGINT, SMALLINT, TINYINT, "
                        + "DOUBLE, FLOAT, DECIMAL(p,s), BOOLEAN, DATE, ARRAY<T>, STRUCT<...>)");
            };
        }

        private int[] parenthesized(int max) {
            skip();
            if (peek() != '(') return new int[0];
            at++;
            List<Integer> values = new ArrayList<>();
            do {
                skip();
                int from = at;
                while (at < s.length() && Character.isDigit(s.charAt(at))) at++;
                if (from == at) throw error("expected a number");
                values.add(Integer.parseInt(s.substring(from, Math.min(at, from + 9))));
            } while (consume(','));
            expect(')');
            if (values.size() > max) throw error("too many type parameters");
            return values.stream().mapToInt(Integer::intValue).toArray();
        }

        private String name() {
            skip();
            if (peek() == '`') {
                StringBuilder sb = new StringBuilder();
                at++;
                while (true) {
                    if (at >= s.length()) throw error("unterminated `name`");
                    char c = s.charAt(at++);
                    if (c == '`') {
                        if (peek() == '`') { sb.append('`'); at++; continue; }
                        return sb.toString();
                    }
                    sb.append(c);
                }
            }
            int from = at;
            while (at < s.length() && (Character.isLetterOrDigit(s.charAt(at)) || s.charAt(at) == '_')) at++;
            if (from == at) throw error("expected a field name");
            return s.substring(from, at);
        }

        private String word() {
            skip();
            int from = at;
            while (at < s.length() && (Character.isLetter(s.charAt(at)) || s.charAt(at) == '_')) at++;
            if (from == at) throw error("expected a type");
            return s.substring(from, at).toUpperCase(Locale.ROOT);
        }

        private void stringLiteral() {
            skip();
            char q = peek();
            if (q != '\'' && q != '"') throw error("expected a quoted comment");
            at++;
            while (at < s.length() && s.charAt(at) != q) at += s.charAt(at) == '\\' ? 2 : 1;
            if (at >= s.length()) throw error("unterminated comment");
            at++;
        }

        private void skip() { while (at < s.length() && Character.isWhitespace(s.charAt(at))) at++; }

        private char peek() { return at < s.length() ? s.charAt(at) : '\0'; }

        private boolean consume(char c) {
            skip();
            if (peek() != c) return false;
            at++;
            return true;
        }

        private void expect(char c) {
            if (!consume(c)) throw error("expected '" + c + "'");
        }

        void expectEnd() {
            skip();
            if (at < s.length()) throw error("unexpected text");
        }

        private IllegalArgumentException error(String what) {
            return new IllegalArgumentException("bad DDL schema at character " + at + ": " + what + " in \"" + s + "\"");
        }
    }

    /**
     * A JSON schema subset: {@code type} object (properties, in document order; {@code required} is accepted
     * but every field stays nullable), array ({@code items}), string (optionally {@code enum} of strings or
     * {@code format: date}), integer, number, boolean; a type list like ["string", "null"] counts as its
     * non-null member.
     */
    public static JsonType fromJsonSchema(String json) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("the JSON schema is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) throw new IllegalArgumentException("the JSON schema must be a JSON object");
        return schema(root, "$");
    }

    private static JsonType schema(JsonNode node, String path) {
        if (!node.isObject()) throw new IllegalArgumentException("schema at " + path + " must be an object");
        JsonNode en = node.get("enum");
        if (en != null) {
            if (!en.isArray() || en.isEmpty()) throw new IllegalArgumentException("enum at " + path + " must be a non-empty array");
            List<String> values = new ArrayList<>();
            for (JsonNode v : en) {
                if (v.isNull()) continue;
                if (!v.isTextual()) throw new IllegalArgumentException("enum at " + path + ": only string values are supported, got " + v);
                values.add(v.asText());
            }
            return new JsonType.Enum(values);
        }
        String type = typeName(node.get("type"), path);
        return switch (type) {
            case "object" -> {
                List<JsonType.Field> fields = new ArrayList<>();
                JsonNode props = node.get("properties");
                if (props != null) {
                    if (!props.isObject()) throw new IllegalArgumentException("properties at " + path + " must be an object");
                    props.properties().forEach(e -> fields.add(new JsonType.Field(e.getKey(), schema(e.getValue(), path + "." + e.getKey()))));
                }
                yield new JsonType.Obj(fields);
            }
            case "array" -> {
                JsonNode items = node.get("items");
                if (items == null) throw new IllegalArgumentException("array at " + path + " needs \"items\"");
                yield new JsonType.Arr(schema(items, path + "[]"));
            }
            case "string" -> "date".equals(node.path("format").asText(null)) ? new JsonType.Date() : new JsonType.Str();
            case "integer" -> integral(8);
            case "number" -> float64();
            case "boolean" -> new JsonType.Bool();
            default -> throw new IllegalArgumentException("unsupported type \"" + type + "\" at " + path
                    + " (supported: object, array, string, integer, number, boolean)");
        };
    }

    private static String typeName(JsonNode type, String path) {
        if (type == null) throw new IllegalArgumentException("schema at " + path + " has no \"type\"");
        if (type.isTextual()) return type.asText();
        if (type.isArray()) {
            List<String> names = new ArrayList<>();
            for (JsonNode t : type) if (!"null".equals(t.asText())) names.add(t.asText());
            if (names.size() == 1) return names.getFirst();
        }
        throw new IllegalArgumentException("type at " + path + " must be one type name (optionally with \"null\"), got " + type);
    }
}
