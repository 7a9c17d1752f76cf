package io.sparkglm.constrain;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.regex.Pattern;

/**
 * Random schemas, random valid instances of them, and an independent reference check ("is this byte string
 * compact JSON of this schema?") built on Jackson's parser: what the automaton is tested against.
 */
public final class JsonTestSupport {

    private JsonTestSupport() {}

    // ------------------------------------------------------------------------------------------ schemas

    public static JsonType randomType(Random r, int depth) {
        int pick = r.nextInt(depth <= 0 ? 8 : 11);
        return switch (pick) {
            case 0, 1 -> new JsonType.Str();
            case 2 -> new JsonType.Int(1 + r.nextInt(18));
            case 3 -> r.nextBoolean() ? JsonTypes.float64() : randomDecimal(r);
            case 4 -> new JsonType.Bool();
            case 5 -> new JsonType.Date();
            case 6 -> randomEnum(r);
            case 7 -> JsonTypes.float32();
            case 8 -> new JsonType.Arr(randomType(r, depth - 1));
            default -> randomObject(r, depth - 1);
        };
    }

    private static JsonType randomDecimal(Random r) {
        int p = 1 + r.nextInt(20);
        return JsonTypes.decimal(p, r.nextInt(p + 1));
    }

    public static JsonType.Obj randomObject(Random r, int depth) {
        int n = r.nextInt(5);
        List<JsonType.Field> fields = new ArrayList<>();
        for (int i = 0; i < n; i++) fields.add(new JsonType.Field(randomName(r, i), randomType(r, depth)));
        return new JsonType.Obj(fields);
    }

    private static String randomName(Random r, int i) {
        String[] odd = {"a\"b", "back\\slash", "caf\u00e9", "\u4e2d", "new\nline", "sp ace", ""};
        return r.nextInt(4) == 0 ? odd[r.nextInt(odd.length)] + i : "f" + i;
    }

    private static JsonType randomEnum(Random r) {
        List<String> values = new ArrayList<>();
        int n = 1 + r.nextInt(5);
        for (int i = 0; i < n; i++) values.add(randomString(r, 6) + "#" + i);
        return new JsonType.Enum(values);
    }

    // ------------------------------------------------------------------------------------------ instances

    /** A random compact JSON instance of the type (nullable where the automaton allows null). */
    public static byte[] randomInstance(Random r, JsonType type, int maxString, int maxItems) {
        StringBuilder sb = new StringBuilder();
        write(r, type, false, sb, maxString, maxItems);
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static void write(Random r, JsonType type, boolean nullable, StringBuilder sb, int maxString, int maxItems) {
        if (nullable && r.nextInt(5) == 0) {
            sb.append("null");
            return;
        }
        switch (type) {
            case JsonType.Obj o -> {
                sb.append('{');
                for (int i = 0; i < o.fields().size(); i++) {
                    if (i > 0) sb.append(',');
                    sb.append(JsonAutomaton.quote(o.fields().get(i).name())).append(':');
                    write(r, o.fields().get(i).type(), true, sb, maxString, maxItems);
                }
                sb.append('}');
            }
            case JsonType.Arr a -> {
                sb.append('[');
                int n = Math.min(maxItems, r.nextInt(4));
                for (int i = 0; i < n; i++) {
                    if (i > 0) sb.append(',');
                    write(r, a.element(), false, sb, maxString, maxItems);
                }
                sb.append(']');
            }
            case JsonType.Str s -> sb.append('"').append(randomEncodedContent(r, maxString)).append('"');
            case JsonType.Int i -> sb.append(randomNumber(r, i.maxDigits(), 0, 0));
            case JsonType.Num x -> sb.append(randomNumber(r, x.intDigits(), x.fracDigits(), x.expDigits()));
            case JsonType.Bool b -> sb.append(r.nextBoolean());
            case JsonType.Date d -> {
                LocalDate day = LocalDate.of(1000 + r.nextInt(9000), 1, 1).plusDays(r.nextInt(366));
                if (r.nextInt(10) == 0) {                 // leap days
                    int year = 4 * (250 + r.nextInt(2249));
                    if (year % 100 == 0 && year % 400 != 0) year += 4;
                    day = LocalDate.of(year, 2, 29);
                }
                sb.append('"').append(day).append('"');
            }
            case JsonType.Enum e -> sb.append(JsonAutomaton.quote(e.values().get(r.nextInt(e.values().size()))));
        }
    }

    static String randomNumber(Random r, int intDigits, int frac, int exp) {
        StringBuilder sb = new StringBuilder();
        if (r.nextBoolean()) sb.append('-');
        int n = intDigits == 0 ? 0 : r.nextInt(intDigits + 1);
        if (n == 0) sb.append('0');
        else {
            sb.append((char) ('1' + r.nextInt(9)));
            for (int i = 1; i < n; i++) sb.append((char) ('0' + r.nextInt(10)));
        }
        if (frac > 0 && r.nextBoolean()) {
            sb.append('.');
            int f = 1 + r.nextInt(frac);
            for (int i = 0; i < f; i++) sb.append((char) ('0' + r.nextInt(10)));
        }
        if (exp > 0 && r.nextInt(3) == 0) {
            sb.append(r.nextBoolean() ? 'e' : 'E');
            int k = r.nextInt(3);
            if (k == 1) sb.append('+');
            if (k == 2) sb.append('-');
            int e = 1 + r.nextInt(exp);
            for (int i = 0; i < e; i++) sb.append((char) ('0' + r.nextInt(10)));
        }
        return sb.toString();
    }

    /** Random string text: ASCII, quotes, backslashes, control characters, accents, CJK, emoji. */
    public static String randomString(Random r, int maxChars) {
        int n = r.nextInt(maxChars + 1);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            switch (r.nextInt(8)) {
                case 0 -> sb.append('"');
                case 1 -> sb.append('\\');
                case 2 -> sb.append((char) r.nextInt(0x20));
                case 3 -> sb.append((char) (0xA0 + r.nextInt(0x200)));
                case 4 -> sb.append((char) (0x4E00 + r.nextInt(0x5000)));
                case 5 -> sb.appendCodePoint(0x1F600 + r.nextInt(0x40));
                default -> sb.append((char) (' ' + r.nextInt(95)));
            }
        }
        return sb.toString();
    }

