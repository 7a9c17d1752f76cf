package io.sparkglm.spark.sql;

import static org.junit.jupiter.api.Assertions.*;

import io.sparkglm.spark.testing.LocalCluster;
import io.sparkglm.spark.testing.SharedSpark;
import io.sparkglm.testing.SharedFiles;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.LongStream;
import org.apache.spark.ExecutorLostFailure;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorAdded;
import org.apache.spark.scheduler.SparkListenerExecutorRemoved;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.api.java.UDF2;
import org.apache.spark.sql.types.DataTypes;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13: an executor JVM killed (SIGKILL) while its rows are in flight costs nothing but time. Two real
 * executor JVMs (local-cluster, two task slots each) run glm_generate_result over 48 documents in 8 partitions,
 * every row both greedy and with seeded sampling (spark.glm.temperature/seed), into Parquet (so Spark's commit
 * protocol is part of the test). The same job runs once undisturbed and once with one executor killed in the
 * middle of a task; the killed run must complete, hold every id exactly once and equal the undisturbed run row
 * for row (outputs are a pure function of model, input, options, seed). One job holds both modes, so that one
 * kill covers both and the test never waits for Spark to replace the killed executor.
 *
 * <p>How the kill lands mid-task, deterministically: the query passes every document through {@link Gate}, a
 * test UDF that returns it unchanged. In a disturbed run the first task attempt to reach its third row claims
 * the kill (an atomic directory creation in a temp folder shared by the driver and the executors, all on this
 * machine), names its executor JVM in a file ({@code victim-<pid>-<executorId>}, the pid from
 * {@link ProcessHandle#current()}) and parks. At that point the task has generated two rows into its
 * uncommitted Parquet file, and the executor's other task slot is normally in the middle of its rows. The
 * driver awaits that file (a {@link WatchService}: no polling of Spark state), checks the pid is a descendant of
 * this JVM (local-cluster's workers run in the driver JVM and start the executors as child processes, so nothing
 * else can be hit) and kills it with {@link ProcessHandle#destroyForcibly()} (SIGKILL). A {@link Listener} registered through
 * spark.extraListeners then has to see that executor removed and a task end with {@link ExecutorLostFailure}
 * on it: the test cannot pass without a kill that cost Spark a running task.
 */
@Order(Integer.MAX_VALUE) // last: it needs the JVM's one SparkContext and leaves no shared session behind
class ExecutorLossTest {

    private static final int DOCS = 48;
    private static final int PARTITIONS = 8;
    /** The disturbed task parks at this row (1-based) of its partition: the rows before it are done. */
    private static final int GATE_ROW = 3;
    /** Greedy (a per-call temperature 0) and seeded sampling (the session's spark.glm.temperature and seed) per row. */
    private static final String QUERY = "SELECT id, glm_generate_result(doc, map('temperature', '0')) AS greedy, "
            + "glm_generate_result(doc) AS sampled FROM (SELECT id, loss_gate(id, doc) AS doc FROM docs)";

    @TempDir
    Path tmp;

    @Test
    @Timeout(value = 240, unit = TimeUnit.SECONDS)
    void killedExecutorLosesNoRowAndChangesNoOutput() throws Exception {
        SharedSpark.stop(); // one SparkContext per JVM
        SparkSession.Builder builder = LocalCluster.builder("local-cluster[2,2,1024]", "spark-glm-executor-loss")
                .config("spark.extraListeners", Listener.class.getName())
                .config("spark.glm.model", SharedFiles.tinyQ8().toString())
                .config("spark.glm.maxNewTokens", "16")
                .config("spark.glm.maxContext", "256")
                .config("spark.glm.threads", "1")
                .config("spark.glm.temperature", "0.8")
                .config("spark.glm.seed", "1234");
        SparkSession spark = builder.getOrCreate();
        ExecutorService driverThreads = Executors.newSingleThreadExecutor();
        try {
            Listener listener = Listener.current;
            assertNotNull(listener, "spark.extraListeners instantiated the listener");
            String docs = RealEngineSqlTest.DOCS.stream().map(d -> "'" + d.replace("'", "''") + "'")
                    .reduce((a, b) -> a + ", " + b).orElseThrow();
            spark.sql("SELECT id, concat('Document ', id, '. ', element_at(array(" + docs + "), CAST(id % "
                    + RealEngineSqlTest.DOCS.size() + " + 1 AS INT))) AS doc FROM range(0, " + DOCS + ", 1, "
                    + PARTITIONS + ")").createOrReplaceTempView("docs");
            listener.awaitLive(2, 120);

            long started = System.nanoTime();
            List<Row> undisturbed = writeUndisturbed(spark, "undisturbed");
            long undisturbedDone = System.nanoTime();
            List<Row> killed = writeKillingOneExecutor(spark, listener, driverThreads, "killed");
            System.out.printf("ExecutorLossTest: undisturbed job %d ms, job with the kill %d ms, lost tasks %s%n",
                    (undisturbedDone - started) / 1_000_000, (System.nanoTime() - undisturbedDone) / 1_000_000, listener.lostTasks());

            List<Long> ids = LongStream.range(0, DOCS).boxed().toList();
            assertEquals(ids, undisturbed.stream().map(r -> r.getLong(0)).toList(), "undisturbed ids");
            assertEquals(ids, killed.stream().map(r -> r.getLong(0)).toList(), "every id exactly once after the kill");
            for (int i = 0; i < DOCS; i++) {
                for (int column = 1; column <= 2; column++) {
                    Row result = undisturbed.get(i).getStruct(column);
                    assertNull(result.getString(5), "row " + i + " column " + column + " failed");
                    assertTrue(result.getInt(3) > 0, "row " + i + " column " + column + " generated nothing");
                }
                assertEquals(undisturbed.get(i), killed.get(i), "row " + i + " (greedy and sampled) equals the undisturbed run's");
            }
            assertNotEquals(texts(undisturbed, 1), texts(undisturbed, 2), "the sampled column samples (it is not greedy again)");
        } finally {
            driverThreads.shutdownNow();
            LocalCluster.stop(spark);
        }
    }

    /** Runs the query into Parquet under tmp/name and reads it back ordered by id; the gate is not armed. */
    private List<Row> writeUndisturbed(SparkSession spark, String name) throws IOException {
        Path gateDir = Files.createDirectories(tmp.resolve(name + "-gate"));
        spark.udf().register("loss_gate", new Gate(gateDir.toString(), false), DataTypes.StringType);
        return writeAndRead(spark, tmp.resolve(name));
    }

    private static List<Row> writeAndRead(SparkSession spark, Path out) {
        spark.sql(QUERY).write().parquet(out.toString());
        assertTrue(Files.exists(out.resolve("_SUCCESS")), "the job committed " + out);
        return spark.read().parquet(out.toString()).orderBy("id").collectAsList();
    }

    /**
     * Runs the query with the gate armed, kills the executor whose task parked at the gate, and returns the
     * rows read back. Asserts that Spark lost that executor and a running task on it.
     */
    private List<Row> writeKillingOneExecutor(SparkSession spark, Listener listener, ExecutorService driverThreads, String name)
            throws Exception {
        Path gateDir = Files.createDirectories(tmp.resolve(name + "-gate"));
        Path out = tmp.resolve(name);
        spark.udf().register("loss_gate", new Gate(gateDir.toString(), true), DataTypes.StringType);
        try (WatchService watch = FileSystems.getDefault().newWatchService()) {
            gateDir.register(watch, StandardWatchEventKinds.ENTRY_CREATE);
            CompletableFuture<List<Row>> job = CompletableFuture.supplyAsync(() -> writeAndRead(spark, out), driverThreads);

            String victimFile = awaitVictim(gateDir, watch, job, 90);
            String[] parts = victimFile.split("-", 3); // victim-<pid>-<executorId>
            long pid = Long.parseLong(parts[1]);
            String executorId = parts[2];
            // Only ever a process this test's cluster started: local-cluster's workers live in this JVM.
            ProcessHandle victim = ProcessHandle.current().descendants().filter(p -> p.pid() == pid).findFirst()
                    .orElseThrow(() -> new AssertionError("pid " + pid + " (executor " + executorId + ") is not a child of this JVM"));
            assertTrue(victim.destroyForcibly(), "SIGKILL sent to executor " + executorId);
            victim.onExit().get(30, TimeUnit.SECONDS);
            assertFalse(victim.isAlive());

            List<Row> rows = job.get(120, TimeUnit.SECONDS);
            assertTrue(listener.awaitRemoved(executorId, 30), "Spark saw executor " + executorId + " go");
            assertTrue(listener.awaitLostTask(executorId, 30),
                    "a running task was lost with executor " + executorId + ": " + listener.lostTasks());
            return rows;
        }
    }

    /** The name of the victim-* file the parked task writes; fails when the job ends first or nothing comes. */
    private static String awaitVictim(Path dir, WatchService watch, CompletableFuture<?> job, int seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (true) {
            try (var files = Files.list(dir)) { // also covers a file created before the watch saw it
                var victim = files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("victim-")).findFirst();
                if (victim.isPresent()) return victim.get();
            }
            if (job.isDone()) {
                job.join(); // rethrows the job's failure, if any
                fail("the job finished before any task reached the gate");
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) throw new TimeoutException("no task reached the gate in " + seconds + " s");
            // Wakes on the next file created in dir; the bounded wait only lets a failed job be noticed.
            WatchKey key = watch.poll(Math.min(left, TimeUnit.SECONDS.toNanos(1)), TimeUnit.NANOSECONDS);
            if (key != null) {
                key.pollEvents();
                key.reset();
            }
        }
    }

    private static List<String> texts(List<Row> rows, int column) {
        return rows.stream().map(r -> r.getStruct(column).getString(0)).toList();
    }

    /**
     * loss_gate(id, doc): returns doc. Armed, it parks the first task attempt that reaches row {@link #GATE_ROW} of
     * its partition until its executor is killed, after naming that executor in {@code dir}. Runs on the executors.
     * Rows are counted by distinct id, in case Spark evaluates the call more than once per row.
     */
    public static final class Gate implements UDF2<Long, String, String> {

        /** Ids seen per task attempt in this executor JVM. */
        private static final Map<Long, Set<Long>> ROWS = new ConcurrentHashMap<>();

        private final String dir;
        private final boolean armed;

        Gate(String dir, boolean armed) {
            this.dir = dir;
            this.armed = armed;
        }

        @Override
        public String call(Long id, String doc) throws Exception {
            TaskContext task = TaskContext.get();
            if (!armed || task == null) return doc;
            Set<Long> seen = ROWS.computeIfAbsent(task.taskAttemptId(), t -> ConcurrentHashMap.newKeySet());
            if (!seen.add(id) || seen.size() != GATE_ROW) return doc;
            try {
                Files.createDirectory(Path.of(dir, "claim")); // atomic: exactly one task in the cluster gets it
            } catch (FileAlreadyExistsException taken) {
                return doc;
            }
            Files.createFile(Path.of(dir, "victim-" + ProcessHandle.current().pid() + "-" + SparkEnv.get().executorId()));
            // Park until SIGKILL ends this JVM. Never counted down: the bound only ends a test that failed to kill.
            if (!new CountDownLatch(1).await(120, TimeUnit.SECONDS)) {
                throw new IllegalStateException("loss_gate: executor " + SparkEnv.get().executorId() + " was not killed");
            }
            return doc;
        }
    }

    /** Executors added and removed, and tasks lost with their executor (registered through spark.extraListeners). */
    public static final class Listener extends SparkListener {

        static volatile Listener current;

        private final Set<String> live = new HashSet<>();
        private final List<String> removed = new ArrayList<>();
        private final List<String> lostTasks = new ArrayList<>();

        public Listener() {
            current = this;
        }

        @Override
        public synchronized void onExecutorAdded(SparkListenerExecutorAdded event) {
            live.add(event.executorId());
            notifyAll();
        }

        @Override
        public synchronized void onExecutorRemoved(SparkListenerExecutorRemoved event) {
            live.remove(event.executorId());
            removed.add(event.executorId());
            notifyAll();
        }

        @Override
        public synchronized void onTaskEnd(SparkListenerTaskEnd event) {
            if (event.reason() instanceof ExecutorLostFailure lost) {
                lostTasks.add(lost.execId() + ":stage " + event.stageId() + " task " + event.taskInfo().index());
                notifyAll();
            }
        }

        synchronized List<String> lostTasks() {
            return List.copyOf(lostTasks);
        }

        synchronized void awaitLive(int n, int seconds) throws InterruptedException, TimeoutException {
            if (!await(() -> live.size() >= n, seconds)) {
                throw new TimeoutException(n + " executors not up in " + seconds + " s: " + live);
            }
        }

        synchronized boolean awaitRemoved(String executorId, int seconds) throws InterruptedException {
            return await(() -> removed.contains(executorId), seconds);
        }

        synchronized boolean awaitLostTask(String executorId, int seconds) throws InterruptedException {
            return await(() -> lostTasks.stream().anyMatch(t -> t.startsWith(executorId + ":")), seconds);
        }

        private synchronized boolean await(java.util.function.BooleanSupplier condition, int seconds) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            while (!condition.getAsBoolean()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) return false;
                TimeUnit.NANOSECONDS.timedWait(this, left);
            }
            return true;
        }
    }
}
