package io.sparkglm.constrain;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.constrain.JsonAutomaton.Frame;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The byte automaton against an independent reference (Jackson + a schema check) and its closing costs. */
class JsonAutomatonTest {

    static final int MAX_STRING = 24, MAX_ITEMS = 3;

    static boolean accepts(JsonAutomaton a, byte[] bytes) {
        Frame f = JsonAutomaton.feed(a.start(), bytes);
        return f != null && JsonAutomaton.complete(f) && (f == JsonAutomaton.END || JsonAutomaton.feed(f, new byte[0]) != null);
    }

    static String show(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    @Test
    void validInstancesAreAcceptedWithCostsThatBoundTheRest() {
        Random r = new Random(7);
        int checked = 0;
        for (int s = 0; s < 300; s++) {
            JsonType type = s % 4 == 0 ? JsonTestSupport.randomType(r, 3) : JsonTestSupport.randomObject(r, 3);
            JsonAutomaton a = new JsonAutomaton(type, MAX_STRING, MAX_ITEMS);
            for (int k = 0; k < 10; k++) {
                byte[] doc = JsonTestSupport.randomInstance(r, type, MAX_STRING, MAX_ITEMS);
                assertTrue(JsonTestSupport.validReference(doc, type, MAX_STRING, MAX_ITEMS), () -> "reference rejects " + show(doc) + " for " + type);
                Frame f = a.start();
                for (int i = 0; i < doc.length; i++) {
                    assertTrue(f.cost <= doc.length - i, "cost above the bytes actually left");
                    f = f.step(doc[i] & 0xFF);
                    int at = i;
                    assertNotNull(f, () -> "dead at byte " + at + " of " + show(doc) + " for " + type);
                }
                assertTrue(JsonAutomaton.complete(f), () -> "not complete after " + show(doc));
                checked++;
            }
        }
        assertEquals(3000, checked);
    }

    /** Differential: a byte string is accepted exactly when the reference says it is JSON of the schema. */
    @Test
    void acceptsExactlyWhatTheReferenceAccepts() {
        Random r = new Random(11);
        int accepted = 0, rejected = 0;
        for (int s = 0; s < 200; s++) {
            JsonType type = s % 3 == 0 ? JsonTestSupport.randomType(r, 3) : JsonTestSupport.randomObject(r, 3);
            JsonAutomaton a = new JsonAutomaton(type, MAX_STRING, MAX_ITEMS);
            for (int k = 0; k < 40; k++) {
                byte[] doc = k == 0 ? randomBytes(r) : JsonTestSupport.mutate(r, JsonTestSupport.randomInstance(r, type, MAX_STRING, MAX_ITEMS));
                boolean expected = JsonTestSupport.validReference(doc, type, MAX_STRING, MAX_ITEMS);
                Frame f = JsonAutomaton.feed(a.start(), doc);
                boolean actual = f != null && JsonAutomaton.complete(f);
                assertEquals(expected, actual, () -> "for " + type + " on " + show(doc));
                if (actual) accepted++; else rejected++;
            }
        }
        assertTrue(accepted > 500 && rejected > 2000, "accepted " + accepted + ", rejected " + rejected);
    }

    private static byte[] randomBytes(Random r) {
        byte[] b = new byte[r.nextInt(12)];
        r.nextBytes(b);
        return b;
    }

    /**
     * From any reachable state no byte lowers the cost by more than one, and some byte lowers it by exactly
     * one until the value is complete: the property the token budget rests on. The shortest finish parses.
     */
    @Test
    void everyStateHasAShortestFinishAndCostsAreExact() {
        Random r = new Random(5);
        int states = 0;
        for (int s = 0; s < 150; s++) {
            JsonType type = JsonTestSupport.randomObject(r, 3);
            JsonAutomaton a = new JsonAutomaton(type, MAX_STRING, MAX_ITEMS);
            byte[] doc = JsonTestSupport.randomInstance(r, type, MAX_STRING, MAX_ITEMS);
            for (int cut = 0; cut <= doc.length; cut += 1 + r.nextInt(3)) {
                List<Byte> text = new ArrayList<>();
                for (int i = 0; i < cut; i++) text.add(doc[i]);
                Frame f = JsonAutomaton.feed(a.start(), java.util.Arrays.copyOf(doc, cut));
                while (!JsonAutomaton.complete(f)) {
                    Frame down = null;
                    int downByte = -1;
                    for (int b = 0; b < 256; b++) {
                        Frame g = f.step(b);
                        if (g == null) continue;
                        assertTrue(g.cost >= f.cost - 1, "a byte lowered the cost by more than one");
                        if (g.cost == f.cost - 1 && down == null) { down = g; downByte = b; }
                    }
                    assertNotNull(down, "no byte lowers the cost of a live state");
                    text.add((byte) downByte);
                    f = down;
                    states++;
                }
                assertEquals(0, f.cost);
                byte[] finished = new byte[text.size()];
                for (int i = 0; i < finished.length; i++) finished[i] = text.get(i);
                assertTrue(JsonTestSupport.validReference(finished, type, MAX_STRING, MAX_ITEMS), () -> show(finished));
            }
        }
        assertTrue(states > 5000, "states " + states);
    }

    @Test
    void datesAreRealCalendarDays() {
        JsonAutomaton a = new JsonAutomaton(new JsonType.Date(), 32, 4);
        assertTrue(accepts(a, "\"2024-02-29\"".getBytes()));
        assertFalse(accepts(a, "\"2023-02-29\"".getBytes()));
        assertFalse(accepts(a, "\"1900-02-29\"".getBytes()));
        assertTrue(accepts(a, "\"2000-02-29\"".getBytes()));
        assertFalse(accepts(a, "\"2024-04-31\"".getBytes()));
        assertFalse(accepts(a, "\"2024-13-01\"".getBytes()));
        assertFalse(accepts(a, "\"2024-00-10\"".getBytes()));
        assertFalse(accepts(a, "null".getBytes()), "the top-level value is not nullable");
    }

    @Test
    void stringsBoundAndEscapes() {
        JsonAutomaton a = new JsonAutomaton(new JsonType.Str(), 8, 4);
        assertTrue(accepts(new JsonAutomaton(new JsonType.Str(), 9, 4), "\"\\u00e9\\\"x\"".getBytes()));
        assertFalse(accepts(a, "\"\\u00e9\\\"x\"".getBytes()), "9 bytes > 8");
        assertFalse(accepts(a, "\"\\ud800\"".getBytes()), "lone surrogate escape");
        assertFalse(accepts(a, "\"123456789\"".getBytes()), "9 bytes > 8");
        assertTrue(accepts(a, "\"12345678\"".getBytes()));
        assertFalse(accepts(a, new byte[] {'"', (byte) 0xC0, (byte) 0x80, '"'}), "overlong");
        assertFalse(accepts(a, new byte[] {'"', (byte) 0xED, (byte) 0xA0, (byte) 0x80, '"'}), "encoded surrogate");
        assertFalse(accepts(a, "\"a\nb\"".getBytes()), "raw control character");
    }
}