    /** JSON string content (without quotes) of at most maxBytes bytes, with every kind of escape. */
    private static String randomEncodedContent(Random r, int maxBytes) {
        StringBuilder sb = new StringBuilder();
        int bytes = 0;
        int target = r.nextInt(Math.min(maxBytes, 40) + 1);
        while (true) {
            String piece = switch (r.nextInt(7)) {
                case 0 -> String.format(r.nextBoolean() ? "\\u%04x" : "\\u%04X", nonSurrogate(r));
                case 1 -> "\\" + "\"\\/bfnrt".charAt(r.nextInt(8));
                default -> {
                    String s = randomString(r, 1);
                    yield s.isEmpty() ? "x" : JsonAutomaton.quote(s).substring(1, JsonAutomaton.quote(s).length() - 1);
                }
            };
            int len = piece.getBytes(StandardCharsets.UTF_8).length;
            if (bytes + len > target) return sb.toString();
            sb.append(piece);
            bytes += len;
        }
    }

    private static int nonSurrogate(Random r) {
        int c;
        do c = r.nextInt(0x10000); while (c >= 0xD800 && c <= 0xDFFF);
        return c;
    }

    /** Random edits of a valid text: flips, structural bytes, deletions, insertions, cuts. */
    public static byte[] mutate(Random r, byte[] valid) {
        byte[] out = valid.clone();
        byte[] interesting = " \t\n{}[],:\"\\-+.eE0129nultrfase/u".getBytes(StandardCharsets.UTF_8);
        int edits = 1 + r.nextInt(2);
        for (int k = 0; k < edits; k++) {
            int at = out.length == 0 ? 0 : r.nextInt(out.length);
            byte b = r.nextInt(4) == 0 ? (byte) r.nextInt(256) : interesting[r.nextInt(interesting.length)];
            out = switch (r.nextInt(5)) {
                case 0 -> { if (out.length > 0) out[at] = b; yield out; }
                case 1 -> out.length == 0 ? out : concat(Arrays.copyOf(out, at), Arrays.copyOfRange(out, at + 1, out.length));
                case 2 -> concat(concat(Arrays.copyOf(out, at), new byte[] {b}), Arrays.copyOfRange(out, at, out.length));
                case 3 -> Arrays.copyOf(out, at);
                default -> { if (out.length > 0) out[at] = (byte) (out[at] ^ (1 << r.nextInt(8))); yield out; }
            };
        }
        return out;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.writeBytes(a);
        o.writeBytes(b);
        return o.toByteArray();
    }

    // ------------------------------------------------------------------------------------------ reference

    private static final JsonFactory FACTORY = new JsonFactory();

