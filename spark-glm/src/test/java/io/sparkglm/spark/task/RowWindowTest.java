package io.sparkglm.spark.task;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The batching window: input order out, never more than its capacity held, the most held remembered. */
class RowWindowTest {

    @Test
    void rowsLeaveInInputOrderAndNeverMoreThanTheCapacityIsHeld() {
        SplittableRandom r = new SplittableRandom(3);
        for (int capacity : new int[] {1, 2, 7, 16}) {
            RowWindow<Integer> window = new RowWindow<>(capacity);
            List<Integer> out = new ArrayList<>();
            int next = 0, held = 0;
            while (next < 100 || !window.isEmpty()) {
                // a reader that tops the window up, then takes one or a few rows out
                while (window.hasRoom() && next < 100) { window.add(next++); held++; }
                assertTrue(held <= capacity);
                for (int k = 1 + r.nextInt(3); k > 0 && !window.isEmpty(); k--) { out.add(window.next()); held--; }
            }
            List<Integer> expected = new ArrayList<>();
            for (int i = 0; i < 100; i++) expected.add(i);
            assertEquals(expected, out, "capacity " + capacity);
            assertEquals(capacity, window.mostHeld());
            assertNull(window.next());
        }
        assertThrows(IllegalArgumentException.class, () -> new RowWindow<>(0));
    }
}
