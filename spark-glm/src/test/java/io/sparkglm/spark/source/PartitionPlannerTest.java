package io.sparkglm.spark.source;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The partition plan by estimated tokens, without Spark. */
class PartitionPlannerTest {

    private static RowGroupWork group(int i, long rows, long bytes) {
        return new RowGroupWork("f" + (i / 10), i % 10, rows, bytes);
    }

    @Test
    void estimateIsPromptTokensFromBytesPlusGeneratedTokensPerRow() {
        PartitionPlanner p = new PartitionPlanner(1000, 4.0, 50, 1);
        assertEquals(25 + 3 * 50, p.estimate(group(0, 3, 100)));
        assertEquals(26 + 3 * 50, p.estimate(group(0, 3, 101)), "a started token counts");
        assertEquals(0, new PartitionPlanner(1000, 4.0, 0, 1).estimate(group(0, 7, 0)));
    }

    @Test
    void aHugeDocumentGetsAPartitionOfItsOwnAndShortOnesShare() {
        // 1M-token contract (3 MB at 3 bytes/token) between runs of short notes
        List<RowGroupWork> groups = new ArrayList<>();
        for (int i = 0; i < 5; i++) groups.add(group(i, 1000, 300_000));
        groups.add(group(5, 1, 3_000_000));
        for (int i = 6; i < 11; i++) groups.add(group(i, 1000, 300_000));
        PartitionPlanner p = new PartitionPlanner(250_000, 3.0, 16, 1);
        List<List<RowGroupWork>> plan = p.plan(groups);
        List<RowGroupWork> huge = plan.stream().filter(part -> part.contains(groups.get(5))).findFirst().orElseThrow();
        assertEquals(List.of(groups.get(5)), huge, "the huge document shares its task with nothing");
        for (List<RowGroupWork> part : plan) {
            long work = part.stream().mapToLong(p::estimate).sum();
            assertTrue(part.size() == 1 || work <= 250_000, "over budget: " + work);
        }
        // short groups (116k tokens each) pair up: 5 before -> 3 partitions, 5 after -> 3
        assertEquals(7, plan.size());
    }

    @Test
    void everyRowGroupExactlyOnceInInputOrderAndWithinBudget() {
        Random random = new Random(42);
        for (int trial = 0; trial < 200; trial++) {
            List<RowGroupWork> groups = new ArrayList<>();
            int n = random.nextInt(60);
            for (int i = 0; i < n; i++) {
                long rows = random.nextInt(5) == 0 ? 0 : 1 + random.nextInt(2000);
                long bytes = random.nextInt(10) == 0 ? 1L + random.nextInt(50_000_000) : (long) random.nextInt(2_000_000);
                groups.add(new RowGroupWork("file" + i / 7, i % 7, rows, rows == 0 ? 0 : bytes));
            }
            long budget = 1 + random.nextInt(2_000_000);
            int minPartitions = 1 + random.nextInt(8);
            PartitionPlanner p = new PartitionPlanner(budget, 1 + random.nextDouble() * 4, random.nextInt(300), minPartitions);
            List<List<RowGroupWork>> plan = p.plan(groups);
            List<RowGroupWork> flat = plan.stream().flatMap(List::stream).toList();
            assertEquals(groups.stream().filter(g -> g.rows() > 0).toList(), flat, "order kept, empty groups dropped");
            long effective = p.effectiveBudget(groups);
            assertTrue(effective <= budget);
            for (int i = 0; i < plan.size(); i++) {
                List<RowGroupWork> part = plan.get(i);
                assertFalse(part.isEmpty());
                long work = part.stream().mapToLong(p::estimate).sum();
                assertTrue(part.size() == 1 || work <= effective, "partition over budget with several groups");
                if (i + 1 < plan.size()) {
                    // closed only because the next group did not fit: greedy, no needless split
                    assertTrue(work + p.estimate(plan.get(i + 1).getFirst()) > effective, "needless split at " + i);
                }
            }
        }
    }

    @Test
    void aSmallInputIsStillSpreadOverMinPartitions() {
        List<RowGroupWork> groups = new ArrayList<>();
        for (int i = 0; i < 8; i++) groups.add(group(i, 10, 3000));
        PartitionPlanner p = new PartitionPlanner(1_000_000, 3.0, 0, 4);
        assertEquals(2000, p.effectiveBudget(groups));
        assertEquals(4, p.plan(groups).size());
        assertEquals(1, new PartitionPlanner(1_000_000, 3.0, 0, 1).plan(groups).size());
    }

    @Test
    void badSettingsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new PartitionPlanner(0, 3, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new PartitionPlanner(10, 0, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new PartitionPlanner(10, Double.NaN, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new PartitionPlanner(10, 3, -1, 1));
        assertThrows(IllegalArgumentException.class, () -> new PartitionPlanner(10, 3, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new RowGroupWork("f", 0, -1, 0));
    }
}