    /** Whether bytes are exactly a compact JSON text of the type under the automaton's documented rules. */
    public static boolean validReference(byte[] bytes, JsonType type, int maxString, int maxItems) {
        try {
            StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes));
        } catch (CharacterCodingException e) {
            return false;
        }
        List<byte[]> raw = rawStrings(bytes);
        if (raw == null) return false;
        try (JsonParser p = FACTORY.createParser(bytes)) {
            int[] next = {0};
            if (!value(p, p.nextToken(), type, false, raw, next, maxString, maxItems)) return false;
            return p.nextToken() == null;
        } catch (Exception e) {
            return false;
        }
    }

    /** The raw content bytes of every string, in order; null when whitespace appears outside strings. */
    private static List<byte[]> rawStrings(byte[] b) {
        List<byte[]> out = new ArrayList<>();
        int i = 0;
        while (i < b.length) {
            int c = b[i] & 0xFF;
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') return null;
            if (c != '"') { i++; continue; }
            int from = ++i;
            while (i < b.length && b[i] != '"') i += b[i] == '\\' ? 2 : 1;
            if (i >= b.length) return out;   // unterminated: the parser will reject it
            out.add(Arrays.copyOfRange(b, from, i));
            i++;
        }
        return out;
    }

    private static boolean value(JsonParser p, JsonToken t, JsonType type, boolean nullable, List<byte[]> raw, int[] next,
                                 int maxString, int maxItems) throws Exception {
        if (t == null) return false;
        if (t == JsonToken.VALUE_NULL) return nullable;
        switch (type) {
            case JsonType.Obj o -> {
                if (t != JsonToken.START_OBJECT) return false;
                for (JsonType.Field f : o.fields()) {
                    if (p.nextToken() != JsonToken.FIELD_NAME) return false;
                    byte[] name = raw.get(next[0]++);
                    byte[] canonical = JsonAutomaton.quote(f.name()).getBytes(StandardCharsets.UTF_8);
                    if (!Arrays.equals(name, Arrays.copyOfRange(canonical, 1, canonical.length - 1))) return false;
                    if (!value(p, p.nextToken(), f.type(), true, raw, next, maxString, maxItems)) return false;
                }
                return p.nextToken() == JsonToken.END_OBJECT;
            }
            case JsonType.Arr a -> {
                if (t != JsonToken.START_ARRAY) return false;
                int count = 0;
                for (JsonToken e = p.nextToken(); e != JsonToken.END_ARRAY; e = p.nextToken()) {
                    if (++count > maxItems || !value(p, e, a.element(), false, raw, next, maxString, maxItems)) return false;
                }
                return true;
            }
            case JsonType.Str s -> {
                if (t != JsonToken.VALUE_STRING) return false;
                byte[] content = raw.get(next[0]++);
                return content.length <= maxString && !hasSurrogateEscape(content);
            }
            case JsonType.Int i -> {
                return t == JsonToken.VALUE_NUMBER_INT && numberPattern(i.maxDigits(), 0, 0).matcher(p.getText()).matches();
            }
            case JsonType.Num x -> {
                return (t == JsonToken.VALUE_NUMBER_INT || t == JsonToken.VALUE_NUMBER_FLOAT)
                        && numberPattern(x.intDigits(), x.fracDigits(), x.expDigits()).matcher(p.getText()).matches();
            }
            case JsonType.Bool b -> {
                return t == JsonToken.VALUE_TRUE || t == JsonToken.VALUE_FALSE;
            }
            case JsonType.Date d -> {
                if (t != JsonToken.VALUE_STRING) return false;
                byte[] content = raw.get(next[0]++);
                String text = p.getText();
                if (content.length != 10 || !text.matches("[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}")) return false;
                try {
                    LocalDate.parse(text);
                    return true;
                } catch (RuntimeException e) {
                    return false;
                }
            }
            case JsonType.Enum e -> {
                if (t != JsonToken.VALUE_STRING) return false;
                byte[] content = raw.get(next[0]++);
                for (String v : e.values()) {
                    byte[] canonical = JsonAutomaton.quote(v).getBytes(StandardCharsets.UTF_8);
                    if (Arrays.equals(content, Arrays.copyOfRange(canonical, 1, canonical.length - 1))) return true;
                }
                return false;
            }
        }
    }

    private static boolean hasSurrogateEscape(byte[] content) {
        for (int i = 0; i + 3 < content.length; i++) {
            if (content[i] == '\\') {
                if (content[i + 1] == 'u' && (content[i + 2] == 'd' || content[i + 2] == 'D')
                        && "89abcdefABCDEF".indexOf(content[i + 3]) >= 0) return true;
                i++;
            }
        }
        return false;
    }

    static Pattern numberPattern(int intDigits, int frac, int exp) {
        String integer = intDigits == 0 ? "0" : "(0|[1-9][0-9]{0," + (intDigits - 1) + "})";
        String fraction = frac == 0 ? "" : "(\\.[0-9]{1," + frac + "})?";
        String exponent = exp == 0 ? "" : "([eE][+-]?[0-9]{1," + exp + "})?";
        return Pattern.compile("-?" + integer + fraction + exponent);
    }
}
