package io.sparkglm.spark.source;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.spark.executor.ExecutorEngines;
import io.sparkglm.spark.testing.ScriptedEngine;
import io.sparkglm.spark.testing.SharedSpark;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.hadoop.metadata.BlockMetaData;
import org.apache.parquet.hadoop.metadata.ColumnChunkMetaData;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A corrupt part file among good ones (issue 13): random bytes over a data page, a file cut inside a page, a chopped
 * footer. Read through format("glm") and through the glm_* functions over Spark's own Parquet reader, each query
 * must fail within seconds (not hang, not return the good files' rows as if that were all) and name the file.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class CorruptParquetTest {

    private static final int FILES = 4;
    private static final int ROWS_PER_FILE = 60;
    private static SparkSession spark;
    @TempDir static Path dir;
    private static Path good;
    private final AtomicReference<ScriptedEngine> engine = new AtomicReference<>();

    @BeforeAll
    static void data() {
        spark = SharedSpark.session();
        good = dir.resolve("good");
        // several part files, each with several row groups (tiny row groups), as Spark writes them
        // hex digests: text that does not compress, so that a changed byte in a page changes a value (no decode error)
        spark.sql("SELECT id, concat('Document ', id, ': ', sha2(CAST(id AS STRING), 512), ' ', repeat('word ', CAST(id % 13 AS INT))) "
                        + "AS text FROM range(0, " + FILES * ROWS_PER_FILE + ", 1, " + FILES + ")")
                .write().option("parquet.block.size", "2048").option("parquet.page.size.row.check.min", "1")
                .option("parquet.page.size.row.check.max", "2").parquet(good.toString());
    }

    @BeforeEach
    void scriptTheEngine() {
        ScriptedEngine.install(spark, 4000, engine);
    }

    @AfterEach
    void reset() {
        spark.conf().unset("spark.glm.model");
    }

    @AfterAll
    static void realEngineAgain() {
        ExecutorEngines.replaceLoaderForTesting(null);
    }

    /** A copy of the good dataset, and the path of its part file number {@code index} (sorted by name). */
    private static Path copyWithVictim(String name, int index) throws IOException {
        Path copy = dir.resolve(name);
        Files.createDirectories(copy);
        List<Path> parts;
        try (Stream<Path> files = Files.list(good)) {
            parts = files.filter(p -> p.getFileName().toString().startsWith("part-")).sorted().toList();
        }
        assertEquals(FILES, parts.size(), parts.toString());
        for (Path p : parts) Files.copy(p, copy.resolve(p.getFileName()));
        return copy.resolve(parts.get(index).getFileName());
    }

    /** The text column's chunk in the victim's second row group: [start, start + size). */
    private static long[] textChunk(Path victim) {
        var footer = ParquetInput.footer(victim.toString(), new Configuration());
        assertTrue(footer.getBlocks().size() >= 2, "the victim has several row groups: " + footer.getBlocks().size());
        BlockMetaData group = footer.getBlocks().get(1);
        ColumnChunkMetaData text = group.getColumns().stream().filter(c -> c.getPath().toDotString().equals("text"))
                .findFirst().orElseThrow();
        return new long[] {text.getStartingPos(), text.getTotalSize()};
    }

    /** Random bytes over the middle half of a data page area (the text chunk of row group 1); the footer stays valid. */
    private static Path garbledPage(String name) throws IOException {
        Path victim = copyWithVictim(name, 2);
        long[] chunk = textChunk(victim);
        byte[] noise = new byte[(int) (chunk[1] / 2)];
        new Random(13).nextBytes(noise);
        try (RandomAccessFile f = new RandomAccessFile(victim.toFile(), "rw")) {
            f.seek(chunk[0] + chunk[1] / 4);
            f.write(noise);
        }
        return victim;
    }

    /**
     * Eight bytes changed inside the text chunk of row group 1 (in its string values: the dictionary page's, past
     * its header): the pages still decode, to other strings. Only the pages' CRC checksums tell.
     */
    private static Path changedBytes(String name) throws IOException {
        Path victim = copyWithVictim(name, 0);
        long[] chunk = textChunk(victim);
        try (RandomAccessFile f = new RandomAccessFile(victim.toFile(), "rw")) {
            f.seek(chunk[0] + 200);
            f.write("XXXXXXXX".getBytes());
        }
        return victim;
    }

    /** The file cut in the middle of a data page (the text chunk of row group 1): no footer left. */
    private static Path truncatedInAPage(String name) throws IOException {
        Path victim = copyWithVictim(name, 1);
        long[] chunk = textChunk(victim);
        try (RandomAccessFile f = new RandomAccessFile(victim.toFile(), "rw")) {
            f.setLength(chunk[0] + chunk[1] / 2);
        }
        return victim;
    }

    /** The last 100 bytes gone: the footer (and its length and magic) cut. */
    private static Path choppedFooter(String name) throws IOException {
        Path victim = copyWithVictim(name, 3);
        try (RandomAccessFile f = new RandomAccessFile(victim.toFile(), "rw")) {
            f.setLength(f.length() - 100);
        }
        return victim;
    }

    /** Runs the query, which must fail naming the file, and reports how long it took and what it said. */
    private String assertFailsNamingTheFile(String what, Path victim, Supplier<List<Row>> query) {
        long start = System.nanoTime();
        Throwable e = assertThrows(Throwable.class, query::get, what + " returned rows from a corrupt dataset");
        double seconds = (System.nanoTime() - start) / 1e9;
        String chain = causes(e);
        System.out.printf("corrupt parquet: %s failed after %.2f s: %s%n", what, seconds, chain);
        assertTrue(chain.contains(victim.getFileName().toString()), what + ": the message names the file: " + chain);
        assertTrue(seconds < 30, what + " took " + seconds + " s");
        return chain;
    }

    private static String causes(Throwable e) {
        StringBuilder b = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) b.append(t).append(" | ");
        return b.toString().replace('\n', ' ');
    }

    private List<Row> glm(Path dataset, String task) {
        return spark.read().format("glm").option("textColumn", "text").option("task", task).option("batchSize", "4")
                .load(dataset.toString()).collectAsList();
    }

    private void allReadersFail(Path victim, String sourceSays) {
        Path dataset = victim.getParent();
        assertTrue(assertFailsNamingTheFile("format(glm) summarize", victim, () -> glm(dataset, "summarize")).contains(sourceSays));
        assertTrue(assertFailsNamingTheFile("format(glm) count_tokens", victim, () -> glm(dataset, "count_tokens")).contains(sourceSays));
        assertFailsNamingTheFile("glm_summarize over parquet.`dir`", victim,
                () -> spark.sql("SELECT id, glm_summarize(text) FROM parquet.`" + dataset + "`").collectAsList());
        assertFailsNamingTheFile("glm_count_tokens over spark.read().parquet", victim,
                () -> spark.read().parquet(dataset.toString()).selectExpr("id", "glm_count_tokens(text)").collectAsList());
        ScriptedEngine e = engine.get();
        if (e != null) {
            // rows submitted before the failure finish in the engine; nothing waits for them
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (e.inFlight.get() > 0 && System.nanoTime() < deadline) Thread.onSpinWait();
            assertEquals(0, e.inFlight.get(), "no row left in flight");
        }
    }

    @Test
    void theGoodDatasetReads() {
        assertEquals(FILES * ROWS_PER_FILE, glm(good, "count_tokens").size());
        assertEquals(FILES * ROWS_PER_FILE, spark.sql("SELECT glm_count_tokens(text) FROM parquet.`" + good + "`").count());
    }

    @Test
    void randomBytesInADataPage() throws IOException {
        allReadersFail(garbledPage("garbled"), ", row group 1 (corrupt or not a Parquet file)");
    }

    @Test
    void changedBytesInAPageFailTheSourceByTheirChecksum() throws IOException {
        Path victim = changedBytes("changed");
        Path dataset = victim.getParent();
        String says = assertFailsNamingTheFile("format(glm) count_tokens", victim, () -> glm(dataset, "count_tokens"));
        assertTrue(says.contains(", row group 1 (corrupt or not a Parquet file)") && says.contains("checksum"), says);
        assertFailsNamingTheFile("format(glm) summarize", victim, () -> glm(dataset, "summarize"));
        // Spark's own reader checks page checksums only when asked to; then it fails naming the file too
        long changed = spark.read().parquet(dataset.toString()).selectExpr("id", "text")
                .except(spark.read().parquet(good.toString())).count();
        System.out.println("corrupt parquet: Spark's reader without checksum verification read " + changed + " changed rows");
        assertFailsNamingTheFile("glm_count_tokens over spark.read().parquet, parquet.page.verify-checksum.enabled", victim,
                () -> spark.read().option("parquet.page.verify-checksum.enabled", "true").parquet(dataset.toString())
                        .selectExpr("id", "glm_count_tokens(text)").collectAsList());
    }

    @Test
    void fileCutInsideAPage() throws IOException {
        allReadersFail(truncatedInAPage("truncated"), "Cannot read the Parquet footer of");
    }

    @Test
    void choppedFooter() throws IOException {
        allReadersFail(choppedFooter("chopped"), "Cannot read the Parquet footer of");
    }
}
