package io.sparkglm.constrain;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A byte-level pushdown automaton that accepts exactly the compact JSON texts of one {@link JsonType}: no
 * whitespace outside strings, object fields all present and in schema order, values nullable, strings valid
 * UTF-8 with JSON escapes (including backslash-u, without lone surrogates), bounded lengths.
 *
 * <p>A state is an immutable chain of {@link Frame}s: the innermost construct first, each frame's
 * {@code parent} being what to resume when it is done. Immutability lets the token trie walk branch from
 * one state without copying. Every frame knows {@link Frame#cost}: the fewest bytes that finish the whole
 * value from here. Along a shortest finish each byte lowers the cost by exactly one, which is what lets the
 * constraint guarantee a closed value within a token budget (see {@link JsonGrammar}).
 */
final class JsonAutomaton {

    static final byte[] NULL = bytes("null"), TRUE = bytes("true"), FALSE = bytes("false");

    private final Node root;
    private final List<Node> nodes = new ArrayList<>();

    JsonAutomaton(JsonType type, int maxStringBytes, int maxArrayItems) {
        if (maxStringBytes < 6) throw new IllegalArgumentException("maxStringBytes must be >= 6: " + maxStringBytes);
        if (maxArrayItems < 0) throw new IllegalArgumentException("maxArrayItems must be >= 0: " + maxArrayItems);
        this.root = compile(type, maxStringBytes, maxArrayItems);
    }

    /** The state before the first byte: a non-null value of the schema's type. */
    Frame start() {
        return new ValueStart(root, false, END);
    }

    /** Whether the text so far is a whole value (generation may stop: nothing can follow at the top level). */
    static boolean complete(Frame f) {
        return f == END || (f.canEnd() && f.parent == END);
    }

    /** Feeds bytes; null when the automaton dies. */
    static Frame feed(Frame f, byte[] bytes) {
        for (byte b : bytes) {
            if (f == null) return null;
            f = f.step(b & 0xFF);
        }
        return f;
    }

    // ------------------------------------------------------------------------------------------ schema nodes

    private Node compile(JsonType type, int maxString, int maxItems) {
        Node n = switch (type) {
            case JsonType.Obj o -> {
                int count = o.fields().size();
                byte[][] texts = new byte[count + 1][];
                Node[] fields = new Node[count];
                for (int i = 0; i < count; i++) {
                    texts[i] = bytes((i == 0 ? "{" : ",") + quote(o.fields().get(i).name()) + ":");
                    fields[i] = compile(o.fields().get(i).type(), maxString, maxItems);
                }
                texts[count] = bytes(count == 0 ? "{}" : "}");
                int[] suffix = new int[count + 1];
                suffix[count] = texts[count].length;
                for (int i = count - 1; i >= 0; i--) suffix[i] = texts[i].length + Math.min(NULL.length, fields[i].minLength) + suffix[i + 1];
                yield new ObjNode(texts, fields, suffix);
            }
            case JsonType.Arr a -> new ArrNode(compile(a.element(), maxString, maxItems), maxItems);
            case JsonType.Str s -> new StrNode(maxString);
            case JsonType.Int i -> new NumNode(i.maxDigits(), 0, 0);
            case JsonType.Num x -> new NumNode(x.intDigits(), x.fracDigits(), x.expDigits());
            case JsonType.Bool b -> new BoolNode();
            case JsonType.Date d -> new DateNode();
            case JsonType.Enum e -> new EnumNode(e.values().stream().map(v -> bytes(quote(v))).toArray(byte[][]::new));
        };
        n.id = nodes.size();
        nodes.add(n);
        return n;
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** A JSON string literal for s (what a parser reads back as s). */
    static String quote(String s) {
        StringBuilder sb = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20 || Character.isSurrogate(c) && !validPair(s, i)) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        return sb.append('"').toString();
    }

    private static boolean validPair(String s, int i) {
        char c = s.charAt(i);
        if (Character.isHighSurrogate(c)) return i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
        return i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
    }

    abstract static sealed class Node permits ObjNode, ArrNode, StrNode, NumNode, BoolNode, DateNode, EnumNode {
        int id;
        /** Bytes of the shortest non-null value. */
        final int minLength;

        Node(int minLength) { this.minLength = minLength; }
    }

    /** texts[i] precedes field i ("{\"a\":", ",\"b\":"); texts[n] closes ("}", or "{}" with no fields). */
    static final class ObjNode extends Node {
        final byte[][] texts;
        final Node[] fields;
        final int[] suffixMin;     // fewest bytes from the start of texts[i] to the end of the object
        ObjNode(byte[][] texts, Node[] fields, int[] suffixMin) { super(suffixMin[0]); this.texts = texts; this.fields = fields; this.suffixMin = suffixMin; }
    }

    static final class ArrNode extends Node {
        final Node element; final int maxItems;
        ArrNode(Node element, int maxItems) { super(2); this.element = element; this.maxItems = maxItems; }
    }

    static final class StrNode extends Node {
        final int maxBytes;
        StrNode(int maxBytes) { super(2); this.maxBytes = maxBytes; }
    }

    static final class NumNode extends Node {
        final int intDigits, fracDigits, expDigits;
        NumNode(int intDigits, int fracDigits, int expDigits) { super(1); this.intDigits = intDigits; this.fracDigits = fracDigits; this.expDigits = expDigits; }
    }

    static final class BoolNode extends Node {
        BoolNode() { super(4); }
    }

    static final class DateNode extends Node {
        DateNode() { super(12); }
    }

    static final class EnumNode extends Node {
        final byte[][] encoded;
        EnumNode(byte[][] encoded) { super(minLength(encoded)); this.encoded = encoded; }
        private static int minLength(byte[][] e) {
            int m = Integer.MAX_VALUE;
            for (byte[] b : e) m = Math.min(m, b.length);
            return m;
        }
    }

    // ------------------------------------------------------------------------------------------ frames

    /** One level of the automaton's stack; immutable. */
    abstract static sealed class Frame permits End, ValueStart, Lit, ObjFrame, ArrFrame, StrFrame, NumFrame, DateFrame, EnumFrame {
        final Frame parent;
        /** Fewest bytes that finish the whole top-level value from this state. */
        final int cost;

        Frame(Frame parent, int ownCost) {
            this.parent = parent;
            this.cost = ownCost + (parent == null ? 0 : parent.cost);
        }

        /** The state after byte b (0..255), or null when b is not allowed here. */
        abstract Frame step(int b);

        /** Whether this construct may end here (a number: the next byte decides). */
        boolean canEnd() { return false; }

        /**
         * A description of this state that determines its behaviour over any byte string shorter than
         * {@code clamp}: counters above clamp are written as clamp. Equal keys give equal token masks.
         */
        final String key(int clamp) {
            StringBuilder sb = new StringBuilder(64);
            for (Frame f = this; f != null; f = f.parent) {
                f.describe(sb, clamp);
                sb.append('|');
            }
            return sb.toString();
        }

        abstract void describe(StringBuilder sb, int clamp);
    }

    static final Frame END = new End();

    static final class End extends Frame {
        End() { super(null, 0); }
        @Override Frame step(int b) { return null; }
        @Override void describe(StringBuilder sb, int clamp) { sb.append('E'); }
    }

    /** Before a value: "null" (when nullable) or the first byte of the type. */
    static final class ValueStart extends Frame {
        final Node node; final boolean nullable;

        ValueStart(Node node, boolean nullable, Frame parent) {
            super(parent, nullable ? Math.min(NULL.length, node.minLength) : node.minLength);
            this.node = node;
            this.nullable = nullable;
        }

        @Override
        Frame step(int b) {
            if (nullable && b == 'n') return new Lit(NULL, 1, parent);
            return switch (node) {
                case ObjNode o -> b == o.texts[0][0] ? ObjFrame.at(o, 0, 1, parent) : null;
                case ArrNode a -> b == '[' ? new ArrFrame(a, 0, false, parent) : null;
                case StrNode s -> b == '"' ? new StrFrame(s, s.maxBytes, 0, 0, 0, 0, parent) : null;
                case NumNode n -> NumFrame.first(n, b, parent);
                case BoolNode x -> b == 't' ? new Lit(TRUE, 1, parent) : b == 'f' ? new Lit(FALSE, 1, parent) : null;
                case DateNode d -> b == '"' ? new DateFrame(0, 0, 0, 0, parent) : null;
                case EnumNode e -> new EnumFrame(e, e.encoded.length == 64 ? -1L : (1L << e.encoded.length) - 1, 0, parent).step(b);
            };
        }

        @Override void describe(StringBuilder sb, int clamp) { sb.append('V').append(node.id).append(nullable ? "n" : ""); }
    }

    /** Inside a fixed text: null, true, false. */
    static final class Lit extends Frame {
        final byte[] text; final int pos;

        Lit(byte[] text, int pos, Frame parent) {
            super(parent, text.length - pos);
            this.text = text;
            this.pos = pos;
        }

        @Override
        Frame step(int b) {
            if (b != (text[pos] & 0xFF)) return null;
            return pos + 1 == text.length ? parent : new Lit(text, pos + 1, parent);
        }

        @Override void describe(StringBuilder sb, int clamp) { sb.append('L').append((char) text[0]).append(pos); }
    }

    /** In an object, inside the fixed text before field {@code slot} (or the closing text). */
    static final class ObjFrame extends Frame {
        final ObjNode node; final int slot, pos;

        private ObjFrame(ObjNode node, int slot, int pos, Frame parent) {
            super(parent, node.suffixMin[slot] - pos);
            this.node = node;
            this.slot = slot;
            this.pos = pos;
        }

        /** The state at (slot, pos), moving into the field's value when its text is done. */
        static Frame at(ObjNode o, int slot, int pos, Frame parent) {
            if (pos < o.texts[slot].length) return new ObjFrame(o, slot, pos, parent);
            if (slot == o.fields.length) return parent;
            return new ValueStart(o.fields[slot], true, new ObjFrame(o, slot + 1, 0, parent));
        }

        @Override
        Frame step(int b) {
            return b == (node.texts[slot][pos] & 0xFF) ? at(node, slot, pos + 1, parent) : null;
        }

        @Override void describe(StringBuilder sb, int clamp) { sb.append('O').append(node.id).append(':').append(slot).append(':').append(pos); }
    }

    /** In an array after '[' (afterItem false) or after an element. */
    static final class ArrFrame extends Frame {
        final ArrNode node; final int count; final boolean afterItem;

        ArrFrame(ArrNode node, int count, boolean afterItem, Frame parent) {
            super(parent, 1);
            this.node = node;
            this.count = count;
            this.afterItem = afterItem;
        }

        @Override
        Frame step(int b) {
            if (b == ']') return parent;
            if (count >= node.maxItems) return null;
            Frame next = new ValueStart(node.element, false, new ArrFrame(node, count + 1, true, parent));
            if (afterItem) return b == ',' ? next : null;
            return next.step(b);
        }

        @Override
        void describe(StringBuilder sb, int clamp) {
            sb.append('A').append(node.id).append(':').append(Math.min(node.maxItems - count, clamp)).append(afterItem ? 'i' : 'o');
        }
    }

    /**
     * Inside a string. {@code remaining}: content bytes still allowed; {@code need}: UTF-8 continuation
     * bytes still due, the next one in [lo, hi]; {@code esc}: 0 none, 1 after a backslash, 2..5 hex digits
     * of a backslash-u escape still due (5 = four due), 6 = three due after a 'd' (no surrogates: 0-7 next).
     */
    static final class StrFrame extends Frame {
        final StrNode node; final int remaining, need, lo, hi, esc;

        StrFrame(StrNode node, int remaining, int need, int lo, int hi, int esc, Frame parent) {
            super(parent, 1 + need + (esc == 0 ? 0 : esc == 1 ? 1 : esc == 6 ? 3 : esc - 1));
            this.node = node;
            this.remaining = remaining;
            this.need = need;
            this.lo = lo;
            this.hi = hi;
            this.esc = esc;
        }

        private Frame next(int need, int lo, int hi, int esc) {
            return new StrFrame(node, remaining - 1, need, lo, hi, esc, parent);
        }

        @Override
        Frame step(int b) {
            if (need > 0) return b >= lo && b <= hi ? next(need - 1, 0x80, 0xBF, 0) : null;
            if (esc == 1) {
                return switch (b) {
                    case '"', '\\', '/', 'b', 'f', 'n', 'r', 't' -> next(0, 0, 0, 0);
                    case 'u' -> remaining >= 5 ? next(0, 0, 0, 5) : null;
                    default -> null;
                };
            }
            if (esc >= 2) {
                int h = hex(b);
                if (h < 0) return null;
                if (esc == 5) return next(0, 0, 0, h == 0xD ? 6 : 4);
                if (esc == 6) return h < 8 ? next(0, 0, 0, 3) : null;
                return next(0, 0, 0, esc == 2 ? 0 : esc - 1);
            }
            if (b == '"') return parent;
            if (b == '\\') return remaining >= 2 ? next(0, 0, 0, 1) : null;
            if (b < 0x20) return null;
            if (b < 0x80) return remaining >= 1 ? next(0, 0, 0, 0) : null;
            // UTF-8 lead bytes with the range of their first continuation byte (no overlongs, no surrogates).
            if (b >= 0xC2 && b <= 0xDF) return remaining >= 2 ? next(1, 0x80, 0xBF, 0) : null;
            if (b >= 0xE0 && b <= 0xEF) {
                if (remaining < 3) return null;
                return next(2, b == 0xE0 ? 0xA0 : 0x80, b == 0xED ? 0x9F : 0xBF, 0);
            }
            if (b >= 0xF0 && b <= 0xF4) {
                if (remaining < 4) return null;
                return next(3, b == 0xF0 ? 0x90 : 0x80, b == 0xF4 ? 0x8F : 0xBF, 0);
            }
            return null;
        }

        private static int hex(int b) {
            if (b >= '0' && b <= '9') return b - '0';
            if (b >= 'a' && b <= 'f') return b - 'a' + 10;
            if (b >= 'A' && b <= 'F') return b - 'A' + 10;
            return -1;
        }

        @Override
        void describe(StringBuilder sb, int clamp) {
            sb.append('S').append(node.id).append(':').append(Math.min(remaining, clamp)).append(':').append(need)
              .append(':').append(lo).append(':').append(hi).append(':').append(esc);
        }
    }

    /** In a number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? with bounded digit counts. */
    static final class NumFrame extends Frame {
        static final int SIGN = 0, ZERO = 1, INT = 2, DOT = 3, FRAC = 4, EXP = 5, EXP_SIGN = 6, EXP_DIGITS = 7;
        final NumNode node; final int phase, count;

        NumFrame(NumNode node, int phase, int count, Frame parent) {
            super(parent, endable(phase) ? 0 : 1);
            this.node = node;
            this.phase = phase;
            this.count = count;
        }

        private static boolean endable(int phase) {
            return phase == ZERO || phase == INT || phase == FRAC || phase == EXP_DIGITS;
        }

        static Frame first(NumNode n, int b, Frame parent) {
            return b == '-' ? new NumFrame(n, SIGN, 0, parent) : integerStart(n, b, parent);
        }

        private static Frame integerStart(NumNode n, int b, Frame parent) {
            if (b == '0') return new NumFrame(n, ZERO, 1, parent);
            if (b >= '1' && b <= '9' && n.intDigits >= 1) return new NumFrame(n, INT, 1, parent);
            return null;
        }

        @Override boolean canEnd() { return endable(phase); }

        @Override
        Frame step(int b) {
            boolean digit = b >= '0' && b <= '9';
            Frame f = switch (phase) {
                case SIGN -> integerStart(node, b, parent);
                case ZERO -> afterInteger(b);
                case INT -> digit && count < node.intDigits ? new NumFrame(node, INT, count + 1, parent) : afterInteger(b);
                case DOT -> digit ? new NumFrame(node, FRAC, 1, parent) : null;
                case FRAC -> digit && count < node.fracDigits ? new NumFrame(node, FRAC, count + 1, parent) : exponent(b);
                case EXP -> b == '+' || b == '-' ? new NumFrame(node, EXP_SIGN, 0, parent) : digit ? new NumFrame(node, EXP_DIGITS, 1, parent) : null;
                case EXP_SIGN -> digit ? new NumFrame(node, EXP_DIGITS, 1, parent) : null;
                case EXP_DIGITS -> digit && count < node.expDigits ? new NumFrame(node, EXP_DIGITS, count + 1, parent) : null;
                default -> throw new IllegalStateException("number phase " + phase);
            };
            if (f == null && canEnd()) return parent.step(b);   // the number ended; the byte belongs to what follows
            return f;
        }

        private Frame afterInteger(int b) {
            if (b == '.' && node.fracDigits > 0) return new NumFrame(node, DOT, 0, parent);
            return exponent(b);
        }

        private Frame exponent(int b) {
            return (b == 'e' || b == 'E') && node.expDigits > 0 ? new NumFrame(node, EXP, 0, parent) : null;
        }

        @Override void describe(StringBuilder sb, int clamp) { sb.append('N').append(node.id).append(':').append(phase).append(':').append(count); }
    }

    /** Inside "YYYY-MM-DD" after the opening quote; pos = characters read; always a real calendar day. */
    static final class DateFrame extends Frame {
        final int pos, year, month, tens;

        DateFrame(int pos, int year, int month, int tens, Frame parent) {
            super(parent, 10 - pos + 1);
            this.pos = pos;
            this.year = year;
            this.month = month;
            this.tens = tens;
        }

        @Override
        Frame step(int b) {
            if (pos == 10) return b == '"' ? parent : null;
            if (pos == 4 || pos == 7) return b == '-' ? new DateFrame(pos + 1, year, month, tens, parent) : null;
            if (b < '0' || b > '9') return null;
            int d = b - '0';
            return switch (pos) {
                case 0 -> d >= 1 ? new DateFrame(1, d, 0, 0, parent) : null;
                case 1, 2, 3 -> new DateFrame(pos + 1, year * 10 + d, 0, 0, parent);
                case 5 -> d <= 1 ? new DateFrame(6, year, d * 10, 0, parent) : null;
                case 6 -> {
                    int m = month + d;
                    yield m >= 1 && m <= 12 ? new DateFrame(7, year, m, 0, parent) : null;
                }
                case 8 -> Math.max(1, d * 10) <= daysIn(year, month) ? new DateFrame(9, year, month, d, parent) : null;
                case 9 -> {
                    int day = tens * 10 + d;
                    yield day >= 1 && day <= daysIn(year, month) ? new DateFrame(10, year, month, tens, parent) : null;
                }
                default -> null;
            };
        }

        static int daysIn(int year, int month) {
            return switch (month) {
                case 2 -> (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28;
                case 4, 6, 9, 11 -> 30;
                default -> 31;
            };
        }

        @Override
        void describe(StringBuilder sb, int clamp) {
            sb.append('D').append(pos).append(':').append(year).append(':').append(month).append(':').append(tens);
        }
    }

    /** Inside one of the enum's encoded strings; alive = candidates still matching. */
    static final class EnumFrame extends Frame {
        final EnumNode node; final long alive; final int pos;

        EnumFrame(EnumNode node, long alive, int pos, Frame parent) {
            super(parent, shortest(node, alive, pos));
            this.node = node;
            this.alive = alive;
            this.pos = pos;
        }

        private static int shortest(EnumNode node, long alive, int pos) {
            int m = Integer.MAX_VALUE;
            for (int i = 0; i < node.encoded.length; i++) if ((alive >>> i & 1) != 0) m = Math.min(m, node.encoded[i].length - pos);
            return m;
        }

        @Override
        Frame step(int b) {
            long next = 0;
            boolean ends = false;
            for (int i = 0; i < node.encoded.length; i++) {
                byte[] e = node.encoded[i];
                if ((alive >>> i & 1) != 0 && pos < e.length && (e[pos] & 0xFF) == b) {
                    next |= 1L << i;
                    ends |= pos + 1 == e.length;
                }
            }
            if (next == 0) return null;
            return ends ? parent : new EnumFrame(node, next, pos + 1, parent);   // quoted strings are prefix-free
        }

        @Override void describe(StringBuilder sb, int clamp) { sb.append('U').append(node.id).append(':').append(alive).append(':').append(pos); }
    }
}
